"""The HTTP layer simple-salesforce talks through: limits, retries, budget and session refresh.

`GuardedSession` is the `requests.Session` handed to `simple_salesforce.Salesforce`. Every call
the library makes goes through `request()`, which

- refuses to start when the daily API budget is down to the configured reserve
  (`QuotaExhaustedError`: stop cleanly, resume next run),
- waits on the client-side `RateLimiter`,
- sets the current bearer token (so a refreshed session applies to every later call),
- classifies the answer into `connectors.errors` (5xx, 429, timeouts and resets are
  `RetriableError`; 403 `REQUEST_LIMIT_EXCEEDED` "TotalRequests" is `QuotaExhaustedError`;
  a revoked credential is `AuthError`) and retries through the one tenacity policy,
- refreshes an expired session (401 `INVALID_SESSION_ID`) once when the auth can log in again,
- counts every call per endpoint into `ApiUsage`.

A POST is not idempotent (it creates records): when its outcome is ambiguous (timeout, reset,
500/502/504, truncated body) it is never resent blindly but surfaces as `UnknownOutcomeError`,
so the caller can look up what was created before resending. Answers that prove the request was
not processed (429, 503, concurrency limit) are retried for every method.

Messages are built from status and error codes only: a token never reaches a log or exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity

from connectors.base import ApiUsage
from connectors.errors import (
    AuthError,
    QuotaExhaustedError,
    RateLimitedError,
    RetriableError,
    UnknownOutcomeError,
)
from connectors.http_policy import retrying
from connectors.ratelimit import RateLimiter
from connectors.timing import timed

_API_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
_DATA_PATH = re.compile(r"^/services/data/v[\d.]+/(.*)$")
_AMBIGUOUS_STATUSES = frozenset({500, 502, 504})
_NOT_PROCESSED_STATUSES = frozenset({503})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PATCH", "PUT", "DELETE"})
_LOGINS = frozenset({"oauth2/token", "soap/login"})  # repeatable POSTs, no bearer, no budget


def endpoint_label(url: str) -> str:
    """A short, stable name for the endpoint behind `url` (used in `ApiUsage.calls`)."""
    path = urlsplit(url).path
    if path.startswith("/services/oauth2/"):
        return "oauth2/" + path.rsplit("/", 1)[-1]
    if path.startswith("/services/Soap/u/"):
        return "soap/login"
    match = _DATA_PATH.match(path)
    rest = match.group(1).strip("/") if match else path.strip("/")
    parts = rest.split("/")
    head = parts[0]
    if head in ("query", "queryAll"):
        return head
    if head == "composite":
        return "/".join(parts[:2])
    if head == "sobjects":
        if len(parts) >= 3 and parts[2] == "describe":
            return "describe"
        return "sobjects"
    if head == "jobs":
        return "/".join(parts[:2])
    return head or "versions"


def _error_codes(response: requests.Response) -> tuple[str, str]:
    """(errorCode, message) of a Salesforce error array, or ("", "") when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        return str(body[0].get("errorCode", "")), str(body[0].get("message", ""))[:300]
    if isinstance(body, Mapping):
        return str(body.get("errorCode") or body.get("error") or ""), str(
            body.get("message") or body.get("error_description") or ""
        )[:300]
    return "", ""


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


@dataclass
class DailyBudget:
    """The org's rolling-24h API allocation as last reported in `Sforce-Limit-Info`."""

    reserve: float
    used: int | None = None
    limit: int | None = None

    def observe(self, header: str | None) -> None:
        if not header:
            return
        match = _API_USAGE.search(header)
        if match:
            self.used, self.limit = int(match.group(1)), int(match.group(2))

    @property
    def left_share(self) -> float | None:
        if self.used is None or not self.limit:
            return None
        return max(self.limit - self.used, 0) / self.limit

    def check(self, connection: str) -> None:
        share = self.left_share
        if share is not None and share < self.reserve:
            raise QuotaExhaustedError(
                f"Salesforce daily API budget at the reserve: {self.used} of {self.limit} calls "
                f"used and salesforce.daily_budget_reserve keeps {self.reserve:.0%}; stopping "
                f"cleanly, the next run resumes from the saved cursor",
                connection=connection,
                status=None,
            )


