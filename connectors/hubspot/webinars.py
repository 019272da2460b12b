"""Webinar participation below Enterprise, through HubSpot's Marketing Events API.

`GET /marketing/v3/marketing-events/participations/contacts/{contactIdentifier}/breakdown`
(spec `PublicApiSpecs/Marketing/Marketing Events/Rollouts/129888/v3/marketingEvents.json`,
`x-hubspot-product-tier-requirements` FREE for marketing, sales and service; scope
`crm.objects.marketing_events.read`) lists a contact's participations: the event's `name`
and the contact's current `attendanceState` (REGISTERED, ATTENDED, CANCELLED, NO_SHOW) at
`occurredAt`. Webinar tools (Zoom, GoToWebinar) record there on every tier, so it is the webinar
source of Starter and Professional portals. Read event by event, the fewer calls: the portal's
events (`GET /marketing/v3/marketing-events/`, 100 a page), then each event's participations
(`GET /marketing/v3/marketing-events/participations/{marketingEventId}/breakdown`, 100 a page),
once per run, whatever the number of contacts; participations older than the cursor are dropped. ATTENDED feeds the `webinar_attended` mappings, REGISTERED and NO_SHOW the
`webinar_registered` ones; CANCELLED is no signal.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from config.connections import ActivityMapping
from connectors import activity_keys as keys
from connectors.hubspot.transport import HubSpotTransport, read_json
from connectors.hubspot.web import matches, signal
from connectors.mapping import parse_timestamp
from connectors.records import Activity
from connectors.spill import DiskSorted

PAGE = 100  # the endpoint's maximum
SOURCE_OF_STATE = {
    "ATTENDED": "webinar_attended",
    "REGISTERED": "webinar_registered",
    "NO_SHOW": "webinar_registered",
}
SOURCES = frozenset(SOURCE_OF_STATE.values())
# Raw names: the marketing event's `name` (as eventName) and the participation's state.
WEBINAR_KEYS: keys.Translation = {
    keys.WEBINAR_NAME: ("eventName",),
    keys.CAMPAIGN: ("eventName",),
    keys.MEMBER_STATUS: ("attendanceState",),
}


class WebinarParticipations:
    def __init__(self, transport: HubSpotTransport, mappings: dict[str, list[ActivityMapping]]):
        self._t = transport
        self._mappings = mappings
        self._api = transport.client.marketing.events.retrieve_participant_state_api
        self._events = transport.client.marketing.events.basic_api

    def stream(self, since: datetime | None) -> Iterator[Activity]:
        """Every participation since `since`, ascending: sorted on disk (`connectors.spill`),
        every call made before the first is handed on."""
        with DiskSorted() as found:
            for event_id in self._event_ids():
                for activity in self._event(event_id, since):
                    found.add((activity.occurred_at.timestamp(), activity.id), activity)
            for _, activity in found:
                yield activity

    def for_contacts(self, ids: Sequence[str], since: datetime | None) -> Iterator[Activity]:
        wanted = set(ids)
        yield from (a for a in self.stream(since) if a.contact_id in wanted)

    def _pages(self, read: Any) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": PAGE, "_preload_content": False}
            if after:
                kwargs["after"] = after
            page = read_json(read(**kwargs))
            yield from page.get("results") or []
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def _event_ids(self) -> list[int]:
        rows = self._pages(self._events.get_all)
        return [int(r["objectId"]) for r in rows if str(r.get("objectId", "")).isdigit()]

    def _event(self, event_id: int, since: datetime | None) -> Iterator[Activity]:
        read = self._api.get_participations_breakdown_by_marketing_event_id
        for row in self._pages(lambda **kw: read(event_id, **kw)):
            contact = ((row.get("associations") or {}).get("contact") or {}).get("contactId")
            if contact:
                found = self._signal(str(contact), row, since)
                if found is not None:
                    yield found

    def _signal(
        self, contact_id: str, row: dict[str, Any], since: datetime | None
    ) -> Activity | None:
        props = row.get("properties") or {}
        state = str(props.get("attendanceState") or "").upper()
        source = SOURCE_OF_STATE.get(state)
        if source is None or not props.get("occurredAt"):
            return None
        occurred = parse_timestamp(str(props["occurredAt"]))
        if since is not None and occurred < since:
            return None
        event = (row.get("associations") or {}).get("marketingEvent") or {}
        raw: dict[str, Any] = {
            "eventName": event.get("name"),
            "marketingEventId": event.get("marketingEventId"),
            "attendanceState": state,
        }
        mapping = next((m for m in self._mappings.get(source, []) if matches(m, raw)), None)
        if mapping is None:
            return None
        props_out = keys.translate(raw, WEBINAR_KEYS)
        ident = f"participation:{row.get('id')}:{state}"
        return signal(self._t.name, ident, contact_id, mapping, occurred, props_out)
