"""`HubSpotEmulator`: routes HubSpot API requests to handlers, with auth, limits and faults.

Serve it with `SandboxServer(emulator.handle, ca)`. Paths are the v3/v4 ones hubspot-api-client
v12 calls (crm-api-notes §1-5). Errors are `{status: "error", message, category,
correlationId, errors?, context?}`; 401 INVALID_AUTHENTICATION; 429 RATE_LIMIT bodies with
`policyName`; `X-HubSpot-RateLimit-*` headers on every non-search response.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

from sandbox.faults import Faults, RequestLog
from sandbox.hubspot import timeline_api
from sandbox.hubspot.context import Ctx, Handler, Knobs
from sandbox.hubspot.limits import AccessTokens, OAuthApp, RateLimits, rate_limit_body
from sandbox.hubspot.loader import load_portal, record_activity
from sandbox.hubspot.routes import ROUTES, UNAUTHENTICATED
from sandbox.hubspot.schema import ms_of
from sandbox.hubspot.store import PortalStore
from sandbox.hubspot.webhooks import WebhookApp, observer_for
from sandbox.hubspot.wire import ApiError, not_found_body
from sandbox.portal import Portal, PortalActivity
from sandbox.server import SandboxRequest, SandboxResponse


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class HubSpotEmulator:
    """A HubSpot portal over HTTP(S), faithful enough for hubspot-api-client v12."""

    def __init__(
        self,
        portal: Portal,
        *,
        token: str,
        tier: str | None = None,
        limits_enabled: bool = True,
        faults: Faults | None = None,
        clock: Callable[[], datetime] | None = None,
        custom_properties: bool = True,
        portal_id: int = 24_681_357,
        daily_limit: int | None = None,
    ) -> None:
        self.clock = clock or _wall_clock
        self.portal_id = portal_id
        self.faults = faults
        self.log = RequestLog()
        self.knobs = Knobs()
        # the portal's subscription: the argument, else the fixture's `tier:`, else professional
        tier = tier or portal.tier or "professional"
        self.limits = RateLimits(tier=tier, enabled=limits_enabled, daily=daily_limit)
        self.tokens = AccessTokens()
        self.tokens.allow(token)
        self.store = PortalStore()
        now_ms = self._now_ms()
        if custom_properties:
            self.store.add_custom_properties(now_ms)
        self.ids = load_portal(self.store, portal, portal_id=portal_id, now_ms=now_ms)
        self._lock = threading.RLock()
        self.webhooks: WebhookApp | None = None
        self._fault_rng = random.Random(faults.seed if faults else 0)

    # -- run-time knobs ---------------------------------------------------------------------
    @property
    def limits_enabled(self) -> bool:
        return self.limits.enabled

    @limits_enabled.setter
    def limits_enabled(self, value: bool) -> None:
        self.limits.enabled = value

    @property
    def tier(self) -> str:
        return self.limits.tier

    @tier.setter
    def tier(self, value: str) -> None:
        self.limits = RateLimits(tier=value, enabled=self.limits.enabled, daily=self.limits.daily)

    @property
    def daily_limit(self) -> int:
        return self.limits.daily_max

    @daily_limit.setter
    def daily_limit(self, value: int | None) -> None:
        self.limits.daily = value

    @property
    def search_lag_seconds(self) -> float:
        return self.knobs.search_lag_seconds

    @search_lag_seconds.setter
    def search_lag_seconds(self, value: float) -> None:
        self.knobs.search_lag_seconds = value

    @property
    def batch_all_or_nothing(self) -> bool:
        return self.knobs.batch_all_or_nothing

    @batch_all_or_nothing.setter
    def batch_all_or_nothing(self, value: bool) -> None:
        self.knobs.batch_all_or_nothing = value

    @property
    def search_result_cap(self) -> int:
        return self.knobs.search.result_cap

    @search_result_cap.setter
    def search_result_cap(self, value: int) -> None:
        self.knobs.search.result_cap = value

    def allow_token(self, token: str, *, expires_at: datetime | None = None) -> None:
        self.tokens.allow(token, expires_ms=ms_of(expires_at) if expires_at else None)

    def expire_token(self, token: str) -> None:
        self.tokens.expiry_ms[token] = self._now_ms()

    def revoke_token(self, token: str) -> None:
        self.tokens.revoked.add(token)

    def register_oauth_app(
        self, client_id: str, client_secret: str, refresh_token: str, *, ttl_seconds: int = 1800
    ) -> None:
        self.tokens.apps[client_id] = OAuthApp(client_id, client_secret, refresh_token)
        self.tokens.oauth_ttl_seconds = ttl_seconds

    def enable_webhooks(self, target_url: str, secret: str, **options: Any) -> WebhookApp:
        """Deliver the app's contact webhooks to `target_url`, signed with `secret`."""
        app = WebhookApp(target_url, secret, portal_id=self.portal_id, **options)
        with self._lock:
            self.store.observer = observer_for(app, self._now_ms)
        self.webhooks = app
        return app

    def disable_webhooks(self) -> None:
        with self._lock:
            self.store.observer = None
        if self.webhooks is not None:
            self.webhooks.close()
            self.webhooks = None

    # -- direct state access for tests ------------------------------------------------------
    def contact_id(self, person_id: str) -> str:
        return str(self.ids["people"][person_id])

    def owner_id(self, portal_owner_id: str) -> str:
        return str(self.ids["owners"][portal_owner_id])

    def contact(self, contact_id: str) -> dict[str, str | None]:
        """All properties of a contact as the API would show them (merged ids follow)."""
        with self._lock:
            obj = self.store.lookup("contacts", contact_id) or self.store.lookup(
                "contacts", contact_id, archived=True
            )
            if obj is None:
                raise KeyError(contact_id)
            names = set(obj.properties) | {"hs_object_id", "createdate", "lastmodifieddate"}
            return {name: obj.value(name) for name in sorted(names)}

    def update_contact(self, contact_id: str, properties: dict[str, str]) -> None:
        """A human edit in the HubSpot UI: writes as given (no forward-only rule), bumps the record."""
        with self._lock:
            obj = self.store.lookup("contacts", contact_id)
            if obj is None:
                raise KeyError(contact_id)
            forward_only = self.store.lifecycle_forward_only
            self.store.lifecycle_forward_only = False
            try:
                self.store.apply(obj, {k: str(v) for k, v in properties.items()}, self._now_ms())
            finally:
                self.store.lifecycle_forward_only = forward_only

    def merge_contacts(self, primary_id: str, secondary_id: str) -> None:
        with self._lock:
            primary = self.store.lookup("contacts", primary_id)
            secondary = self.store.lookup("contacts", secondary_id)
            if primary is None or secondary is None:
                raise KeyError(primary_id if primary is None else secondary_id)
            self.store.merge(primary, secondary, self._now_ms())

    def archive_contact(self, contact_id: str) -> None:
        with self._lock:
            obj = self.store.lookup("contacts", contact_id)
            if obj is None:
                raise KeyError(contact_id)
            self.store.archive(obj, self._now_ms())

    def add_activity(
        self,
        contact_id: str,
        kind: str,
        occurred_at: datetime,
        *,
        properties: dict[str, str] | None = None,
        owner_id: str | None = None,
    ) -> str:
        """Log a web event or engagement (ActivityKind value) and bump the contact's rollups."""
        with self._lock:
            contact = self.store.lookup("contacts", contact_id)
            if contact is None:
                raise KeyError(contact_id)
            activity = PortalActivity("", "", str(kind), occurred_at, None, dict(properties or {}))
            owners = {owner_id: owner_id} if owner_id else {}
            now_ms = self._now_ms()
            ident = record_activity(
                self.store,
                contact,
                activity,
                portal_id=self.portal_id,
                owners=owners,
                logged_ms=now_ms,
            )
            self.store.touch(contact, now_ms)
            return ident

    def summary(self) -> dict[str, int]:
        """What the portal holds now, as counts (for `handoff demo` and drills)."""
        counts: Counter[str] = Counter()
        with self._lock:
            for obj in self.store.objects["contacts"].values():
                if obj.archived or obj.merged_into is not None:
                    continue
                props = obj.properties
                counts["contacts"] += 1
                counts[f"contacts in stage {props.get('lifecyclestage') or '(none)'}"] += 1
                counts["contacts with an owner"] += bool(props.get("hubspot_owner_id"))
                counts["contacts scored by Handoff"] += bool(props.get("handoff_score"))
            for obj in self.store.objects["tasks"].values():
                if obj.archived:
                    continue
                counts["open tasks"] += obj.properties.get("hs_task_status") != "COMPLETED"
                counts["tasks created by Handoff"] += bool(obj.properties.get("handoff_task_key"))
        return dict(counts)

    # -- HTTP ---------------------------------------------------------------------------------
    def _now_ms(self) -> int:
        return ms_of(self.clock())

    def handle(self, request: SandboxRequest) -> SandboxResponse:
        label, handler, params = self._route(request)
        fault = self.faults.roll() if self.faults else None
        hang = (self.faults.latency_ms / 1000) if self.faults else 0.0
        response = self._fault_response(fault) if fault not in (None, "malformed") else None
        if response is None:
            response = self._respond(request, label, handler, params)
            if fault == "malformed" and response.body:
                response.body = response.body[: max(1, len(response.body) // 2)]
        response.hang_seconds = max(response.hang_seconds, hang)
        response.endpoint = label
        self.log.record(label, response.status)
        return response

    def _route(self, request: SandboxRequest) -> tuple[str, Handler, dict[str, str]]:
        if request.method == "POST" and request.path == "/oauth/v1/token":
            return "oauth.token", self._oauth, {}
        for method, pattern, label, handler in ROUTES:
            if method != request.method:
                continue
            found = pattern.match(request.path)
            if found:
                # Path segments arrive percent-encoded (an email as idProperty: %40); HubSpot
                # decodes them before looking the record up.
                params = {name: unquote(value) for name, value in found.groupdict().items()}
                return label.format(**params), handler, params
        return "unknown", timeline_api.not_routed, {}

    def _fault_response(self, fault: str | None) -> SandboxResponse:
        assert self.faults is not None
        if fault == "reset":
            return SandboxResponse(0, reset=True)
        if fault == "timeout":
            # The client gives up first; should it wait, it sees a gateway timeout.
            body = self._error(504, "GATEWAY_TIMEOUT", "Upstream timed out (sandbox fault).")
            response = SandboxResponse.json(504, body)
            response.hang_seconds = self.faults.timeout_seconds
            return response
        if fault == "throttle":
            body = rate_limit_body(
                "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."
            )
            return SandboxResponse.json(
                429, body, {"Retry-After": f"{self.faults.retry_after():.0f}"}
            )
        status = self._fault_rng.choice((500, 502, 503))
        return SandboxResponse.json(
            status, self._error(status, "INTERNAL_ERROR", "Internal error (sandbox fault).")
        )

    @staticmethod
    def _error(status: int, category: str, message: str) -> dict[str, Any]:
        return {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
        }

    def _respond(
        self, request: SandboxRequest, label: str, handler: Handler, params: dict[str, str]
    ) -> SandboxResponse:
        search = label.endswith(".search")
        if label == "unknown":
            # Not an API HubSpot serves: its gateway's 404 body, no rate-limit headers, and no
            # bucket charged (docs/sandbox.md, "Unknown routes").
            return SandboxResponse.json(404, not_found_body())
        with self._lock:
            now_ms = self._now_ms()
            if label not in UNAUTHENTICATED:
                problem = self.tokens.problem(request.headers.get("authorization"), now_ms)
                if problem:
                    return SandboxResponse.json(
                        401, self._error(401, "INVALID_AUTHENTICATION", problem)
                    )
                bucket = "search" if search else "ten_secondly"
                refused = self.limits.admit(now_ms, search=search)
                if refused is not None:
                    headers = {} if search else self.limits.headers(now_ms)
                    throttled = SandboxResponse.json(429, refused, headers)
                    throttled.bucket = bucket
                    return throttled
            else:
                bucket = None
            if label in self.knobs.echo_token_on:
                echoed = self._echo_token(request)
                echoed.bucket = bucket
                return echoed
            for scope, prefixes in self.knobs.missing_scopes.items():
                if any(label.startswith(p) for p in prefixes):
                    scope_error = self._error(
                        403,
                        "MISSING_SCOPES",
                        "This app hasn't been granted all required scopes to make this call.",
                    )
                    scope_error["context"] = {"missingScopes": [scope]}
                    refusal = SandboxResponse.json(403, scope_error, self.limits.headers(now_ms))
                    refusal.bucket = bucket
                    return refusal
            ctx = Ctx(self.store, self.knobs, now_ms, self.portal_id, self.tier)
            try:
                status, payload = handler(ctx, request, **params)
            except ApiError as exc:
                status, payload = exc.status, exc.body()
            except Exception as exc:  # an emulator bug: a logged 500, never a dead thread
                status = 500
                payload = self._error(500, "INTERNAL_ERROR", f"sandbox bug: {exc!r}")
            headers = {} if search or label == "oauth.token" else self.limits.headers(now_ms)
            if status == 204 or payload is None:
                return SandboxResponse(status, b"", headers, bucket=bucket)
            body = orjson.dumps(payload)
        headers["Content-Type"] = "application/json;charset=UTF-8"
        return SandboxResponse(status, body, headers, bucket=bucket)

    def _echo_token(self, request: SandboxRequest) -> SandboxResponse:
        """A 400 VALIDATION_ERROR quoting the caller's token, bare (no `Bearer`/`token=` around
        it for a key-based masker to find): what a misbehaving proxy or API version might send."""
        token = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        body = self._error(
            400, "VALIDATION_ERROR", f"Invalid input JSON for {token} on this portal"
        )
        body["context"] = {"credential": [token]}
        return SandboxResponse.json(400, body)

    def _oauth(self, ctx: Ctx, request: SandboxRequest) -> tuple[int, Any]:
        form = {k: v[0] for k, v in parse_qs(request.body.decode(errors="replace")).items()}
        return self.tokens.refresh(form, ctx.now_ms)
