"""HubSpot activities as canonical `Activity`s, mapped by `connection.activities`.

- Engagements (calls, emails, meetings, notes, tasks; every tier): contact -> engagement ids
  from a full sync's contact list pages (`inline_links.py`), else through the v4 associations
  batch read (1,000 contacts per call), then the engagements through
  the object batch read (100 per call), filtered on `hs_timestamp >= since` and the mapping's
  `when`.
- Web and marketing behaviour, from the best source the portal's `tier` can read
  (docs/activity-properties.md, with HubSpot's sources):
  form submissions through the Forms API on every tier (`forms.py`: one portal-wide stream per
  run with its own cursor); page views, email opens/clicks and custom events (webinars, trial
  milestones) on Enterprise through the Events API, one query per contact that changed
  (`web.RecordEvents`); below Enterprise webinars come from the Marketing Events API
  (`webinars.py`, one portal-wide pass per run) and page views and email opens/clicks from the
  contact analytics history (`web.AnalyticsHistory`) and custom events are not readable. Whatever is
  unavailable or refused is a run warning (`warnings`), never silence.

Every property is translated to the canonical keys of `connectors.activity_keys`; the raw ones
stay as `raw.<name>`. A mapping's `when:` conditions test the raw names.

Who did it: engagements are rep touches (an inbound email is the contact's signal); web and
marketing activity is the contact's signal.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any

import structlog

from config.connections import ActivityMapping
from connectors import activity_keys as keys
from connectors.errors import ConnectorError, unless_refused
from connectors.hubspot.conversions import RecentConversions
from connectors.hubspot.form_reads import FormReads
from connectors.hubspot.forms import FormSubmissions
from connectors.hubspot.inline_links import InlineLinks
from connectors.hubspot.last_touch import LastTouches
from connectors.hubspot.transport import HubSpotTransport, read_json
from connectors.hubspot.web import (
    CHANNELS,
    CONTACT_KINDS,
    LAST_CLICK,
    LAST_OPEN,
    LAST_URL,
    AnalyticsHistory,
    RecordEvents,
    matches,
)
from connectors.hubspot.webinars import SOURCES as WEBINAR_SOURCES
from connectors.hubspot.webinars import WebinarParticipations
from connectors.mapping import parse_timestamp
from connectors.records import Activity, Actor, Contact

log = structlog.get_logger("handoff.hubspot")

ENGAGEMENTS = ("calls", "emails", "meetings", "notes", "tasks")
# the engagements the contact's activity rollups follow (`last_touch.py`): an incremental pull
# skips them for a changed contact whose rollups are all older than its cursor; tasks (a
# completed task moves no rollup) are read as before
TOUCHED = ("calls", "emails", "meetings", "notes")
ENGAGEMENT_PROPERTIES = {
    "calls": ("hs_call_title", "hs_call_disposition", "hs_call_direction"),
    "emails": ("hs_email_subject", "hs_email_direction", "hs_email_status"),
    "meetings": ("hs_meeting_title", "hs_meeting_outcome"),
    "notes": (),
    "tasks": ("hs_task_subject", "hs_task_status", "hs_task_type"),
}
ENGAGEMENT_KEYS: dict[str, keys.Translation] = {
    "calls": {keys.SUBJECT: ("hs_call_title",)},
    "emails": {keys.EMAIL_SUBJECT: ("hs_email_subject",), keys.SUBJECT: ("hs_email_subject",)},
    "meetings": {keys.SUBJECT: ("hs_meeting_title",)},
    "notes": {},
    "tasks": {keys.SUBJECT: ("hs_task_subject",)},
}
ASSOCIATION_BATCH = 1000
READ_BATCH = 100
ENTERPRISE = "enterprise"


def refused(exc: ConnectorError) -> bool:
    """HubSpot said no to this source (scope or tier), as opposed to a failing call."""
    return exc.status == 403


class ActivityReader:
    def __init__(
        self,
        transport: HubSpotTransport,
        mappings: Sequence[ActivityMapping],
        *,
        tier: str = "professional",
        stages: dict[str, list[str]] | None = None,
        inline: InlineLinks | None = None,
        touches: LastTouches | None = None,
        conversions: RecentConversions | None = None,
    ) -> None:
        self._t = transport
        self._inline = inline if inline is not None else InlineLinks()
        self._touches = touches if touches is not None else LastTouches()
        self._mappings = list(mappings)
        self._tier = tier
        self._stages = dict(stages or {})
        self._assoc = transport.client.crm.associations.v4.batch_api
        self._objects: dict[str, Any] = {}
        self._pool = ThreadPoolExecutor(max_workers=len(ENGAGEMENTS), thread_name_prefix="hs-eng")
        self.warnings: list[str] = []  # what this portal cannot give, for the run's report
        web = {s: m for s, m in self._by_source().items() if s not in ENGAGEMENTS}
        forms = web.pop("form_submissions", [])
        self._page_mappings = web.get("page_views", [])
        self._forms = (
            FormReads(
                FormSubmissions(transport, forms), conversions, warn=self._warn, refused=refused
            )
            if forms
            else None
        )
        self._events: RecordEvents | None = None
        self._history: AnalyticsHistory | None = None
        self._webinars: WebinarParticipations | None = None
        if tier == ENTERPRISE and web:
            self._events = RecordEvents(transport, web)
        else:
            self._below_enterprise(web)

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            log.warning("hubspot.behaviour_source", connection=self._t.name, warning=message)

    def _below_enterprise(self, web: dict[str, list[ActivityMapping]], why: str = "") -> None:
        why = why or f"on a {self._tier} HubSpot portal (the Events API is Enterprise-only)"
        webinars = {s: web.pop(s) for s in sorted(WEBINAR_SOURCES & set(web))}
        if webinars:
            self._webinars = WebinarParticipations(self._t, webinars)
        self._history = AnalyticsHistory(self._t, web)
        read = set(self._history.properties)
        if self._page_mappings:
            if LAST_URL in read:
                self._warn(
                    f"page views unavailable {why}: using the {LAST_URL} history "
                    "(one page view per change of the contact's last page seen)"
                )
            else:
                self._warn(f"page views unavailable {why}: not read")
        if "email_events" in web:
            if read & {LAST_OPEN, LAST_CLICK}:
                self._warn(
                    f"email_events unavailable {why}: using the {LAST_OPEN} and {LAST_CLICK} "
                    "history (one open / click per change; no subject or campaign)"
                )
            else:
                self._warn(f"email_events unavailable {why}: not read")
        for source in sorted(set(web) - {"page_views", "email_events"}):
            self._warn(f"{source} unavailable {why}: not read")

    def _batch_api(self, source: str) -> Any:
        if source not in self._objects:
            self._objects[source] = getattr(self._t.client.crm.objects, source).batch_api
        return self._objects[source]

    def _by_source(self) -> dict[str, list[ActivityMapping]]:
        by_source: dict[str, list[ActivityMapping]] = {}
        for mapping in self._mappings:
            by_source.setdefault(mapping.source, []).append(mapping)
        return by_source

    def probe(self) -> dict[str, str]:
        """Which behaviour sources this token can read, asked of HubSpot (one call each)."""
        out: dict[str, str] = {}
        try:
            self._t.client.marketing.forms.forms_api.get_page(limit=1, _preload_content=False)
            out["form_submissions"] = "readable: Forms API (every tier)"
        except ConnectorError as exc:
            if not refused(exc):
                raise
            out["form_submissions"] = f"refused: Forms API ({exc}); grant the forms scope"
        try:
            self._t.client.events.events_api.get_types(_preload_content=False)
            events, why = True, ""
        except ConnectorError as exc:
            if not refused(exc):
                raise
            events, why = False, str(exc)
        if events:
            note = "" if self._tier == ENTERPRISE else " (set tier: enterprise to use it)"
            out["page_views"] = f"readable: Events API, per contact{note}"
            out["email_events"] = f"readable: Events API{note}"
            out["webinars, custom events"] = f"readable: Events API{note}"
        else:
            mismatch = " although tier is enterprise" if self._tier == ENTERPRISE else ""
            out["page_views"] = (
                f"readable: {LAST_URL} history (the Events API refused{mismatch}: {why})"
            )
            out["email_events"] = f"readable: {LAST_OPEN} / {LAST_CLICK} history"
            out["webinars"] = self._probe_webinars()
            out["custom events (trial milestones)"] = (
                "unavailable: the Events API is Enterprise-only"
            )
        out["engagements (calls, emails, meetings, notes, tasks)"] = "readable: CRM objects"
        return out

    def _probe_webinars(self) -> str:
        try:
            self._t.client.marketing.events.basic_api.get_all(limit=1, _preload_content=False)
        except ConnectorError as exc:
            if not refused(exc):
                raise
            return f"refused: Marketing Events API ({exc}); grant its read scope"
        return "readable: Marketing Events API participations (every tier)"

    def _staged(self, found: Iterator[Activity]) -> Iterator[Activity]:
        """Activities with the funnel stage `hubspot.asset_stages` gives their url."""
        if not self._stages:
            yield from found
            return
        for activity in found:
            staged = keys.stage_by_url(dict(activity.properties), self._stages)
            yield activity if staged is None else replace(activity, properties=staged)

    def pull(
        self, contacts: Sequence[Contact], since: datetime | None, *, events: bool = True
    ) -> Iterator[Activity]:
        """Engagements and web behaviour of these contacts; form submissions too unless
        `events=False` (then they come from the run's `event_stream`)."""
        yield from self._staged(self._pull(contacts, since, events=events))

    def _pull(
        self, contacts: Sequence[Contact], since: datetime | None, *, events: bool
    ) -> Iterator[Activity]:
        ids = list(dict.fromkeys(c.id for c in contacts))
        if not ids or not self._mappings:
            return
        sources = [(s, m) for s, m in self._by_source().items() if s in ENGAGEMENTS]
        touched = self._touches.recent(ids, since)  # no newer engagement: nothing to read
        # each engagement type is two calls in a row (associations, then the objects); the
        # types go side by side, so a page costs two round trips instead of 2 x types
        futures = [
            self._pool.submit(
                contextvars.copy_context().run,
                lambda s=s, m=m, i=touched if s in TOUCHED else ids: list(
                    self._engagements(s, m, i, since)
                ),
            )
            for s, m in sources
        ]
        for future in futures:  # in source order: the result does not depend on timing
            yield from future.result()
        yield from self._web(ids, since)
        if events and self._forms is not None:
            yield from self._forms.for_contacts(contacts, since)
        elif self._forms is not None:  # the run's stream reads them: held ones, stand-ins
            yield from self._forms.for_page(contacts, ids)
        if events:
            yield from self._read_webinars(lambda w: w.for_contacts(ids, since))

    def event_stream(
        self, since: datetime | None, hold_until: datetime | None = None
    ) -> Iterator[Activity]:
        """Every contact's form submissions since `since`, ascending (the Forms API is
        portal-wide: one pass over the forms per run, however many contacts). With
        `hold_until` (the run lists every contact, and started then) the submissions are held
        for the pages instead (`held_forms.py`), and `unclaimed` gives the rest."""
        if self._forms is not None and hold_until is not None:
            self._forms.hold(since, hold_until)
        elif self._forms is not None:
            yield from self._staged(self._forms.stream(since))
        yield from self._read_webinars(lambda w: w.stream(since))

    def unclaimed(self) -> tuple[list[Activity], datetime | None]:
        """The held submissions no page took, and the newest held (form_reads.py)."""
        if self._forms is None:
            return [], None
        found, latest = self._forms.unclaimed()
        return list(self._staged(iter(found))), latest

    def release_held(self) -> None:
        if self._forms is not None:
            self._forms.release()

    def _read_webinars(self, read: Any) -> Iterator[Activity]:
        """Webinar participations below Enterprise (portal-wide, event by event)."""
        webinars = self._webinars
        if webinars is None:
            return iter(())
        return unless_refused(lambda: read(webinars), refused, self._webinars_refused)

    def _webinars_refused(self, exc: ConnectorError) -> None:
        self._webinars = None
        self._warn(
            f"webinars unavailable: the Marketing Events API refused ({exc}); "
            "grant the app the crm.objects.marketing_events.read scope"
        )

    def _web(self, ids: list[str], since: datetime | None) -> Iterator[Activity]:
        if self._events is not None:
            try:
                yield from list(self._events.pull(ids, since))
                return
            except ConnectorError as exc:
                if not refused(exc):
                    raise
                web = {s: m for s, m in self._by_source().items() if s not in ENGAGEMENTS}
                web.pop("form_submissions", None)
                self._events.close()
                self._events = None
                self._below_enterprise(
                    web,
                    f"although tier is {self._tier}: the Events API refused this portal "
                    f"({exc}; check connections[].hubspot.tier and the app's scopes)",
                )
        if self._history is not None:
            yield from self._history.pull(ids, since)

    # --- engagements -----------------------------------------------------------------------------

    def _associated(self, source: str, ids: Sequence[str]) -> dict[str, list[str]]:
        """engagement id -> contact ids."""
        links: dict[str, list[str]] = {}
        known, ids = self._inline.split(source, ids)
        for contact_id, rows in known.items():
            for linked, _ in rows:
                contacts = links.setdefault(linked, [])
                if contact_id not in contacts:
                    contacts.append(contact_id)
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
        mapping = next((m for m in mappings if matches(m, props)), None)
        if mapping is None:
            return
        inbound = str(props.get("hs_email_direction", "")).upper() == "INCOMING_EMAIL"
        actor = Actor.CONTACT if inbound or mapping.kind in CONTACT_KINDS else Actor.REP
        extra = keys.translate(
            {k: v for k, v in props.items() if k != "hs_timestamp"}, ENGAGEMENT_KEYS.get(source, {})
        )
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
