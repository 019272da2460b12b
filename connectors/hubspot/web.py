"""A contact's web and marketing behaviour, from the best source the portal's tier can read.

docs/activity-properties.md has the tier -> source matrix with HubSpot's sources:

- Events API (`GET /events/v3/events`, Enterprise only, one record per query): page views,
  email opens/clicks and custom events (webinars, trial milestones) of the contacts that
  changed, one query per contact (`objectType=contact&objectId=...`, ascending, since the
  cursor). Rate limited by the transport's ten-secondly limiter like any call.
- Contact analytics history (every tier): each version of `hs_analytics_last_url` ("last page
  seen") is one page view at that time, of `hs_email_last_open_date` / `_click_date` one email
  open / click, read through the contacts batch read with `propertiesWithHistory` (at most 50
  contacts a call): the Starter/Professional page views and email events. It sees the last page
  of each change, not every page of a visit, and no email subject or campaign.

Form submissions come from the Forms API on every tier (`connectors.hubspot.forms`).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from config.connections import ActivityMapping
from connectors import activity_keys as keys
from connectors.hubspot.transport import HubSpotTransport, read_json
from connectors.mapping import format_timestamp, parse_timestamp
from connectors.records import Activity, ActivityKind, Actor

# eventType -> canonical keys (raw event properties as the Events API names them).
EVENT_KEYS: dict[str, keys.Translation] = {
    "e_visited_page": {keys.URL: ("hs_url",), keys.PAGE_TITLE: ("hs_page_title",)},
    "e_submitted_form": {
        keys.FORM_NAME: ("hs_form_title",),
        keys.FORM_ID: ("hs_form_id",),
        keys.URL: ("hs_url",),
    },
    "e_opened_email": {
        keys.EMAIL_SUBJECT: ("hs_email_subject",),
        keys.CAMPAIGN: ("hs_email_campaign_name",),
    },
    "e_clicked_email": {
        keys.EMAIL_SUBJECT: ("hs_email_subject",),
        keys.CAMPAIGN: ("hs_email_campaign_name",),
        keys.URL: ("hs_url",),
    },
}
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "page_views": ("e_visited_page",),
    "form_submissions": ("e_submitted_form",),
    "email_events": ("e_opened_email", "e_clicked_email"),
}
LAST_URL = "hs_analytics_last_url"
LAST_OPEN = "hs_email_last_open_date"
LAST_CLICK = "hs_email_last_click_date"
# contact analytics property -> the event type each of its versions stands for
HISTORY_EVENTS = {
    LAST_URL: "e_visited_page",
    LAST_OPEN: "e_opened_email",
    LAST_CLICK: "e_clicked_email",
}
HISTORY_KEYS: dict[str, keys.Translation] = {LAST_URL: {keys.URL: (LAST_URL,)}}
HISTORY_BATCH = 50  # HubSpot: "maximum number of inputs ... for property histories is 50"
EVENTS_PAGE = 1000
EVENT_WORKERS = 4
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


def matches(mapping: ActivityMapping, props: dict[str, Any]) -> bool:
    """The mapping's `when:` conditions, on the CRM's raw property names."""
    return all(str(props.get(k, "")) == v for k, v in mapping.when.items() if k != "eventType")


def signal(
    connection: str,
    ident: str,
    contact_id: str,
    mapping: ActivityMapping,
    occurred: datetime,
    props: dict[str, str],
) -> Activity:
    return Activity(
        connection=connection,
        id=ident,
        contact_id=contact_id,
        kind=mapping.kind,
        occurred_at=occurred,
        actor=Actor.CONTACT if mapping.kind in CONTACT_KINDS else Actor.REP,
        channel=CHANNELS.get(mapping.kind, "web"),
        properties=props,
    )


class RecordEvents:
    """Enterprise: the Events API, one contact per query, only for the contacts given."""

    def __init__(self, transport: HubSpotTransport, mappings: dict[str, list[ActivityMapping]]):
        self._t = transport
        self._api = transport.client.events.events_api
        explicit: dict[str, list[ActivityMapping]] = {}
        self._by_suffix: list[tuple[str, ActivityMapping]] = []
        for source, group in mappings.items():
            for mapping in group:
                if "eventType" in mapping.when:
                    explicit.setdefault(mapping.when["eventType"], []).append(mapping)
                elif source in EVENT_TYPES:
                    for event_type in EVENT_TYPES[source]:
                        explicit.setdefault(event_type, []).append(mapping)
                else:  # custom events: pe<portalId>_<source>
                    self._by_suffix.append((f"_{source}", mapping))
        self._explicit = explicit
        self._pool = ThreadPoolExecutor(max_workers=EVENT_WORKERS, thread_name_prefix="hs-ev")

    def _candidates(self, event_type: str) -> list[ActivityMapping]:
        found = list(self._explicit.get(event_type, []))
        found += [m for suffix, m in self._by_suffix if event_type.endswith(suffix)]
        return found

    def pull(self, ids: Sequence[str], since: datetime | None) -> Iterator[Activity]:
        """Each contact's events since `since`; a 403 raises (the caller falls back)."""
        read = self._contact
        futures = [
            self._pool.submit(contextvars.copy_context().run, lambda i=i: list(read(i, since)))
            for i in ids
        ]
        for future in futures:  # in contact order: the result does not depend on timing
            yield from future.result()

    def _contact(self, contact_id: str, since: datetime | None) -> Iterator[Activity]:
        after: str | None = None
        occurred_after = None if since is None else since - timedelta(milliseconds=1)
        while True:
            kwargs: dict[str, Any] = {
                "object_type": "contact",
                "object_id": int(contact_id),
                "limit": EVENTS_PAGE,
                "sort": ["ASCENDING"],
                "_preload_content": False,
            }
            if occurred_after is not None:
                kwargs["occurred_after"] = format_timestamp(occurred_after)
            if after:
                kwargs["after"] = after
            page = read_json(self._api.get_page(**kwargs))
            for raw in page.get("results", []):
                event_type = str(raw.get("eventType"))
                found = raw.get("properties") or {}
                matched = next((m for m in self._candidates(event_type) if matches(m, found)), None)
                if matched is None:
                    continue
                props = keys.translate(found, EVENT_KEYS.get(event_type, {}))
                occurred = parse_timestamp(raw["occurredAt"])
                yield signal(
                    self._t.name, f"event:{raw.get('id')}", contact_id, matched, occurred, props
                )
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class AnalyticsHistory:
    """Every tier: behaviour as the versions of HubSpot's contact analytics properties, 50
    contacts a call: each version of `hs_analytics_last_url` is a page view, of
    `hs_email_last_open_date` an email open, of `hs_email_last_click_date` an email click."""

    def __init__(
        self, transport: HubSpotTransport, mappings: dict[str, list[ActivityMapping]]
    ) -> None:
        self._t = transport
        self._api = transport.client.crm.contacts.batch_api
        self._by_property: dict[str, list[ActivityMapping]] = {}
        for prop, event_type in HISTORY_EVENTS.items():
            found = [
                m
                for source, group in mappings.items()
                for m in group
                if m.when.get("eventType") == event_type
                or ("eventType" not in m.when and event_type in EVENT_TYPES.get(source, ()))
            ]
            if found:
                self._by_property[prop] = found

    @property
    def properties(self) -> list[str]:
        return sorted(self._by_property)

    def pull(self, ids: Sequence[str], since: datetime | None) -> Iterator[Activity]:
        if not self._by_property:
            return
        for start in range(0, len(ids), HISTORY_BATCH):
            chunk = ids[start : start + HISTORY_BATCH]
            body = {
                "inputs": [{"id": i} for i in chunk],
                "properties": self.properties,
                "propertiesWithHistory": self.properties,
            }
            page = read_json(
                self._api.read(
                    batch_read_input_simple_public_object_id=body,
                    archived=False,
                    _preload_content=False,
                )
            )
            for row in page.get("results", []):
                contact_id = str(row["id"])
                history = row.get("propertiesWithHistory") or {}
                for prop in self.properties:
                    for version in history.get(prop) or []:
                        yield from self._signal(contact_id, prop, version, since)

    def _signal(
        self, contact_id: str, prop: str, version: dict[str, Any], since: datetime | None
    ) -> Iterator[Activity]:
        value, stamp = version.get("value"), version.get("timestamp")
        if not value or not stamp:
            return
        occurred = parse_timestamp(stamp)
        if since is not None and occurred < since:
            return
        raw = {prop: str(value)}
        mapping = next((m for m in self._by_property[prop] if matches(m, raw)), None)
        if mapping is None:
            return
        props = keys.translate(raw, HISTORY_KEYS.get(prop, {}))
        ident = f"history:{prop}:{contact_id}:{int(occurred.timestamp() * 1000)}"
        yield signal(self._t.name, ident, contact_id, mapping, occurred, props)
