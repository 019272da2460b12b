"""Marketing Events participations (spec Marketing Events v3,
`GET /marketing/v3/marketing-events/participations/contacts/{contactIdentifier}/breakdown`).

HubSpot's spec (HubSpot/HubSpot-public-api-spec-collection,
`PublicApiSpecs/Marketing/Marketing Events/Rollouts/129888/v3/marketingEvents.json`) lists
`x-hubspot-product-tier-requirements` FREE for marketing, sales and service (scope
`crm.objects.marketing_events.read`), so every tier is served: this is how webinar tools (Zoom,
GoToWebinar) record each contact's participation below Enterprise. The "Marketing Events Guide"
(developers.hubspot.com/docs/guides/api/marketing/marketing-events) gives the row: the event
(`associations.marketingEvent`: marketingEventId, externalEventId, name), the contact, and
`properties.attendanceState` (REGISTERED, ATTENDED, CANCELLED, NO_SHOW) with `occurredAt`; only
the participant's current state is kept. `contactIdentifier` is the contact's id or email;
`limit` defaults to 10, range 1-100; `after` pages.

`GET /marketing/v3/marketing-events/` lists the portal's events sorted by objectId (`limit`
default 10, at most 100, `after`), each with `objectId`, `eventName`, `eventType`; and
`GET /marketing/v3/marketing-events/participations/{marketingEventId}/breakdown` lists one
event's participations with the same rows and paging.

The sandbox derives participations from the fixture's webinar activities (the custom events
`pe<portalId>_webinar_registered` / `_webinar_attended`, by `webinar_name`): a contact who
attended is ATTENDED (at the attendance), else REGISTERED (at the registration).
"""

from __future__ import annotations

import zlib
from typing import Any

from sandbox.hubspot.context import Ctx
from sandbox.hubspot.schema import iso_of_ms
from sandbox.hubspot.store import HsObject
from sandbox.hubspot.wire import not_found, validation_error
from sandbox.server import SandboxRequest

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
EXTERNAL_ACCOUNT = "sandbox-webinars"


def _contact(ctx: Ctx, identifier: str) -> HsObject | None:
    if "@" in identifier:
        found = ctx.store.emails.get(identifier.strip().lower())
        return ctx.store.lookup("contacts", str(found)) if found else None
    return ctx.store.lookup("contacts", identifier)


def _all_participations(ctx: Ctx) -> dict[int, list[dict[str, Any]]]:
    """marketingEventId -> its participation rows (cached while the events do not change)."""
    key = (len(ctx.store.events), ctx.store.events[-1].id if ctx.store.events else 0)
    cached = _CACHE.get(id(ctx.store))
    if cached is not None and cached[0] == key:
        return cached[1]
    seen: dict[tuple[str, int], dict[str, int]] = {}  # (webinar, contact) -> state -> ms
    for event in ctx.store.events:
        state = _state_of(event.event_type)
        if state is None:
            continue
        name = event.properties.get("webinar_name") or "Webinar"
        states = seen.setdefault((name, event.contact_id), {})
        states[state] = max(states.get(state, 0), event.occurred_ms)
        states["created"] = min(states.get("created", event.occurred_ms), event.occurred_ms)
    out: dict[int, list[dict[str, Any]]] = {}
    for (name, contact_id), states in seen.items():
        contact = ctx.store.lookup("contacts", str(contact_id))
        if contact is None:
            continue
        state = "ATTENDED" if "ATTENDED" in states else "REGISTERED"
        event_id = zlib.crc32(name.encode())
        out.setdefault(event_id, []).append(
            {
                "id": f"{event_id}-{contact.id}",
                "createdAt": iso_of_ms(states["created"]),
                "associations": {
                    "marketingEvent": {
                        "externalAccountId": EXTERNAL_ACCOUNT,
                        "marketingEventId": str(event_id),
                        "externalEventId": f"webinar-{event_id}",
                        "name": name,
                    },
                    "contact": {
                        "contactId": str(contact.id),
                        "email": contact.properties.get("email"),
                        "firstname": contact.properties.get("firstname"),
                        "lastname": contact.properties.get("lastname"),
                    },
                },
                "properties": {"attendanceState": state, "occurredAt": iso_of_ms(states[state])},
            }
        )
    for rows in out.values():
        rows.sort(key=lambda r: (r["properties"]["occurredAt"], r["id"]))
    _CACHE[id(ctx.store)] = (key, out)
    return out


_CACHE: dict[int, tuple[tuple[int, int], dict[int, list[dict[str, Any]]]]] = {}


def _state_of(event_type: str) -> str | None:
    if not event_type.startswith("pe"):
        return None
    if event_type.endswith("_webinar_attended"):
        return "ATTENDED"
    if event_type.endswith("_webinar_registered"):
        return "REGISTERED"
    return None


def _paged(req: SandboxRequest, rows: list[dict[str, Any]]) -> tuple[int, Any]:
    try:
        limit = int(req.param("limit") or DEFAULT_LIMIT)
        start = int(req.param("after") or 0)
    except ValueError:
        raise validation_error("limit and after must be numbers.") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise validation_error(f"limit must be between 1 and {MAX_LIMIT}.")
    state = (req.param("state") or "").upper()
    if state:
        rows = [r for r in rows if r.get("properties", {}).get("attendanceState") == state]
    payload: dict[str, Any] = {"total": len(rows), "results": rows[start : start + limit]}
    if start + limit < len(rows):
        payload["paging"] = {"next": {"after": str(start + limit)}}
    return 200, payload


def list_events(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    rows = []
    for event_id, participations in sorted(_all_participations(ctx).items()):
        first = participations[0]
        rows.append(
            {
                "objectId": str(event_id),
                "eventName": first["associations"]["marketingEvent"]["name"],
                "eventType": "WEBINAR",
                "externalEventId": f"webinar-{event_id}",
                "eventOrganizer": EXTERNAL_ACCOUNT,
                "customProperties": [],
                "createdAt": min(p["createdAt"] for p in participations),
                "updatedAt": max(p["properties"]["occurredAt"] for p in participations),
                "registrants": len(participations),
                "attendees": sum(
                    p["properties"]["attendanceState"] == "ATTENDED" for p in participations
                ),
            }
        )
    _, payload = _paged(req, rows)
    payload.pop("total")
    return 200, payload


def event_breakdown(ctx: Ctx, req: SandboxRequest, marketing_event_id: str) -> tuple[int, Any]:
    try:
        event_id = int(marketing_event_id)
    except ValueError:
        raise validation_error("marketingEventId must be a number.") from None
    rows = _all_participations(ctx).get(event_id)
    if rows is None:
        raise not_found("marketing event", marketing_event_id)
    wanted = req.param("contactIdentifier")
    if wanted:
        contact = _contact(ctx, wanted)
        rows = [r for r in rows if contact and r["id"].endswith(f"-{contact.id}")]
    return _paged(req, rows)


def contact_breakdown(ctx: Ctx, req: SandboxRequest, contact_identifier: str) -> tuple[int, Any]:
    contact = _contact(ctx, contact_identifier)
    rows = []
    if contact is not None:
        for participations in _all_participations(ctx).values():
            rows += [r for r in participations if r["id"].endswith(f"-{contact.id}")]
    rows.sort(key=lambda r: (r["properties"]["occurredAt"], r["id"]))
    return _paged(req, rows)
