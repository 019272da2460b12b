"""Associations v4 (spec associations.json v4) and the Events API (spec Events v3
`GET /events/v3/events`: objectType, objectId | objectProperty.email, eventType, occurredAfter/
Before, after, limit, sort), which is how the sandbox exposes page views, form submissions, email
opens/clicks and webinar activity (see sandbox/fixtures/README.md).

The Events API follows its contract: the spec's `x-hubspot-product-tier-requirements` list
ENTERPRISE for marketing, sales, service and CMS, so a Starter or Professional portal gets HubSpot's
403 scope refusal (the body a Free portal got, PipedreamHQ/pipedream#11810); and HubSpot's event
analytics guide answers for one CRM record per query, so a query without `objectType` plus
`objectId` or `objectProperty.email` is a 400."""

from __future__ import annotations

import base64
import bisect
from typing import Any

from sandbox.hubspot.context import Ctx, multi_param
from sandbox.hubspot.objects_api import body_of, object_type_of
from sandbox.hubspot.schema import iso_of_ms, parse_ms
from sandbox.hubspot.store import WebEvent, event_key
from sandbox.hubspot.wire import (
    ApiError,
    batch_envelope,
    not_found,
    standard_error,
    validation_error,
)
from sandbox.server import SandboxRequest

_LABELS = {1: "Primary", 2: "Primary"}


