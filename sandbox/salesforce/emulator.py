"""The Salesforce REST emulator: auth, API limits, faults, routing and the request log.

Cross-cutting behaviour (crm-api-notes section 9, REST API Developer Guide "Status Codes and Error
Responses" and "Limit Info Header"): every `/services/data/vXX.X/...` response carries
`Sforce-Limit-Info: api-usage=N/M`; each authenticated call counts toward the daily allocation and
once it is spent calls fail with 403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded."; a
missing, wrong, revoked or expired bearer token fails with 401 INVALID_SESSION_ID "Session expired
or invalid". Injected throttles answer the concurrency variant of REQUEST_LIMIT_EXCEEDED (403) or
503 "server busy"; injected errors answer 500/503 with an error array.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.faults import Faults, RequestLog
from sandbox.portal import Portal
from sandbox.salesforce import lifecycle, sobjects
from sandbox.salesforce.bulk import BulkIngest
from sandbox.salesforce.bulk_query import BulkQuery
from sandbox.salesforce.change_events import ChangeEventBus
from sandbox.salesforce.errors import ApiError, RecordError, not_found, too_long
from sandbox.salesforce.ids import normalize
from sandbox.salesforce.mapping import load_portal
from sandbox.salesforce.oauth import OAuthIssuer
from sandbox.salesforce.org import SalesforceOrg, format_value
from sandbox.salesforce.pardot import PardotEmulator
from sandbox.salesforce.predicates import Record
from sandbox.salesforce.querying import QueryService
from sandbox.salesforce.schema import DEFAULT_LEAD_STATUSES
from sandbox.salesforce.summary import org_summary
from sandbox.salesforce.writes import ACTIVITY_OBJECTS, RecordWriter
from sandbox.server import SandboxRequest, SandboxResponse

_DATA = re.compile(r"^/services/data/v(\d{2,3}\.\d)(?:/(.*))?$")
_SESSION_ERROR = ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
_LIMIT_ERROR = ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
_CONCURRENCY_ERROR = ApiError(
    403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentRequests (Concurrent API Requests) Limit exceeded."
)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class SalesforceEmulator:
    """Serve `portal` as a Salesforce org to the real simple-salesforce client."""

    def __init__(
        self,
        portal: Portal,
        *,
        session_id: str,
        api_version: str = "59.0",
        daily_allocation: int = 100_000,
        limits_enabled: bool = True,
        faults: Faults | None = None,
        clock: Callable[[], datetime] | None = None,
        handoff_fields: bool = True,
        lead_statuses: tuple[str, ...] = DEFAULT_LEAD_STATUSES,
        max_open_cursors: int = 10,
    ) -> None:
        self.org = SalesforceOrg(clock or _wall_clock, handoff_fields=handoff_fields)
        self.set_lead_statuses(lead_statuses)
        load_portal(self.org, portal)
        self.api_version = api_version
        self.daily_allocation = daily_allocation
        self.api_usage = 0
        self.limits_enabled = limits_enabled
        self.faults = faults
        self.session_ttl: timedelta | None = None
        self.log = RequestLog()
        self.writer = RecordWriter(self.org)
        self.queries = QueryService(self.org, max_open_cursors)
        self.oauth = OAuthIssuer(self.org)
        # Change Data Capture for Lead and Contact, served by the Pub/Sub API (sandbox/runtime.py)
        self.change_events = ChangeEventBus(self.org)
        self.bulk = BulkIngest(self.org, self.writer)
        self.bulk_query = BulkQuery(self.org)
        self._sessions: dict[str, datetime] = {session_id: self.org.now()}
        self._lock = threading.Lock()
        self._fault_turn = 0
        # Request labels ("query", "collections.update") answered 400 with a message quoting the
        # caller's session id, bare (secret redaction drill: a CRM error echoing a credential).
        self.echo_session_on: set[str] = set()
        # Account Engagement (Pardot) v5 on the same host, trusting the org's access tokens
        self.pardot = PardotEmulator(portal, self.session_valid, self.org.now)

    # -- run-time knobs ------------------------------------------------------------------------
    def add_session(self, token: str) -> None:
        with self._lock:
            self._sessions[token] = self.org.now()

    def revoke_session(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(token, None)

    def expire_sessions(self) -> None:
        """Every current token stops working (as when an admin revokes the integration's tokens)."""
        with self._lock:
            self._sessions.clear()

    def set_api_usage(self, used: int, allocation: int | None = None) -> None:
        with self._lock:
            self.api_usage = used
            if allocation is not None:
                self.daily_allocation = allocation

    def set_lead_statuses(self, values: tuple[str, ...] | list[str]) -> None:
        spec = self.org.schema["Lead"].get("Status")
        assert spec is not None
        spec.picklist = tuple(values)
        spec.default = values[0] if values else None

    def remove_field(self, sobject: str, name: str) -> None:
        """Drop a field from the org (e.g. a Handoff custom field, to test "missing fields")."""
        self.org.schema[sobject].fields.pop(name.lower(), None)

    def fail_record(
        self,
        record_id: str,
        status_code: str = "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        message: str = "Validation rule blocked the update",
        fields: list[str] | None = None,
    ) -> None:
        """Writes to this record fail with the given per-record error until `clear_failures()`."""
        full = normalize(record_id) or record_id
        self.writer.failure_rules[full] = RecordError(status_code, message, fields)

    def clear_failures(self) -> None:
        self.writer.failure_rules.clear()

    # -- direct mutations for tests ------------------------------------------------------------
    def record(self, record_id: str) -> Record:
        found = self.org.find(record_id)
        if found is None:
            raise KeyError(record_id)
        return dict(found[1])

    def update_record(self, record_id: str, **values: Any) -> None:
        """Set fields as a user edit would, bumping SystemModstamp/LastModifiedDate."""
        with self.org.lock:
            found = self.org.find(record_id)
            if found is None:
                raise KeyError(record_id)
            sobject, record = found
            for name in values:
                if self.org.schema[sobject].get(name) is None:
                    raise KeyError(f"{sobject} has no field {name}")
            before = dict(record)
            record.update(
                {self.org.schema[sobject].fields[k.lower()].name: v for k, v in values.items()}
            )
            self.org.derive(sobject, record)
            self.org.touch(record, self.org.now())
            changed = [k for k, v in record.items() if before.get(k) != v]
            self.org.changed(sobject, "UPDATE", record, changed)

    def convert_lead(self, lead_id: str, *, account_id: str | None = None) -> str:
        return lifecycle.convert_lead(self.org, lead_id, account_id=account_id)

    def delete_record(self, record_id: str) -> None:
        with self.org.lock:
            self.writer.begin()
            self.writer.delete(None, record_id, self.org.now())

    def merge(self, sobject: str, master_id: str, loser_ids: list[str]) -> None:
        lifecycle.merge(self.org, sobject, master_id, loser_ids)

    def add_activity(self, sobject: str, **values: Any) -> str:
        """Create a Task, Event or CampaignMember with API validation; bumps its Lead/Contact."""
        if sobject not in (*ACTIVITY_OBJECTS, "Campaign"):
            raise ValueError(f"add_activity makes {ACTIVITY_OBJECTS}, not {sobject}")
        with self.org.lock:
            self.writer.begin()
            at = self.org.now()
            values = {k: format_value(v) for k, v in values.items()}
            return str(self.writer.create(sobject, values, at)["Id"])

    def summary(self) -> dict[str, int]:
        """What the org holds now, as counts (for `handoff demo` and drills)."""
        return org_summary(self.org)

    # -- HTTP ----------------------------------------------------------------------------------
    def handle(self, request: SandboxRequest) -> SandboxResponse:
        fault = self.faults.roll() if self.faults is not None else None
        hang = (self.faults.latency_ms / 1000.0) if self.faults is not None else 0.0
        if fault == "reset":
            self.log.record("fault.reset", 0)
            return SandboxResponse(0, reset=True)
        label, response = self._dispatch(request, fault)
        if fault == "timeout" and self.faults is not None:
            hang += self.faults.timeout_seconds
        if fault == "malformed" and response.status < 300 and response.body:
            response = SandboxResponse(
                200, response.body[: max(1, len(response.body) // 2)], response.headers
            )
        response.hang_seconds = hang
        self.log.record(label, response.status)
        return response

    def session_valid(self, token: str) -> bool:
        with self._lock:
            issued = self._sessions.get(token)
        return issued is not None and (
            self.session_ttl is None or self.org.now() - issued <= self.session_ttl
        )

    def _dispatch(self, request: SandboxRequest, fault: str | None) -> tuple[str, SandboxResponse]:
        if status := too_long(request.path, request.query, request.headers):
            return "too_long", SandboxResponse(status, b"URI or headers too long")
        if self.pardot.handles(request.path):
            return self.pardot.handle(request)
        if request.path.rstrip("/") == "/services/oauth2/token" and request.method == "POST":
            host = request.headers.get("host", "127.0.0.1")
            status, payload, token = self.oauth.token(
                request.body,
                f"https://{host}",
                self.org.now(),
                request.headers.get("authorization", ""),
            )
            if token is not None:
                self.add_session(token)
            return "oauth.token", SandboxResponse.json(status, payload)
        match = _DATA.match(request.path)
        if request.path.rstrip("/") == "/services/data":
            versions = [
                {
                    "label": "Winter '24",
                    "url": f"/services/data/v{self.api_version}",
                    "version": self.api_version,
                }
            ]
            return "versions", SandboxResponse.json(200, versions)
        if match is None:
            return "unknown", SandboxResponse.json(404, not_found().body())
        version, rest = match.group(1), (match.group(2) or "").strip("/")
        api_path = f"/services/data/v{version}"
        label = _label(request.method, rest)
        try:
            self._authorize(request)
            if label in self.echo_session_on:
                session = request.headers.get("authorization", "").partition(" ")[2].strip()
                raise ApiError(400, "MALFORMED_QUERY", f"unexpected token: {session}")
            if fault == "throttle":
                if self._next_fault_turn() % 2:
                    raise _CONCURRENCY_ERROR
                raise ApiError(
                    503, "SERVER_UNAVAILABLE", "Server temporarily unavailable, please retry"
                )
            if fault == "error":
                status = 500 if self._next_fault_turn() % 2 else 503
                raise ApiError(
                    status,
                    "UNKNOWN_EXCEPTION",
                    "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)",
                )
            label, status, payload = self._route(request, rest, api_path, label)
            response = _response(status, payload)
        except ApiError as error:
            response = SandboxResponse.json(error.status, error.body())
        except json.JSONDecodeError as error:
            body = ApiError(
                400,
                "JSON_PARSER_ERROR",
                f"Unexpected character at [line:{error.lineno}, column:{error.colno}]",
            ).body()
            response = SandboxResponse.json(400, body)
        response.headers["Sforce-Limit-Info"] = (
            f"api-usage={self.api_usage}/{self.daily_allocation}"
        )
        return label, response

    def _next_fault_turn(self) -> int:
        """Injected throttles/errors alternate between their two documented shapes."""
        with self._lock:
            self._fault_turn += 1
            return self._fault_turn

    def _authorize(self, request: SandboxRequest) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        with self._lock:
            issued = (
                self._sessions.get(token.strip()) if scheme.lower() in ("bearer", "oauth") else None
            )
            if issued is None or (
                self.session_ttl is not None and self.org.now() - issued > self.session_ttl
            ):
                raise _SESSION_ERROR
            if self.limits_enabled and self.api_usage >= self.daily_allocation:
                raise _LIMIT_ERROR
            self.api_usage += 1

    def _route(
        self, request: SandboxRequest, rest: str, api_path: str, label: str
    ) -> tuple[str, int, Any]:
        parts = rest.split("/") if rest else []
        method = request.method
        options = request.headers.get("sforce-query-options")
        if not parts and method == "GET":
            names = ("sobjects", "query", "queryAll", "limits", "composite", "jobs")
            return label, 200, {name: f"{api_path}/{name}" for name in names}
        head = parts[0] if parts else ""
        if head in ("query", "queryAll") and method == "GET":
            include_deleted = head == "queryAll"
            if len(parts) == 2:
                return (
                    label,
                    200,
                    self.queries.query_more(parts[1], api_path=api_path, options=options),
                )
            page = self.queries.query(
                request.param("q"),
                include_deleted=include_deleted,
                api_path=api_path,
                options=options,
            )
            return label, 200, page
        if head == "limits" and method == "GET":
            remaining = max(0, self.daily_allocation - self.api_usage)
            return (
                label,
                200,
                {"DailyApiRequests": {"Max": self.daily_allocation, "Remaining": remaining}},
            )
        if head == "sobjects":
            body = request.json() if request.body else None
            if len(parts) == 1:
                status, payload = sobjects.describe_global(self.org, api_path)
                return label, status, payload
            label, (status, payload) = sobjects.sobject_resource(
                self.org, self.writer, method, parts[1:], body, request.query, api_path
            )
            return label, status, payload
        if parts[:2] == ["composite", "sobjects"]:
            body = request.json() if request.body else None
            label, (status, payload) = sobjects.collections(
                self.org, self.writer, method, body, request.query
            )
            return label, status, payload
        if parts[:2] == ["jobs", "ingest"]:
            label, status, payload = self.bulk.handle(method, parts[2:], request, api_path)
            return label, status, payload
        if parts[:2] == ["jobs", "query"]:
            return self.bulk_query.handle(method, parts[2:], request, api_path)
        raise not_found()


def _response(status: int, payload: Any) -> SandboxResponse:
    if payload is None:
        return SandboxResponse(status)
    if isinstance(payload, SandboxResponse):  # Bulk API 2.0 query results: CSV and headers
        return payload
    if isinstance(payload, str):  # Bulk API 2.0 result CSV
        return SandboxResponse(status, payload.encode(), {"Content-Type": "text/csv"})
    return SandboxResponse.json(status, payload)


_COLLECTION_LABELS = {"POST": "create", "PATCH": "update", "DELETE": "delete", "GET": "get"}
_ROW_LABELS = {"GET": "get", "PATCH": "update", "DELETE": "delete"}


def _label(method: str, rest: str) -> str:
    """The log label of a request, known before it is authorised or routed."""
    parts = rest.split("/") if rest else []
    head = parts[0] if parts else "root"
    if head in ("query", "queryAll"):
        return "query_more" if len(parts) == 2 else head
    if parts[:2] == ["composite", "sobjects"]:
        return f"collections.{_COLLECTION_LABELS.get(method, method.lower())}"
    if head == "jobs":
        return "bulk_query" if parts[1:2] == ["query"] else "bulk"
    if head != "sobjects":
        return head
    if len(parts) == 1:
        return "describe_global"
    if len(parts) == 2:
        return "sobject.create" if method == "POST" else "sobject.info"
    if parts[2] in ("describe", "updated", "deleted"):
        return f"sobject.{parts[2]}"
    if len(parts) == 4:
        return "sobject.upsert"
    return f"sobject.{_ROW_LABELS.get(method, method.lower())}"
