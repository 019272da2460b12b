"""The HTTP layer under hubspot-api-client: limits, retries, auth and error mapping.

hubspot-api-client builds one generated `ApiClient` per API through an `api_factory` hook
(`DiscoveryBase._configure_api_client`). Our factory builds the same client the default one
would, turns urllib3's own retries off (`retries=False`: its Retry does not cover POST), and
replaces the `request` method *of that instance only* with `HubSpotTransport.send`, which:

- waits on the client-side limiter (burst bucket per 10 s; CRM search has its own per-second
  bucket and is exempt from the burst one); writes take the next free slot before reads, and the
  webhook fast path's calls (`ratelimit.fast_lane`) before both; on a PostgreSQL store every
  call also spends the portal's budget shared by all processes (`shared_budget`),
- counts the call into `usage` under a stable endpoint label,
- sets `Authorization` from `Credentials` and refreshes an expired OAuth token once on a 401,
- maps failures to `connectors.errors` and runs everything under the one tenacity policy
  (`connectors.http_policy.retrying`).

Nothing is patched globally. Generated API methods are called with `_preload_content=False`;
`send` reads the body inside the retry scope, so callers get a complete urllib3 response.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
import urllib3
from hubspot import HubSpot

from config.connections import Connection, HubSpotSettings
from connectors.base import ApiUsage
from connectors.errors import (
    ConnectorError,
    FatalError,
    QuotaExhaustedError,
    RateLimitedError,
    RetriableError,
    UnknownOutcomeError,
)
from connectors.http_policy import retrying
from connectors.hubspot.auth import Credentials
from connectors.ratelimit import RateLimiter
from connectors.shared_budget import SharedBudget
from connectors.timing import timed

TIER_BURST = {"free": 100, "starter": 100, "professional": 190, "enterprise": 190}
TOKEN_PATH = "/oauth/v1/token"
# numeric record ids and guids (a form's guid) are one label: usage counts stay few
_ID_SEGMENT = re.compile(r"/(?:\d+|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})(?=/|$)")
# Non-idempotent creates: an answer lost after sending leaves the outcome unknown.
_CREATE = re.compile(r"^/crm/v3/objects/[^/]+(/batch/create)?$")
# Reads sent as POST; any other call that is not a GET writes, and writes take slots first.
_READ_BY_POST = re.compile(r"/(search|batch/read)$")


class HubSpotRejected(ConnectorError):
    """HubSpot refused this request (4xx other than auth and limits). Not retried."""

    def __init__(self, message: str, *, connection: str, status: int, body: Any) -> None:
        super().__init__(message, connection=connection, status=status)
        self.body = body if isinstance(body, dict) else {}

    @property
    def category(self) -> str:
        return str(self.body.get("category", ""))


class _Expired(Exception):
    """A 401: refresh the OAuth token once, or fail with the fix."""


def endpoint_label(method: str, url: str) -> str:
    """'POST /crm/v3/objects/contacts/search'; numeric ids become {id}."""
    return f"{method} {_ID_SEGMENT.sub('/{id}', urlsplit(url).path)}"


def _body_of(raw: Any) -> Any:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class HubSpotTransport:
    """One per connection: the configured `HubSpot` client plus limits, usage and auth."""

    def __init__(
        self,
        connection: Connection,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_attempts: int = 6,
        max_wait: float = 60.0,
    ) -> None:
        settings = connection.hubspot
        if settings is None:
            raise FatalError("kind hubspot needs a 'hubspot:' section", connection=connection.name)
        self.settings: HubSpotSettings = settings
        self.name = connection.name
        self.usage = ApiUsage()
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._max_wait = max_wait
        burst = settings.requests_per_10s or TIER_BURST[settings.tier]
        # a margin of 2% (Professional: 187 of 190): stamps are settled at answer time (see
        # RateLimiter.settle), so the window is already at least as strict as the server's
        # rolling one; the margin covers a call still in flight when its stamp leaves the window
        # (was 5%: 181, which alone cost a window-bound pull 3% of its pace)
        window = max(1, burst - max(1, burst // 50))
        self.burst = RateLimiter(window, 10.0, clock=clock, sleep=sleep)
        # a few slots of each window are the webhook fast path's alone while one decides beside
        # the bulk run (`keep_fast_lane_slots`; connectors/ratelimit.py)
        self.fast_lane_slots = min(window - 1, window // 45)
        per_second = settings.search_per_second
        search_calls = max(1, int(per_second))
        # stamps are settled at answer time (see RateLimiter.settle); 50 ms covers the
        # server's millisecond clock granularity
        self.search = RateLimiter(
            search_calls, search_calls / per_second + 0.05, clock=clock, sleep=sleep
        )
        self.shared: dict[str, SharedBudget] = {}  # the portal's budget across processes
        self.credentials = Credentials(settings, connection.name)
        self.client = HubSpot(
            access_token=None,
            host=settings.base_url.rstrip("/"),
            ssl_ca_cert=str(settings.ca_file) if settings.ca_file else None,
            api_factory=self._api_factory,
        )
        tokens = self.client.oauth.tokens_api
        self.credentials.bind(lambda form: tokens.create(**form, _preload_content=False))

    def keep_fast_lane_slots(self) -> None:
        """A fast path decides beside the bulk run: keep its slots of each burst window."""
        self.burst.keep_for_fast_lane(self.fast_lane_slots)

    def share_budget(self, connect: Callable[[], Any]) -> None:
        """Spend the portal's buckets with every process on the same PostgreSQL store
        (connectors/shared_budget.py): replicas stay under HubSpot's limits together."""
        per_second = self.settings.search_per_second
        self.shared = {
            # our own window (3 under the server's), a slot taken just before each call is sent
            # and held from its answer once answered: 185 of 187 per 10.05 s for a bulk caller,
            # the last 2 for the fast lane
            "burst": SharedBudget(
                connect,
                f"hubspot/{self.name}/burst",
                limit=self.burst.max_calls,
                period=10.0,
                send_within=0.05,
                reserve=2,
            ),
            # the client's search window: 5 per 1.1 s
            "search": SharedBudget(
                connect,
                f"hubspot/{self.name}/search",
                limit=max(1, int(per_second)),
                period=1.0,
                send_within=0.1,
            ),
        }

    # --- the hook --------------------------------------------------------------------------------

    def _api_factory(self, package: Any, api_name: str, config: dict[str, Any]) -> Any:
        configuration = package.Configuration()
        for key, value in config.items():
            if key not in ("api_key", "retry", "access_token"):
                setattr(configuration, key, value)
        configuration.retries = False  # one retry policy: ours
        api_client = package.ApiClient(configuration=configuration)
        api_client.user_agent = "handoff (hubspot-api-client-python)"
        original = api_client.request

        def request(method: str, url: str, **kwargs: Any) -> Any:
            return self.send(original, method, url, **kwargs)

        api_client.request = request  # this instance only
        return getattr(package, api_name)(api_client=api_client)

    # --- one request -----------------------------------------------------------------------------

    def send(self, original: Callable[..., Any], method: str, url: str, **kwargs: Any) -> Any:
        label = endpoint_label(method, url)
        path = urlsplit(url).path
        is_token = path.endswith(TOKEN_PATH)
        safe = not (method == "POST" and _CREATE.match(path))
        refreshed = False
        while True:
            token = None if is_token else self.credentials.token()
            try:
                with timed("crm"):  # where a fast-path decision's seconds go (connectors/timing.py)
                    return retrying(
                        self._max_attempts, self._max_wait, usage=self.usage, sleep=self._sleep
                    )(self._once, original, method, url, label, safe, token, kwargs)
            except _Expired:
                if is_token:
                    raise self.credentials.refused() from None
                if refreshed or not self.credentials.can_refresh:
                    raise self.credentials.refused() from None
                self.credentials.refresh(stale=token)
                refreshed = True

    def _once(
        self,
        original: Callable[..., Any],
        method: str,
        url: str,
        label: str,
        safe: bool,
        token: str | None,
        kwargs: dict[str, Any],
    ) -> Any:
        self._check_daily()
        searching = label.endswith("/search")
        limiter = self.search if searching else self.burst
        shared = self.shared.get("search" if searching else "burst")
        path = urlsplit(url).path
        with timed("rate_limit"):
            stamp = limiter.acquire(first=method != "GET" and not _READ_BY_POST.search(path))
            granted = shared.take() if shared is not None else 0.0
        self.usage.count(label)
        headers = dict(kwargs.get("headers") or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        call = dict(kwargs, headers=headers)
        call["_request_timeout"] = kwargs.get("_request_timeout") or self.settings.timeout_seconds
        try:
            try:
                response = original(method, url, **call)
                # Read and parse inside the retry scope; read_json reuses the parsed body.
                response.handoff_json = _parse_json(response.data, label, safe, self.name)
                headers = getattr(response, "headers", None) or {}
                self.usage.observe_quota(  # sent on non-search responses (changelog 2018-11-06)
                    headers.get("X-HubSpot-RateLimit-Daily"),
                    headers.get("X-HubSpot-RateLimit-Daily-Remaining"),
                )
                return response
            finally:
                limiter.settle(stamp)
                if shared is not None:
                    shared.settle(granted)
        except urllib3.exceptions.HTTPError as exc:
            raise self._network(exc, label, safe) from None
        except Exception as exc:
            status = getattr(exc, "status", None)
            if status is None:
                raise
            error = self._classify(
                int(status), _body_of(getattr(exc, "body", b"")), exc, label, safe
            )
            if isinstance(error, RateLimitedError) and error.retry_after:
                limiter.penalise(error.retry_after)  # other threads hold off too
                if shared is not None:  # and other processes
                    shared.penalise(error.retry_after)
            raise error from None

    def _check_daily(self) -> None:
        limit = self.settings.daily_limit
        if limit is not None and self.usage.total >= limit:
            raise QuotaExhaustedError(
                f"configured daily_limit of {limit} calls reached; the run resumes tomorrow",
                connection=self.name,
            )

    def _network(self, exc: Exception, label: str, safe: bool) -> ConnectorError:
        kind = type(exc).__name__
        never_sent = isinstance(
            exc, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
        )
        if safe or never_sent:
            return RetriableError(f"{label}: {kind}", connection=self.name)
        return UnknownOutcomeError(
            f"{label}: {kind} after sending; look the record up before resending",
            connection=self.name,
        )

    def _classify(
        self, status: int, body: Any, exc: Exception, label: str, safe: bool
    ) -> Exception:
        body = body if isinstance(body, dict) else {}
        message = str(body.get("message", ""))[:300]
        category = str(body.get("category", ""))
        headers = getattr(exc, "headers", None)
        if status == 0:
            return FatalError(
                f"{label}: cannot reach HubSpot over TLS: check connections[].hubspot.base_url "
                "and ca_file",
                connection=self.name,
            )
        if status == 401:
            return _Expired()
        if status == 403:
            named = list(body.get("context", {}).get("missingScopes", []) or [])
            for detail in body.get("errors") or []:  # MISSING_SCOPES: errors[].context
                named += (detail.get("context") or {}).get("requiredScopes") or []
            scopes = ", ".join(dict.fromkeys(str(s) for s in named))
            hint = f"; grant scopes: {scopes}" if scopes else "; check the app's scopes and tier"
            return FatalError(
                f"{label}: HubSpot refused access (403 {category}): {message}{hint}",
                connection=self.name,
                status=403,
            )
        if status == 429:
            policy = str(body.get("policyName", ""))
            if policy.upper() == "DAILY":
                return QuotaExhaustedError(
                    f"HubSpot daily API limit reached ({message or 'DAILY'}); the run resumes "
                    "after midnight in the portal's time zone",
                    connection=self.name,
                    status=429,
                )
            return RateLimitedError(
                f"{label}: throttled ({policy or 'rate limit'})",
                connection=self.name,
                status=429,
                retry_after=_retry_after(headers),
            )
        if status >= 500 or status in (423, 477):
            if not safe and status in (500, 502, 504):
                return UnknownOutcomeError(
                    f"{label}: {status} after sending; look the record up before resending",
                    connection=self.name,
                    status=status,
                )
            return RetriableError(
                f"{label}: HubSpot answered {status}",
                connection=self.name,
                status=status,
                retry_after=_retry_after(headers),
            )
        return HubSpotRejected(
            f"{label}: {status} {category}: {message}",
            connection=self.name,
            status=status,
            body=body,
        )

    def close(self) -> None:
        return None


def _parse_json(data: bytes | None, label: str, safe: bool, connection: str) -> Any:
    """The parsed body. A 2xx whose JSON is cut short is transient: retried, or (after a create
    whose outcome is now unknown) looked up before any resend."""
    if not data:
        return {}
    try:
        return orjson.loads(data)
    except ValueError:  # orjson.JSONDecodeError is a ValueError
        message = f"{label}: the response body was not valid JSON (truncated?)"
        if safe:
            raise RetriableError(message, connection=connection) from None
        raise UnknownOutcomeError(message, connection=connection) from None


def read_json(response: Any) -> Any:
    """The parsed JSON body of a raw response returned by a generated API method (parsed once,
    in the transport)."""
    parsed = getattr(response, "handoff_json", None)
    if parsed is not None:
        return parsed
    data = response.data
    return orjson.loads(data) if data else {}
