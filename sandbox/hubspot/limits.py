"""API limits and access tokens (crm-api-notes §4).

- Rolling 10-second burst per app: free/starter 100, professional/enterprise 190.
- Daily cap per account (free/starter 250,000; professional 625,000; enterprise 1,000,000).
- CRM search: 5 requests/second per account, exempt from the ten-secondly bucket
  (`x-hubspot-rate-limit-exemptions: ["ten-secondly"]`), no rate headers on its responses.
- 429 body `{status, message, errorType: "RATE_LIMIT", correlationId, policyName, requestId}`.
"""

from __future__ import annotations

import secrets
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

BURST_BY_TIER = {"free": 100, "starter": 100, "professional": 190, "enterprise": 190}
DAILY_BY_TIER = {
    "free": 250_000,
    "starter": 250_000,
    "professional": 625_000,
    "enterprise": 1_000_000,
}
WINDOW_MS = 10_000
DAY_MS = 86_400_000


def rate_limit_body(policy: str, message: str) -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
        "requestId": str(uuid.uuid4()),
    }


@dataclass
class RateLimits:
    tier: str = "professional"
    enabled: bool = True
    burst: int | None = None  # None: the tier's figure
    daily: int | None = None
    search_per_second: int = 5
    _window: deque[int] = field(default_factory=deque)
    _search: deque[int] = field(default_factory=deque)
    _day: int = -1
    _day_count: int = 0

    def __post_init__(self) -> None:
        if self.tier not in BURST_BY_TIER:
            raise ValueError(
                f"unknown HubSpot tier {self.tier!r}: use one of {sorted(BURST_BY_TIER)}"
            )

    @property
    def burst_max(self) -> int:
        return self.burst or BURST_BY_TIER[self.tier]

    @property
    def daily_max(self) -> int:
        return self.daily or DAILY_BY_TIER[self.tier]

    def _roll_day(self, now_ms: int) -> None:
        day = now_ms // DAY_MS  # daily limit resets at midnight (account time zone: UTC here)
        if day != self._day:
            self._day, self._day_count = day, 0

    def admit(self, now_ms: int, *, search: bool) -> dict[str, Any] | None:
        """Count one request; return a 429 body when a policy refuses it."""
        if not self.enabled:
            return None
        self._roll_day(now_ms)
        if self._day_count >= self.daily_max:
            return rate_limit_body("DAILY", "You have reached your daily limit.")
        if search:
            while self._search and self._search[0] <= now_ms - 1000:
                self._search.popleft()
            if len(self._search) >= self.search_per_second:
                return rate_limit_body("SECONDLY", "You have reached your secondly limit.")
            self._search.append(now_ms)
        else:
            while self._window and self._window[0] <= now_ms - WINDOW_MS:
                self._window.popleft()
            if len(self._window) >= self.burst_max:
                return rate_limit_body(
                    "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."
                )
            self._window.append(now_ms)
        self._day_count += 1
        return None

    def headers(self, now_ms: int) -> dict[str, str]:
        """X-HubSpot-RateLimit-* headers for non-search responses."""
        self._roll_day(now_ms)
        while self._window and self._window[0] <= now_ms - WINDOW_MS:
            self._window.popleft()
        return {
            "X-HubSpot-RateLimit-Max": str(self.burst_max),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.burst_max - len(self._window))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(WINDOW_MS),
            "X-HubSpot-RateLimit-Daily": str(self.daily_max),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily_max - self._day_count)),
        }

    def retry_after_seconds(self, now_ms: int, policy: str) -> float:
        if policy == "SECONDLY" and self._search:
            return max(0.0, (self._search[0] + 1000 - now_ms) / 1000)
        if policy == "TEN_SECONDLY_ROLLING" and self._window:
            return max(0.0, (self._window[0] + WINDOW_MS - now_ms) / 1000)
        return float((self._day + 1) * DAY_MS - now_ms) / 1000


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    refresh_token: str


@dataclass
class AccessTokens:
    """Private-app tokens (no expiry) and OAuth access tokens issued by `/oauth/v1/token`."""

    expiry_ms: dict[str, int | None] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    apps: dict[str, OAuthApp] = field(default_factory=dict)
    oauth_ttl_seconds: int = 1800

    def allow(self, token: str, *, expires_ms: int | None = None) -> None:
        self.expiry_ms[token] = expires_ms
        self.revoked.discard(token)

    def problem(self, header: str | None, now_ms: int) -> str | None:
        """Why a request's Authorization header is refused, or None when it is fine."""
        if not header or not header.startswith("Bearer "):
            return (
                "Authentication credentials not found. This API supports OAuth 2.0 authentication."
            )
        token = header[len("Bearer ") :].strip()
        if token in self.revoked:
            return "The OAuth token used to make this call has been revoked."
        if token not in self.expiry_ms:
            return "Authentication credentials not found or invalid. Check the access token."
        expires = self.expiry_ms[token]
        if expires is not None and now_ms >= expires:
            return "The OAuth token used to make this call expired."
        return None

    def refresh(self, form: dict[str, str], now_ms: int) -> tuple[int, dict[str, Any]]:
        """`POST /oauth/v1/token` with grant_type=refresh_token."""
        if form.get("grant_type") != "refresh_token":
            return 400, {"status": "BAD_GRANT_TYPE", "message": "grant_type must be refresh_token"}
        app = self.apps.get(form.get("client_id", ""))
        if app is None or app.client_secret != form.get("client_secret"):
            return 400, {
                "status": "BAD_CLIENT_ID",
                "message": "missing or unknown client id/secret",
            }
        if form.get("refresh_token") != app.refresh_token:
            return 400, {
                "status": "BAD_REFRESH_TOKEN",
                "message": "missing or unknown refresh token",
            }
        token = "sandbox-oauth-" + secrets.token_hex(12)
        self.allow(token, expires_ms=now_ms + self.oauth_ttl_seconds * 1000)
        return 200, {
            "access_token": token,
            "refresh_token": app.refresh_token,
            "expires_in": self.oauth_ttl_seconds,
            "token_type": "bearer",
        }
