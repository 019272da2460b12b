"""HubSpotConnector: the CrmConnector port over hubspot-api-client (see the sibling modules)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog

from config.connections import Connection, FieldMapping, FieldType
from connectors.base import ApiUsage, ContactBatch
from connectors.errors import FatalError, SkippableError
from connectors.hubspot.activities import ASSOCIATION_BATCH, ENGAGEMENTS, TOUCHED, ActivityReader
from connectors.hubspot.companies import CompanyReader
from connectors.hubspot.contacts import ContactReader
from connectors.hubspot.conversion_search import converted_between
from connectors.hubspot.conversions import RecentConversions
from connectors.hubspot.inline_links import InlineLinks
from connectors.hubspot.last_touch import LastTouches
from connectors.hubspot.tasks import TASK_KEY, TaskWriter
from connectors.hubspot.transport import HubSpotRejected, HubSpotTransport, read_json
from connectors.hubspot.writes import FieldWriter
from connectors.mapping import FieldCodec
from connectors.records import Activity, Contact, FieldChange, Owner, TaskRequest, WriteOutcome

log = structlog.get_logger("handoff.hubspot")

# FieldType -> (HubSpot property type, fieldType) for `handoff crm setup`.
PROPERTY_TYPES = {
    FieldType.STRING: ("string", "text"),
    FieldType.NUMBER: ("number", "number"),
    FieldType.INTEGER: ("number", "number"),
    FieldType.BOOLEAN: ("bool", "booleancheckbox"),
    FieldType.DATETIME: ("datetime", "date"),
    FieldType.DATE: ("date", "date"),
    FieldType.ENUM: ("enumeration", "select"),
}
GROUPS = {"contacts": "contactinformation", "tasks": "taskinformation"}


class HubSpotConnector:
    """One HubSpot portal (a `Connection` of kind hubspot)."""

    def __init__(
        self,
        connection: Connection,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`sleep` and `clock` (monotonic seconds) drive the limiter and retry waits."""
        if connection.kind != "hubspot":
            raise FatalError(
                f"connection kind is {connection.kind}, not hubspot", connection=connection.name
            )
        if set(connection.objects) - {"contact"}:
            raise FatalError(
                "HubSpot connections map only 'contact' under objects:", connection=connection.name
            )
        self.name = connection.name
        self.connection = connection
        self.transport = HubSpotTransport(connection, sleep=sleep, clock=clock)
        self.usage: ApiUsage = self.transport.usage
        self.problems: list[SkippableError] = []  # malformed values seen while pulling
        self._account_warnings: list[str] = []  # refused company scope, missing properties
        self._codecs = {
            object_type: FieldCodec(
                connection.field_mappings(object_type),
                wire="string",
                connection=self.name,
                closed=connection.custom_names(object_type),
            )
            for object_type in connection.objects
        }
        # a full sync's contact pages bring the companies and engagements linked to each contact
        self._inline = InlineLinks()
        engagements = {a.source for a in connection.activities} & set(ENGAGEMENTS)
        companies = ("companies",) if connection.accounts.enabled else ()
        self._inline.wanted = (*companies, *sorted(engagements))
        # an incremental pull's contact pages bring each contact's activity rollups
        self._touches = LastTouches()
        self._touches.enabled = bool(engagements & set(TOUCHED))
        # the latest form submission of a contact read by id (the fast path): conversions.py
        forms = [a for a in connection.activities if a.source == "form_submissions"]
        self._conversions = RecentConversions(self.name, forms)
        self._contacts = {
            object_type: ContactReader(
                self.transport,
                codec,
                object_type=object_type,
                overlap=connection.overlap,
                problems=self.problems,
                inline=self._inline,
                touches=self._touches,
                conversions=self._conversions,
            )
            for object_type, codec in self._codecs.items()
        }
        settings = connection.hubspot
        self._activities = ActivityReader(
            self.transport,
            connection.activities,
            tier=settings.tier if settings else "professional",
            stages={str(k): v for k, v in settings.asset_stages.items()} if settings else None,
            inline=self._inline,
            touches=self._touches,
            conversions=self._conversions,
        )
        self._companies = self._company_reader()
        self._fields = FieldWriter(self.transport, self._codecs)
        self._tasks = TaskWriter(self.transport)
        self._owners = self.transport.client.crm.owners.owners_api
        self._properties = self.transport.client.crm.properties.core_api

    def object_types(self) -> Sequence[str]:
        return list(self._codecs)

    def _reader(self, object_type: str) -> ContactReader:
        try:
            return self._contacts[object_type]
        except KeyError:
            raise FatalError(
                f"object '{object_type}' is not mapped for this connection", connection=self.name
            ) from None

    def pull_contacts(
        self, object_type: str, since: datetime | None, until: datetime
    ) -> Iterator[ContactBatch]:
        return self._reader(object_type).pull(since, until)

    def pull_activities(
        self, contacts: Sequence[Contact], since: datetime | None
    ) -> Iterator[Activity]:
        yield from self._activities.pull(contacts, since, events=not self.streams_events)
        read = [c.id for c in contacts]
        self._inline.forget(read)  # read: their inline links are done with
        self._touches.forget(read)

    @property
    def companies_read(self) -> int:
        """Company records read since the run began (`begin_accounts`)."""
        return self._companies.read

    def _company_reader(self) -> CompanyReader:
        return CompanyReader(self.transport, self.connection.accounts, self._warn, self._inline)

    def with_accounts(self, contacts: Sequence[Contact]) -> list[Contact]:
        """Each contact with its primary company's fields and owner (AccountLookup)."""
        return self._companies.with_companies(contacts)

    def begin_accounts(self) -> None:
        self._account_warnings.clear()
        self._companies = self._company_reader()
        self._check_custom_properties()

    def _check_custom_properties(self) -> None:
        """HubSpot ignores property names a portal lacks, so a custom field whose property is
        missing (or misspelt) would read blank for everyone: say so, once per run."""
        custom = self.connection.custom_fields.get("contact", {})
        if not custom:
            return
        try:
            page = read_json(self._properties.get_all("contacts", _preload_content=False))
        except (FatalError, HubSpotRejected) as exc:
            if exc.status != 403:
                raise
            return  # no schema scope: the pull itself still works
        existing = {str(p.get("name")) for p in page.get("results", [])}
        for name, field in custom.items():
            if field.property not in existing:
                self._warn(
                    f"HubSpot contact property '{field.property}' (custom field {name}) does not "
                    "exist in this portal: every contact reads it blank; fix "
                    "connections[].custom_fields.contact or create the property"
                )

    def _warn(self, message: str) -> None:
        if message not in self._account_warnings:
            self._account_warnings.append(message)
            log.warning("hubspot.warning", connection=self.name, warning=message)

    # Form submissions are read as one stream per run (`pull_event_stream`) by the pipeline, not per
    # batch of contacts; set False to read them per batch (the contract suite does).
    streams_events = False
    # The next contact page may be read while this one's activities are (the transport, its
    # limiters and usage counters are thread-safe): search pages (5/s) then overlap the
    # ten-secondly bucket's activity reads instead of waiting for them.
    reads_pages_ahead = True
    # New contacts whose activities are read together: one associations batch read takes
    # 1,000 ids, so ten list pages (or five search pages) cost one call per engagement type.
    activity_batch = ASSOCIATION_BATCH
    # Records per write chunk (sync/apply.py): 20 batch updates. A lifecycle regression is
    # cleared in a request before it is set, and a chunk's clears (~2% of its records) go in a
    # batch of their own: at 1,000 records a chunk that was one ~20-input batch per ten full ones
    # (~1,000 calls over a 1,000,000-contact full sync), at 2,000 one per twenty. A chunk's
    # outbox rows are held while it is sent: 5,000 records grew a 100,000-contact full sync's
    # peak RSS by ~70 MB (190 -> 261 MB), 2,000 by about a fifth of that.
    write_chunk_records = 2000

    def pull_event_stream(self, since: datetime | None) -> Iterator[Activity]:
        """Every contact's form submissions since `since`, ascending (ActivityStream): the
        Forms API is portal-wide; per-contact behaviour is read with each page of contacts."""
        return self._activities.event_stream(since)

    def held_event_stream(self, since: datetime | None, until: datetime) -> Iterator[Activity]:
        """The same stream in a run that lists every contact (HeldEventStream): the form
        submissions are held for its pages (connectors/hubspot/held_forms.py)."""
        return self._activities.event_stream(since, hold_until=until)

    def unclaimed_events(self) -> tuple[list[Activity], datetime | None]:
        return self._activities.unclaimed()

    @property
    def warnings(self) -> list[str]:
        """Behaviour this portal cannot give (tier, scopes), for the run's report."""
        return [*self._activities.warnings, *self._account_warnings]

    def behaviour_sources(self) -> dict[str, str]:
        """Behaviour source -> what reads it, after probing the token (`crm setup --check`)."""
        return self._activities.probe()

    def pull_owners(self) -> Sequence[Owner]:
        owners: list[Owner] = []
        for archived in (False, True):
            after: str | None = None
            while True:
                page = read_json(
                    self._owners.get_page(
                        limit=100, after=after, archived=archived, _preload_content=False
                    )
                )
                for raw in page.get("results", []):
                    name = " ".join(
                        p for p in (raw.get("firstName"), raw.get("lastName")) if p
                    ).strip()
                    owners.append(
                        Owner(
                            connection=self.name,
                            id=str(raw["id"]),
                            email=raw.get("email"),
                            name=name,
                            active=not archived and not raw.get("archived", False),
                        )
                    )
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
        return owners

    def read_fields(
        self, object_type: str, ids: Sequence[str], fields: Sequence[str]
    ) -> Mapping[str, Mapping[str, Any]]:
        reader = self._reader(object_type)
        codec = self._codecs[object_type]
        out: dict[str, Mapping[str, Any]] = {}
        for record_id, raw in reader.read(ids).items():
            props = raw.get("properties") or {}
            values: dict[str, Any] = {}
            for name in fields:
                prop = codec.property_for(name)
                values[name] = codec.decode_value(name, props.get(prop), record_id)
            out[record_id] = values
        return out

    def read_contacts(self, object_type: str, ids: Sequence[str]) -> list[Contact]:
        """These records as a pull maps them (the webhook fast path); missing ones absent."""
        reader = self._reader(object_type)
        return [reader.to_contact(raw) for raw in reader.read(ids).values()]

    def converted_between(self, since: datetime, until: datetime) -> Iterator[tuple[str, datetime]]:
        """(contact id, latest conversion) of the contacts whose latest conversion is in
        [since, until], oldest first: the fast path's catch-up (conversion_search.py)."""
        return converted_between(self.transport.client.crm.contacts.search_api, since, until)

    def apply_changes(self, changes: Sequence[FieldChange]) -> Sequence[WriteOutcome]:
        return self._fields.apply(changes)

    def create_tasks(self, tasks: Sequence[TaskRequest]) -> Sequence[WriteOutcome]:
        return self._tasks.create(tasks)

    # --- handoff crm setup -----------------------------------------------------------------------

    def _wanted(self) -> dict[str, dict[str, FieldMapping | None]]:
        wanted: dict[str, dict[str, FieldMapping | None]] = {
            "contacts": {},
            "tasks": {TASK_KEY: None},
        }
        for fields in self.connection.objects.values():
            for mapping in fields.values():
                if mapping.managed:
                    wanted["contacts"][mapping.property] = mapping
        return wanted

    def _existing(self, object_type: str) -> set[str]:
        page = read_json(self._properties.get_all(object_type, _preload_content=False))
        return {str(p.get("name")) for p in page.get("results", [])}

    def missing_fields(self) -> list[str]:
        """'contacts.<property>' / 'tasks.<property>' that Handoff writes but the portal lacks."""
        missing = []
        for object_type, props in self._wanted().items():
            existing = self._existing(object_type)
            missing += [f"{object_type}.{p}" for p in props if p not in existing]
        return sorted(missing)

    def create_missing_fields(self) -> list[str]:
        created = []
        wanted = self._wanted()
        for qualified in self.missing_fields():
            object_type, prop = qualified.split(".", 1)
            mapping = wanted[object_type][prop]
            kind, field_type = PROPERTY_TYPES[mapping.type if mapping else FieldType.STRING]
            body: dict[str, Any] = {
                "name": prop,
                "label": prop.replace("_", " ").title(),
                "type": kind,
                "fieldType": field_type,
                "groupName": GROUPS[object_type],
                "description": "Managed by Handoff",
            }
            if mapping is not None and mapping.type is FieldType.ENUM:
                body["options"] = [
                    {"label": canonical, "value": crm, "hidden": False, "displayOrder": i}
                    for i, (canonical, crm) in enumerate(mapping.values.items())
                ]
            if mapping is not None and mapping.type is FieldType.BOOLEAN:
                body["options"] = [
                    {"label": "Yes", "value": "true", "hidden": False, "displayOrder": 0},
                    {"label": "No", "value": "false", "hidden": False, "displayOrder": 1},
                ]
            self._properties.create(object_type, property_create=body, _preload_content=False)
            created.append(qualified)
        return created

    def keep_fast_lane_slots(self) -> None:
        self.transport.keep_fast_lane_slots()

    def close(self) -> None:
        self._activities.release_held()
        self.transport.close()