def _assoc_rows(links: dict[int, int], from_type: str) -> list[dict[str, Any]]:
    rows = []
    for to_id, type_id in links.items():
        types = [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": _LABELS.get(type_id)}]
        if type_id == 1:  # a primary company link is also a plain contact->company one
            types.append({"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None})
        rows.append({"toObjectId": to_id, "associationTypes": types})
    return rows


def _page(rows: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    try:
        start = int(after or 0)
    except ValueError:
        raise validation_error("after must be a paging cursor from paging.next.after.") from None
    payload: dict[str, Any] = {"results": rows[start : start + limit]}
    if start + limit < len(rows):
        payload["paging"] = {"next": {"after": str(start + limit)}}
    return payload


def get_associations(
    ctx: Ctx, req: SandboxRequest, object_type: str, object_id: str, to_object_type: str
) -> tuple[int, Any]:
    from_type, to_type = object_type_of(object_type), object_type_of(to_object_type)
    obj = ctx.store.lookup(from_type, object_id)
    if obj is None:
        raise not_found(from_type, object_id)
    try:
        limit = max(1, int(req.param("limit") or ctx.knobs.associations_page))
    except ValueError:
        raise validation_error("limit must be a number.") from None
    rows = _assoc_rows(ctx.store.linked(from_type, obj.id, to_type), from_type)
    return 200, _page(rows, req.param("after"), limit)


def batch_read_associations(
    ctx: Ctx, req: SandboxRequest, from_object_type: str, to_object_type: str
) -> tuple[int, Any]:
    from_type, to_type = object_type_of(from_object_type), object_type_of(to_object_type)
    body = body_of(req)
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list):
        raise validation_error("The body needs inputs: [{id}].")
    if len(inputs) > 1000:
        raise validation_error("Associations batch read takes at most 1,000 ids.")
    if not all(isinstance(item, dict) for item in inputs):
        raise validation_error('Each input must be an object: {"id": "123"}.')
    results, errors = [], []
    for item in inputs:
        key = str((item or {}).get("id"))
        obj = ctx.store.lookup(from_type, key)
        links = ctx.store.linked(from_type, obj.id, to_type) if obj else {}
        if not links:
            errors.append(
                standard_error(
                    "OBJECT_NOT_FOUND",
                    f"No {to_type} is associated with {from_type} {key}.",
                    [key],
                    sub_category="crm.associations.NO_ASSOCIATIONS_FOUND",
                )
            )
            continue
        results.append(
            {"from": {"id": str(obj.id) if obj else key}, "to": _assoc_rows(links, from_type)}
        )
    return batch_envelope(results, errors, ctx.now_ms)


# -- events --------------------------------------------------------------------------------
def render_event(event: WebEvent) -> dict[str, Any]:
    return {
        "objectType": "CONTACT",
        "objectId": str(event.contact_id),
        "eventType": event.event_type,
        "occurredAt": iso_of_ms(event.occurred_ms),
        "id": str(event.id),
        "properties": event.properties,
    }


def _cursor(event: WebEvent) -> str:
    return base64.urlsafe_b64encode(f"{event.occurred_ms}:{event.id}".encode()).decode()


def _uncursor(raw: str) -> tuple[int, int]:
    try:
        ms, ident = base64.urlsafe_b64decode(raw.encode()).decode().split(":")
        return int(ms), int(ident)
    except (ValueError, UnicodeDecodeError):
        raise validation_error("after must be a cursor from paging.next.after.") from None


ENTERPRISE_TIERS = ("enterprise",)


def events_refused(ctx: Ctx) -> ApiError | None:
    """HubSpot's refusal of the Events API below Enterprise (status 403, MISSING_SCOPES)."""
    if ctx.tier in ENTERPRISE_TIERS:
        return None
    return ApiError(
        403,
        "MISSING_SCOPES",
        "Your app doesn't the have scopes needed to make this call. Do you have access to the "
        "'business-intelligence' scope?  Missing auth details: event-detail-read,"
        "web-analytics-api-access",
        context={"requiredScopes": ["business-intelligence"]},
    )


def list_events(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    """One CRM record's events; ASCENDING or DESCENDING (default) by occurredAt."""
    refused = events_refused(ctx)
    if refused is not None:
        raise refused
    object_type = (req.param("objectType") or "").lower()
    object_id = req.param("objectId")
    email = req.param("objectProperty.email")
    if not object_type or (object_id is None and email is None):
        raise validation_error(
            "The Events API returns one CRM record's events per query: give objectType=contact "
            "and objectId (or objectProperty.email)."
        )
    if object_type not in ("contact", "contacts", "0-1"):
        raise validation_error("The sandbox records events for objectType=contact only.")
    try:
        limit = max(1, min(int(req.param("limit") or ctx.knobs.events_page), ctx.knobs.events_max))
    except ValueError:
        raise validation_error("limit must be a number.") from None
    sort = (req.param("sort") or "DESCENDING").upper()
    if sort not in ("ASCENDING", "DESCENDING"):
        raise validation_error("sort must be ASCENDING or DESCENDING.")
    after_ms = parse_ms(req.param("occurredAfter"))
    before_ms = parse_ms(req.param("occurredBefore"))
    if (req.param("occurredAfter") and after_ms is None) or (
        req.param("occurredBefore") and before_ms is None
    ):
        raise validation_error("occurredAfter/occurredBefore must be ISO-8601 date-times.")
    wanted = set(multi_param(req, "eventType"))
    if len(wanted) > 1:
        raise validation_error("eventType takes one event type name per query.")
    if object_id is not None:
        contact = ctx.store.lookup("contacts", object_id)
    else:
        found = ctx.store.emails.get(str(email).strip().lower())
        contact = ctx.store.lookup("contacts", str(found)) if found else None
    pool = ctx.store.events_by_contact.get(contact.id, []) if contact else []
    descending = sort == "DESCENDING"
    low = (after_ms + 1, 0) if after_ms is not None else None
    high = (before_ms, 0) if before_ms is not None else None
    cursor = req.param("after")
    if cursor:
        position = _uncursor(cursor)
        if descending:
            high = min(high, position) if high else position
        else:
            low = (
                max(low, (position[0], position[1] + 1)) if low else (position[0], position[1] + 1)
            )
    start = bisect.bisect_left(pool, low, key=event_key) if low else 0
    stop = bisect.bisect_left(pool, high, key=event_key) if high else len(pool)
    indexes = range(stop - 1, start - 1, -1) if descending else range(start, stop)
    page: list[WebEvent] = []
    more = False
    for index in indexes:
        event = pool[index]
        if wanted and event.event_type not in wanted:
            continue
        if len(page) == limit:
            more = True
            break
        page.append(event)
    payload: dict[str, Any] = {"results": [render_event(e) for e in page]}
    if more:
        token = _cursor(page[-1])
        payload["paging"] = {"next": {"after": token, "link": f"?after={token}"}}
    return 200, payload


def event_types(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    refused = events_refused(ctx)
    if refused is not None:
        raise refused
    return 200, {"eventTypes": sorted({e.event_type for e in ctx.store.events})}


def not_routed(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    raise ApiError(404, "OBJECT_NOT_FOUND", f"No route for {req.method} {req.path} in the sandbox.")
