"""HubSpot activities as canonical `Activity`s, mapped by `connection.activities`.

- Engagements (calls, emails, meetings, notes, tasks): contact -> engagement ids through the v4
  associations batch read (1,000 contacts per call), then the engagements through the object
  batch read (100 per call), filtered on `hs_timestamp >= since` and the mapping's `when`.
- Web/marketing events (page_views, form_submissions, email_events, webinars...): one ascending
  stream from the Events API (`GET /events/v3/events`, up to 1,000 per page) since `since`,
  filtered to the requested contacts. A mapping's `when: {eventType: ...}` overrides the
  default event type of its source.

Who did it: engagements are rep touches (an inbound email is the contact's signal); events are
the contact's signals.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from config.connections import ActivityMapping
from connectors.hubspot.transport import HubSpotRejected, HubSpotTransport, read_json
from connectors.mapping import format_timestamp, parse_timestamp
from connectors.records import Activity, ActivityKind, Actor, Contact

ENGAGEMENTS = ("calls", "emails", "meetings", "notes", "tasks")
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "page_views": ("e_visited_page",),
    "form_submissions": ("e_submitted_form",),
    "email_events": ("e_opened_email", "e_clicked_email"),
}
CONTACT_KINDS = frozenset(
    {
        ActivityKind.PAGE_VIEW,
        ActivityKind.FORM_SUBMISSION,
        ActivityKind.EMAIL_OPEN,
        ActivityKind.EMAIL_CLICK,
        ActivityKind.WEBINAR_REGISTERED,
        ActivityKind.WEBINAR_ATTENDED,
        ActivityKind.TRIAL_MILESTONE,
    }
)
CHANNELS = {
    ActivityKind.PAGE_VIEW: "web",
    ActivityKind.FORM_SUBMISSION: "form",
    ActivityKind.EMAIL_OPEN: "email",
    ActivityKind.EMAIL_CLICK: "email",
    ActivityKind.WEBINAR_REGISTERED: "event",
    ActivityKind.WEBINAR_ATTENDED: "event",
    ActivityKind.TRIAL_MILESTONE: "product",
    ActivityKind.CALL: "phone",
    ActivityKind.EMAIL: "email",
    ActivityKind.MEETING: "meeting",
    ActivityKind.NOTE: "note",
    ActivityKind.TASK: "task",
}
ENGAGEMENT_PROPERTIES = {
    "calls": ("hs_call_title", "hs_call_disposition", "hs_call_direction"),
    "emails": ("hs_email_subject", "hs_email_direction", "hs_email_status"),
    "meetings": ("hs_meeting_title", "hs_meeting_outcome"),
    "notes": (),
    "tasks": ("hs_task_subject", "hs_task_status", "hs_task_type"),
}
ASSOCIATION_BATCH = 1000
READ_BATCH = 100
EVENTS_PAGE = 1000


def _matches(mapping: ActivityMapping, props: dict[str, Any]) -> bool:
    return all(str(props.get(k, "")) == v for k, v in mapping.when.items() if k != "eventType")


class ActivityReader:
    def __init__(self, transport: HubSpotTransport, mappings: Sequence[ActivityMapping]) -> None:
        self._t = transport
        self._mappings = list(mappings)
        self._assoc = transport.client.crm.associations.v4.batch_api
        self._events = transport.client.events.events_api
        self._objects: dict[str, Any] = {}
        self._pool = ThreadPoolExecutor(max_workers=len(ENGAGEMENTS), thread_name_prefix="hs-eng")

    def _batch_api(self, source: str) -> Any:
        if source not in self._objects:
            self._objects[source] = getattr(self._t.client.crm.objects, source).batch_api
        return self._objects[source]

    def _by_source(self) -> dict[str, list[ActivityMapping]]:
        by_source: dict[str, list[ActivityMapping]] = {}
        for mapping in self._mappings:
            by_source.setdefault(mapping.source, []).append(mapping)
        return by_source

    def pull(
        self, contacts: Sequence[Contact], since: datetime | None, *, events: bool = True
    ) -> Iterator[Activity]:
        """Engagements of these contacts, and (unless `events=False`) their web events."""
        ids = list(dict.fromkeys(c.id for c in contacts))
        if not ids or not self._mappings:
            return
        by_source = self._by_source()
        sources = [(s, m) for s, m in by_source.items() if s in ENGAGEMENTS]
        # each engagement type is two calls in a row (associations, then the objects); the
        # types go side by side, so a page costs two round trips instead of 2 x types
        futures = [
            self._pool.submit(
                contextvars.copy_context().run,
                lambda s=s, m=m: list(self._engagements(s, m, ids, since)),
            )
            for s, m in sources
        ]
        for future in futures:  # in source order: the result does not depend on timing
            yield from future.result()
        event_mappings = {s: m for s, m in by_source.items() if s not in ENGAGEMENTS}
        if event_mappings and events:
            yield from self._web_events(event_mappings, set(ids), since)

    def event_stream(self, since: datetime | None) -> Iterator[Activity]:
        """Every contact's web/marketing events since `since`, in one ascending stream: one
        call per 1,000 events, however many contacts (the per-batch read costs a stream each)."""
        event_mappings = {s: m for s, m in self._by_source().items() if s not in ENGAGEMENTS}
        if event_mappings:
            yield from self._web_events(event_mappings, None, since)

    # --- engagements -----------------------------------------------------------------------------

    def _associated(self, source: str, ids: Sequence[str]) -> dict[str, list[str]]:
        """engagement id -> contact ids."""
        links: dict[str, list[str]] = {}
        for start in range(0, len(ids), ASSOCIATION_BATCH):
            chunk = ids[start : start + ASSOCIATION_BATCH]
            body = {"inputs": [{"id": i} for i in chunk]}
            page = read_json(
                self._assoc.get_page(
                    "contacts",
                    source,
                    batch_input_public_fetch_associations_batch_request=body,
                    _preload_content=False,
                )
            )
            for row in page.get("results", []):
                contact_id = str(row["from"]["id"])
                for target in row.get("to", []):
                    links.setdefault(str(target["toObjectId"]), []).append(contact_id)
        return links

    def _engagements(
        self,
        source: str,
        mappings: list[ActivityMapping],
        ids: Sequence[str],
        since: datetime | None,
    ) -> Iterator[Activity]:
        links = self._associated(source, ids)
        wanted = {"hs_timestamp", "hubspot_owner_id", *ENGAGEMENT_PROPERTIES.get(source, ())}
        for mapping in mappings:
            wanted.update(k for k in mapping.when if k != "eventType")
        engagement_ids = list(links)
        api = self._batch_api(source)
        for start in range(0, len(engagement_ids), READ_BATCH):
            chunk = engagement_ids[start : start + READ_BATCH]
            body = {"inputs": [{"id": i} for i in chunk], "properties": sorted(wanted)}
            page = read_json(
                api.read(
                    batch_read_input_simple_public_object_id=body,
                    archived=False,
                    _preload_content=False,
                )
            )
            for raw in page.get("results", []):
                yield from self._engagement(source, mappings, raw, links, since)

    def _engagement(
        self,
        source: str,
        mappings: list[ActivityMapping],
        raw: dict[str, Any],
        links: dict[str, list[str]],
        since: datetime | None,
    ) -> Iterator[Activity]:
        props = raw.get("properties") or {}
        stamp = props.get("hs_timestamp") or raw.get("createdAt")
        if not stamp:
            return
        occurred = parse_timestamp(stamp)
        if since is not None and occurred < since:
            return
        mapping = next((m for m in mappings if _matches(m, props)), None)
        if mapping is None:
            return
        inbound = str(props.get("hs_email_direction", "")).upper() == "INCOMING_EMAIL"
        actor = Actor.CONTACT if inbound or mapping.kind in CONTACT_KINDS else Actor.REP
        extra = {k: str(v) for k, v in props.items() if v not in (None, "") and k != "hs_timestamp"}
        for contact_id in links.get(str(raw["id"]), []):
            yield Activity(
                connection=self._t.name,
                id=f"{source}:{raw['id']}",
                contact_id=contact_id,
                kind=mapping.kind,
                occurred_at=occurred,
                actor=actor,
                channel=CHANNELS.get(mapping.kind, source),
                owner_id=str(props["hubspot_owner_id"]) if props.get("hubspot_owner_id") else None,
                properties=extra,
            )

    # --- web and marketing events ----------------------------------------------------------------

    def _web_events(
        self,
        mappings: dict[str, list[ActivityMapping]],
        ids: set[str] | None,
        since: datetime | None,
    ) -> Iterator[Activity]:
        explicit: dict[str, list[ActivityMapping]] = {}
        by_suffix: list[tuple[str, ActivityMapping]] = []
        for source, group in mappings.items():
            for mapping in group:
                if "eventType" in mapping.when:
                    explicit.setdefault(mapping.when["eventType"], []).append(mapping)
                elif source in EVENT_TYPES:
                    for event_type in EVENT_TYPES[source]:
                        explicit.setdefault(event_type, []).append(mapping)
                else:  # custom events: pe<portalId>_<source>
                    by_suffix.append((f"_{source}", mapping))

        def candidates(event_type: str) -> list[ActivityMapping]:
            found = list(explicit.get(event_type, []))
            found += [m for suffix, m in by_suffix if event_type.endswith(suffix)]
            return found

        after: str | None = None
        occurred_after = None if since is None else since - timedelta(milliseconds=1)
        while True:
            kwargs: dict[str, Any] = {
                "object_type": "contact",
                "limit": EVENTS_PAGE,
                "sort": ["ASCENDING"],
                "_preload_content": False,
            }
            if not by_suffix:  # every type is known: let HubSpot filter
                kwargs["event_type"] = ",".join(sorted(explicit))
            if occurred_after is not None:
                kwargs["occurred_after"] = format_timestamp(occurred_after)
            if after:
                kwargs["after"] = after
            try:
                page = read_json(self._events.get_page(**kwargs))
            except HubSpotRejected:
                return  # no Events API access on this portal: nothing to read
            for raw in page.get("results", []):
                contact_id = str(raw.get("objectId"))
                if ids is not None and contact_id not in ids:
                    continue
                props = {str(k): str(v) for k, v in (raw.get("properties") or {}).items()}
                group = candidates(str(raw.get("eventType")))
                matched = next((m for m in group if _matches(m, props)), None)
                if matched is None:
                    continue
                yield Activity(
                    connection=self._t.name,
                    id=f"event:{raw.get('id')}",
                    contact_id=contact_id,
                    kind=matched.kind,
                    occurred_at=parse_timestamp(raw["occurredAt"]),
                    actor=Actor.CONTACT if matched.kind in CONTACT_KINDS else Actor.REP,
                    channel=CHANNELS.get(matched.kind, "web"),
                    properties=props,
                )
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return
