"""Account Engagement (Pardot) API v5 visitor activities, served beside the Salesforce org.

Contract (Salesforce's Account Engagement developer guide; sources in docs/activity-properties.md):
- `GET /api/v5/objects/visitor-activities` (production host `pi.pardot.com`, developer and
  sandbox business units `pi.demo.pardot.com`; here the sandbox's own host). Every request needs
  `Authorization: Bearer <Salesforce access token>` and `Pardot-Business-Unit-Id: <18-char id
  starting 0Uv>`.
- `fields` is required (comma list; dot notation reads a related object: `prospect.salesforceId`,
  `visitorPageView.url`); `limit` defaults to 200, at most 1000; `orderBy` (`createdAt`, `id`,
  ASC/DESC); filters `createdAtAfter`, `createdAtAfterOrEqualTo`, `createdAtBefore`,
  `createdAtBeforeOrEqualTo`, `idGreaterThan`, `prospectId`, `type` (comma list), at most three
  distinct filtered fields (code 209). Paging: `nextPageToken` / `nextPageUrl`; a token may only
  be sent with `fields` (anything else: 400), lives four hours (code 210), unknown: code 211; a
  token sequence stops after 100,000 records with `Pardot-Warning: 203;...` and no token.
- Errors are `{"code": N, "message": "..."}`: 184 bad token (401), 181 missing business unit
  header and 182 a malformed one (400), 201 unknown business unit (403), 13 missing `fields`,
  180 unknown field, 23 bad limit, 122 daily allocation spent, 66 more than five concurrent
  requests. `down = True` answers 503 code 183 (a business unit that does not answer).

Visitor activity types used (object field reference, "Visitor Activity Types"): 1 Click (email
link), 2 View (a tracked page; `visitorPageView` carries its URL and title), 4 Success (a form or
form handler submission; `formId` / `formHandlerId`), 11 Open (email). `details` names the
associated object (form, form handler, email). Webinars reach Salesforce as CampaignMembers.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

from sandbox.portal import Portal
from sandbox.salesforce.ids import derived_id
from sandbox.salesforce.mapping import campaign_id, content_campaign
from sandbox.server import SandboxRequest, SandboxResponse

PATH = "/api/v5/objects/visitor-activities"
MAX_LIMIT = 1000
DEFAULT_LIMIT = 200
TOKEN_TTL = timedelta(hours=4)
TOKEN_RECORD_CAP = 100_000
MAX_CONCURRENT = 5
_BUSINESS_UNIT = re.compile(r"^0Uv[0-9A-Za-z]{15}$")
_FILTERS = {
    "createdAtAfter": ("createdAt", ">"),
    "createdAtAfterOrEqualTo": ("createdAt", ">="),
    "createdAtBefore": ("createdAt", "<"),
    "createdAtBeforeOrEqualTo": ("createdAt", "<="),
    "idGreaterThan": ("id", ">"),
    "prospectId": ("prospectId", "="),
    "type": ("type", "in"),
}
_TYPES = {  # portal kind -> (type, typeName)
    "page_view": (2, "View"),
    "form_submission": (4, "Success"),
    "email_open": (11, "Open"),
    "email_click": (1, "Click"),
}
FIELDS = frozenset(
    {
        "id",
        "type",
        "typeName",
        "details",
        "createdAt",
        "prospectId",
        "prospect.id",
        "prospect.email",
        "prospect.salesforceId",
        "visitorId",
        "formId",
        "formHandlerId",
        "emailId",
        "visitorPageViewId",
        "visitorPageView.url",
        "visitorPageView.title",
        "campaignId",
        "campaign.name",
        "campaign.salesforceId",
    }
)


class PardotError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> SandboxResponse:
        return SandboxResponse.json(self.status, {"code": self.code, "message": self.message})


@dataclass
class _Token:
    query: dict[str, list[str]]
    offset: int
    issued: datetime


@dataclass
class PardotEmulator:
    """One Account Engagement business unit over the portal's people (as prospects synced to
    their Salesforce Lead or Contact)."""

    portal: Portal
    is_valid_token: Any  # (token) -> bool: the Salesforce org's sessions
    clock: Any  # () -> aware datetime
    business_unit_id: str = "0Uv5g000000SANDBOX"
    daily_limit: int = 100_000  # Advanced / Premium editions
    token_record_cap: int = TOKEN_RECORD_CAP
    down: bool = False
    usage: int = 0
    activities: list[dict[str, Any]] = field(init=False)
    _tokens: dict[str, _Token] = field(default_factory=dict)
    _active: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        people = {p.id: (index, p) for index, p in enumerate(self.portal.people)}
        rows: list[dict[str, Any]] = []
        for activity in sorted(self.portal.activities, key=lambda a: (a.occurred_at, a.id)):
            kind = _TYPES.get(activity.kind)
            found = people.get(activity.person_id)
            if kind is None or found is None:
                continue
            index, person = found
            sobject = "Contact" if person.kind == "contact" else "Lead"
            rows.append(self._row(len(rows) + 1, kind, activity, index, person, sobject))
        self.activities = rows

    @staticmethod
    def _row(
        number: int, kind: tuple[int, str], activity: Any, index: int, person: Any, sobject: str
    ) -> dict[str, Any]:
        props = activity.properties
        row: dict[str, Any] = {
            "id": 90_000_000 + number,
            "type": kind[0],
            "typeName": kind[1],
            "createdAt": activity.occurred_at,
            "prospectId": 5_000_000 + index,
            "prospect": {
                "id": 5_000_000 + index,
                "email": person.email,
                "salesforceId": derived_id(sobject, person.id),
            },
            "visitorId": 7_000_000 + index,
        }
        if activity.kind == "page_view":
            url = props.get("url") or "/"
            row |= {
                "details": props.get("title") or url,
                "visitorPageViewId": 80_000_000 + number,
                "visitorPageView": {"url": url, "title": props.get("title") or ""},
            }
            if props.get("asset_stage"):  # tracked under a connected content campaign
                name = content_campaign(props)
                page_campaign = {"name": name, "salesforceId": campaign_id(name, "Content")}
                row |= {"campaignId": _number(name), "campaign": page_campaign}
        elif activity.kind == "form_submission":
            handler = props.get("form_handler")
            name = handler or props.get("form_name") or "Contact Sales"
            row["details"] = name
            row["formHandlerId" if handler else "formId"] = _number(name)
            if not handler:  # a form's connected campaign: the org's Web campaign of that name
                form_campaign = {"name": name, "salesforceId": campaign_id(name, "Web")}
                row |= {"campaignId": _number(name), "campaign": form_campaign}
        else:
            subject = props.get("subject") or props.get("email_subject") or "Newsletter"
            row |= {"details": subject, "emailId": _number(subject)}
        if props.get("campaign") and "campaign" not in row:
            row |= {
                "campaignId": _number(props["campaign"]),
                "campaign": {"name": props["campaign"]},
            }
        return row

    def add_activity(self, activity: Any) -> None:
        """A visitor activity that happens now (a `PortalActivity` of a portal person; tests
        and drills): served from the next request on, in `createdAt` order."""
        kind = _TYPES.get(activity.kind)
        if kind is None:
            raise ValueError(f"Account Engagement records {sorted(_TYPES)}, not {activity.kind}")
        index, person = next(
            (i, p) for i, p in enumerate(self.portal.people) if p.id == activity.person_id
        )
        sobject = "Contact" if person.kind == "contact" else "Lead"
        with self._lock:
            row = self._row(len(self.activities) + 1, kind, activity, index, person, sobject)
            self.activities.append(row)
            self.activities.sort(key=lambda r: (r["createdAt"], r["id"]))

    # -- HTTP ----------------------------------------------------------------------------------
    def handles(self, path: str) -> bool:
        return path.startswith("/api/v5/")

    def handle(self, request: SandboxRequest) -> tuple[str, SandboxResponse]:
        with self._lock:
            self._active += 1
            crowded = self._active > MAX_CONCURRENT
        try:
            if crowded:
                raise PardotError(400, 66, "Exceeded concurrent API request limit")
            return "pardot.visitor_activities", self._answer(request)
        except PardotError as error:
            return "pardot.visitor_activities", error.response()
        finally:
            with self._lock:
                self._active -= 1

    def _answer(self, request: SandboxRequest) -> SandboxResponse:
        if self.down:
            raise PardotError(503, 183, "An internal error occurred, please try your request again")
        self._authorize(request)
        if request.path.rstrip("/") != PATH or request.method != "GET":
            raise PardotError(404, 198, "Endpoint not found")
        with self._lock:
            if self.usage >= self.daily_limit:
                raise PardotError(400, 122, "Daily API rate limit met.")
            self.usage += 1
        query = dict(request.query)
        offset = 0
        token_text = request.param("nextPageToken")
        if token_text is not None:
            if set(query) - {"nextPageToken", "fields"}:
                raise PardotError(
                    400, 5, "Invalid query parameters: only fields may be sent with nextPageToken"
                )
            token = self._tokens.get(token_text)
            if token is None:
                raise PardotError(400, 211, "Page token is invalid.")
            if self.clock() - token.issued > TOKEN_TTL:
                raise PardotError(400, 210, "Page token has expired.")
            offset = token.offset
            query = {**token.query, **({"fields": query["fields"]} if "fields" in query else {})}
        return self._page(query, offset)

    def _authorize(self, request: SandboxRequest) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not self.is_valid_token(token.strip()):
            raise PardotError(401, 184, "access_token is invalid, unknown, or malformed")
        unit = request.headers.get("pardot-business-unit-id")
        if unit is None:
            raise PardotError(
                400,
                181,
                "A required header is missing: Pardot-Business-Unit-Id header not found on request.",
            )
        if not _BUSINESS_UNIT.match(unit.strip()):
            raise PardotError(400, 182, "Invalid header value: Pardot-Business-Unit-Id")
        if unit.strip() != self.business_unit_id:
            raise PardotError(
                403,
                201,
                "Business Unit specified in Pardot-Business-Unit-Id header not found or inactive.",
            )

    def _page(self, query: dict[str, list[str]], offset: int) -> SandboxResponse:
        fields = _one(query, "fields")
        if not fields:
            raise PardotError(400, 13, "One or more required parameters are missing: fields")
        wanted = [f.strip() for f in fields.split(",") if f.strip()]
        unknown = [f for f in wanted if f not in FIELDS]
        if unknown:
            raise PardotError(
                400, 180, f"One or more of the specified fields are invalid: {unknown[0]}"
            )
        limit_text = _one(query, "limit") or str(DEFAULT_LIMIT)
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
            raise PardotError(400, 23, f"Invalid value specified for limit: 1 to {MAX_LIMIT}")
        rows = self._select(query)
        limit = int(limit_text)
        page = rows[offset : offset + limit]
        body: dict[str, Any] = {"values": [_project(r, wanted) for r in page]}
        headers: dict[str, str] = {}
        end = offset + len(page)
        if end < len(rows):
            if end >= self.token_record_cap:
                headers["Pardot-Warning"] = (
                    "203;Record count for nextPageToken sequence has been exceeded. "
                    "No page token returned."
                )
            else:
                token = secrets.token_urlsafe(24)
                kept = {k: v for k, v in query.items() if k != "nextPageToken"}
                with self._lock:
                    self._tokens[token] = _Token(kept, end, self.clock())
                body["nextPageToken"] = token
                body["nextPageUrl"] = f"{PATH}?nextPageToken={token}"
        return SandboxResponse.json(200, body, headers)

    def _select(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        tests = []
        filtered = set()
        for name in query:
            if name in ("fields", "limit", "orderBy", "nextPageToken"):
                continue
            spec = _FILTERS.get(name)
            if spec is None:
                raise PardotError(400, 5, f"Invalid query parameters: {name}")
            filtered.add(spec[0])
            tests.append((spec, _value(spec, _one(query, name) or "")))
        if len(filtered) > 3:
            raise PardotError(
                400,
                209,
                "Too many fields have filters: The max number of 3 distinct fields with "
                "filters was exceeded for this query.",
            )
        rows = [r for r in self.activities if all(_holds(r, spec, v) for spec, v in tests)]
        order = (_one(query, "orderBy") or "id ASC").split(",")
        for term in reversed(order):
            name, _, direction = term.strip().partition(" ")
            if name not in ("id", "createdAt") or direction.upper() not in ("", "ASC", "DESC"):
                raise PardotError(400, 5, f"Invalid query parameters: orderBy {term.strip()}")
            rows.sort(key=itemgetter(name), reverse=direction.upper() == "DESC")
        return rows


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _number(name: str) -> int:
    return 10_000 + int(hashlib.sha1(name.encode()).hexdigest()[:6], 16) % 900_000


def _value(spec: tuple[str, str], text: str) -> Any:
    name, op = spec
    try:
        if name == "createdAt":
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        if op == "in":
            return {int(t) for t in text.split(",") if t.strip()}
        return int(text)
    except ValueError:
        code, what = (7, "Invalid timestamp") if name == "createdAt" else (16, "Invalid ID")
        raise PardotError(400, code, f"{what}: {text}") from None


def _holds(row: dict[str, Any], spec: tuple[str, str], value: Any) -> bool:
    have = row[spec[0]]
    op = spec[1]
    if op == "in":
        return bool(have in value)
    return bool(
        {"=": have == value, ">": have > value, ">=": have >= value, "<": have < value}.get(
            op, have <= value
        )
    )


def _project(row: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in wanted:
        head, _, leaf = name.partition(".")
        if not leaf:
            value = row.get(head)
            out[head] = (
                value.isoformat(timespec="seconds") if isinstance(value, datetime) else value
            )
            continue
        parent = row.get(head)
        if parent is None:
            out[head] = None
        elif out.get(head) is not None or head not in out:
            out.setdefault(head, {})[leaf] = parent.get(leaf)
    return out