class TokenSource:
    """Where the bearer token comes from; subclasses in `connectors.salesforce.auth` log in."""

    token: str = ""
    can_refresh: bool = False
    expired_fix: str = ""

    def refresh(self, session: GuardedSession) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class _Unretried(Exception):
    """Carries an `UnknownOutcomeError` past the retry policy (never resend a POST blindly)."""

    def __init__(self, error: UnknownOutcomeError) -> None:
        super().__init__(str(error))
        self.error = error


class GuardedSession(requests.Session):
    """A `requests.Session` that applies Handoff's limits and retry policy to each call."""

    def __init__(
        self,
        *,
        connection: str,
        usage: ApiUsage,
        limiter: RateLimiter,
        budget: DailyBudget,
        timeout: float,
        ca_file: str | None = None,
        policy: Callable[[ApiUsage], tenacity.Retrying] | None = None,
    ) -> None:
        super().__init__()
        self.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override `verify`
        if ca_file:
            self.verify = ca_file
        self.connection = connection
        self.usage = usage
        self.limiter = limiter
        self.budget = budget
        self.timeout = timeout
        self.tokens: TokenSource | None = None
        self._policy = policy or (lambda usage: retrying(usage=usage))

    # --- the hook simple-salesforce calls ---------------------------------------------------

    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        method = method.upper()
        label = endpoint_label(url)
        safe = method in _SAFE_METHODS or label in _LOGINS

        def attempt() -> requests.Response:
            try:
                return self._once(method, url, label, safe, args, kwargs)
            except UnknownOutcomeError as exc:
                raise _Unretried(exc) from exc

        try:
            with timed("crm"):
                response: requests.Response = self._policy(self.usage)(attempt)
        except _Unretried as carrier:
            raise carrier.error from None
        return response

    def token_request(self, url: str, data: Mapping[str, str]) -> requests.Response:
        """POST to the OAuth token endpoint (no bearer, no budget check), retried when transient."""
        label = endpoint_label(url)

        def attempt() -> requests.Response:
            self.limiter.acquire()
            self.usage.count(label)
            try:
                response = super(GuardedSession, self).request(
                    "POST", url, data=dict(data), timeout=self.timeout
                )
            except requests.RequestException as exc:
                raise RetriableError(
                    f"Salesforce login: {type(exc).__name__} talking to {urlsplit(url).netloc}",
                    connection=self.connection,
                ) from None
            if response.status_code == 429 or response.status_code >= 500:
                raise RetriableError(
                    f"Salesforce login: HTTP {response.status_code}",
                    connection=self.connection,
                    status=response.status_code,
                    retry_after=_retry_after(response),
                )
            return response

        result: requests.Response = self._policy(self.usage)(attempt)
        return result

    # --- one attempt --------------------------------------------------------------------------

    def _send(
        self, method: str, url: str, label: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.tokens is not None and self.tokens.token and label not in _LOGINS:
            headers["Authorization"] = f"Bearer {self.tokens.token}"
        kwargs["headers"] = headers
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)

    def _once(
        self,
        method: str,
        url: str,
        label: str,
        safe: bool,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> requests.Response:
        refreshed = False
        while True:
            if label not in _LOGINS:
                self.budget.check(self.connection)
            with timed("rate_limit"):
                self.limiter.acquire()
            self.usage.count(label)
            try:
                response = self._send(method, url, label, args, dict(kwargs))
            except requests.ConnectTimeout:
                raise RetriableError(
                    f"Salesforce {label}: connect timeout", connection=self.connection
                ) from None
            except (requests.Timeout, requests.ConnectionError) as exc:
                message = f"Salesforce {label}: {type(exc).__name__} (no answer)"
                if safe:
                    raise RetriableError(message, connection=self.connection) from None
                raise UnknownOutcomeError(message, connection=self.connection) from None
            self.budget.observe(response.headers.get("Sforce-Limit-Info"))
            if self.budget.limit is not None and self.budget.used is not None:
                self.usage.observe_quota(self.budget.limit, self.budget.limit - self.budget.used)
            status = response.status_code
            if status == 401 and not refreshed and self._expired(response):
                self._refresh()
                refreshed = True
                continue
            if status == 401:
                self._auth_failed(response)
            self._classify(response, label, safe)
            return response

    def _expired(self, response: requests.Response) -> bool:
        code, _ = _error_codes(response)
        return code == "INVALID_SESSION_ID"

    def _refresh(self) -> None:
        if self.tokens is None or not self.tokens.can_refresh:
            fix = self.tokens.expired_fix if self.tokens else ""
            raise AuthError(
                f"Salesforce refused the session (401 INVALID_SESSION_ID): it expired or was "
                f"revoked. {fix}".strip(),
                connection=self.connection,
                status=401,
            )
        self.tokens.refresh(self)

    def _auth_failed(self, response: requests.Response) -> None:
        code, message = _error_codes(response)
        raise AuthError(
            f"Salesforce refused the credentials again after logging in (401 {code or ''}"
            f"{': ' + message if message else ''}): check the user is active and the connected "
            f"app still authorises it",
            connection=self.connection,
            status=401,
        )

    def _classify(self, response: requests.Response, label: str, safe: bool) -> None:
        status = response.status_code
        if (
            label == "soap/login"
            and status == 500
            and "xml" in response.headers.get("Content-Type", "")
        ):
            return  # a SOAP fault (INVALID_LOGIN ...): simple-salesforce reads it
        if status == 403:
            code, message = _error_codes(response)
            if code == "REQUEST_LIMIT_EXCEEDED":
                if "TotalRequests" in message or "concurrent" not in message.lower():
                    raise QuotaExhaustedError(
                        f"Salesforce daily API allocation exhausted (403 REQUEST_LIMIT_EXCEEDED: "
                        f"{message}); stopping cleanly, the next run resumes from the saved cursor",
                        connection=self.connection,
                        status=403,
                    )
                raise RateLimitedError(
                    f"Salesforce {label}: concurrent request limit ({message})",
                    connection=self.connection,
                    status=403,
                    retry_after=_retry_after(response),
                )
            return
        if status == 429:
            raise RateLimitedError(
                f"Salesforce {label}: HTTP 429",
                connection=self.connection,
                status=429,
                retry_after=_retry_after(response),
            )
        if status in _NOT_PROCESSED_STATUSES or (safe and status in _AMBIGUOUS_STATUSES):
            raise RetriableError(
                f"Salesforce {label}: HTTP {status}",
                connection=self.connection,
                status=status,
                retry_after=_retry_after(response),
            )
        if status in _AMBIGUOUS_STATUSES:
            raise UnknownOutcomeError(
                f"Salesforce {label}: HTTP {status} after sending a create",
                connection=self.connection,
                status=status,
            )
        json_body = "json" in response.headers.get("Content-Type", "").lower()
        if 200 <= status < 300 and response.content and json_body:
            self._check_body(response, label, safe)

    def _check_body(self, response: requests.Response, label: str, safe: bool) -> None:
        """A 2xx with a truncated JSON body is a transient fault; parse once and keep the result."""
        try:
            parsed = json.loads(response.content)
        except ValueError:
            message = f"Salesforce {label}: malformed JSON in a {response.status_code} answer"
            if safe:
                raise RetriableError(message, connection=self.connection) from None
            raise UnknownOutcomeError(message, connection=self.connection) from None
        response.json = lambda **_: parsed  # type: ignore[method-assign]
