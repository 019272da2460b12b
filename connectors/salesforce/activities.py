"""Activities of pulled people, mapped onto canonical kinds by `connection.activities`.

Each mapping names a source (`Task`, `Event`, `CampaignMember`), a canonical kind and `when`
filters (field equals value, all must match; a parent's field with a dot), e.g. `CampaignMember`
with `Campaign.Type: Webinar, Status: Attended` -> `webinar_attended`, `Task` with
`TaskSubtype: Call` -> `call`. A pull run reads each source as one org-wide stream on
`SystemModstamp` (`stream`: `SystemModstamp >= cursor - overlap AND <= the run's start`, ordered by
`SystemModstamp, Id`, 2,000 a page; a Task's status change is re-read), before any person of the run
is stored, so a person's activities are in the store when the person is decided. Reading the
activities of given people (`activities`: one query per source per chunk of people, the IN list
chunked to keep URLs short) serves `handoff explain --live`. Both select every field the mappings
filter on; each record takes the first mapping it matches, records matching none are not
activities.

Tasks and Events are rep touches (`Actor.REP`, `owner_id` = `OwnerId`); campaign responses are
the contact's own signals (`Actor.CONTACT`). A CampaignMember is read with its campaign's
`Campaign.Name` and `Campaign.Type` and its member `Status`, so a form or webinar matches by name
and registered differs from attended. Salesforce keeps one membership per person and campaign
and changes its Status (Registered -> Attended), so memberships are re-read by `SystemModstamp`:
the same activity id comes back with its new kind.

Properties are canonical (`connectors.activity_keys`; docs/activity-properties.md): a membership
gives `campaign` and `campaign_type` (Campaign.Name / Campaign.Type), `member_status` (Status,
lower case), and `webinar_name` or `form_name` (Campaign.Name) by kind; a Task or Event gives
`subject` (and `email_subject` for an email). Raw fields stay as `raw.<Field>` (`raw.Campaign.Name`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simple_salesforce import Salesforce

from config.connections import ActivityMapping
from connectors import activity_keys as keys
from connectors.mapping import parse_timestamp
from connectors.records import Activity, ActivityKind, Actor, Contact
from connectors.salesforce.soql import chunks, datetime_literal, in_list, select


@dataclass(frozen=True, slots=True)
class _Source:
    """How one Salesforce object is read as activities."""

    sobject: str
    person_fields: tuple[str, ...]  # where the id sits: one field, or (lead field, contact field)
    when_field: str  # the timestamp the activity happened at
    fields: tuple[str, ...]
    actor: Actor
    since_field: str = ""  # the incremental filter when not `when_field`


SOURCES: dict[str, _Source] = {
    "Task": _Source(
        "Task",
        ("WhoId",),
        "CreatedDate",
        ("Id", "WhoId", "OwnerId", "Subject", "CreatedDate", "CompletedDateTime", "Status"),
        Actor.REP,
    ),
    "Event": _Source(
        "Event",
        ("WhoId",),
        "StartDateTime",
        ("Id", "WhoId", "OwnerId", "Subject", "StartDateTime"),
        Actor.REP,
    ),
    "CampaignMember": _Source(
        "CampaignMember",
        ("LeadId", "ContactId"),
        "CreatedDate",
        (
            "Id",
            "LeadId",
            "ContactId",
            "CampaignId",
            "Status",
            "CreatedDate",
            "FirstRespondedDate",
            "Campaign.Name",
            "Campaign.Type",
        ),
        Actor.CONTACT,
        since_field="SystemModstamp",  # a status change (Registered -> Attended) is re-read
    ),
}
_MEMBER_KEYS: keys.Translation = {
    keys.CAMPAIGN: ("Campaign.Name",),
    keys.CAMPAIGN_TYPE: ("Campaign.Type",),
    keys.MEMBER_STATUS: ("Status",),
}
_BY_KIND: dict[ActivityKind, keys.Translation] = {
    ActivityKind.WEBINAR_ATTENDED: {keys.WEBINAR_NAME: ("Campaign.Name",)},
    ActivityKind.WEBINAR_REGISTERED: {keys.WEBINAR_NAME: ("Campaign.Name",)},
    ActivityKind.FORM_SUBMISSION: {keys.FORM_NAME: ("Campaign.Name",)},
    ActivityKind.EMAIL: {keys.EMAIL_SUBJECT: ("Subject",)},
    ActivityKind.EMAIL_OPEN: {keys.EMAIL_SUBJECT: ("Subject",)},
    ActivityKind.EMAIL_CLICK: {keys.EMAIL_SUBJECT: ("Subject",)},
}

_CHANNELS: dict[ActivityKind, str] = {
    ActivityKind.CALL: "phone",
    ActivityKind.EMAIL: "email",
    ActivityKind.EMAIL_OPEN: "email",
    ActivityKind.EMAIL_CLICK: "email",
    ActivityKind.MEETING: "meeting",
    ActivityKind.WEBINAR_ATTENDED: "event",
    ActivityKind.WEBINAR_REGISTERED: "event",
    ActivityKind.FORM_SUBMISSION: "form",
    ActivityKind.PAGE_VIEW: "web",
}


def _matches(mapping: ActivityMapping, raw: Mapping[str, Any]) -> bool:
    return all(str(raw.get(name) or "") == value for name, value in mapping.when.items())


@dataclass
class ActivityPull:
    sf: Salesforce
    connection: str
    mappings: Sequence[ActivityMapping]
    stage_field: str | None = None  # a Campaign field with the asset's funnel stage

    def sources(self) -> dict[str, list[ActivityMapping]]:
        grouped: dict[str, list[ActivityMapping]] = {}
        for mapping in self.mappings:
            if mapping.source in SOURCES:
                grouped.setdefault(mapping.source, []).append(mapping)
        return grouped

    def _fields(self, name: str, mappings: Sequence[ActivityMapping]) -> str:
        filter_fields = [f for m in mappings for f in m.when]
        stage = [f"Campaign.{self.stage_field}"] if self.stage_field else []
        extra = stage if name == "CampaignMember" else []
        return select([*SOURCES[name].fields, *extra, *filter_fields, "SystemModstamp"])

    def stream(
        self, name: str, since: datetime | None, until: datetime, page_size: int = 2000
    ) -> Iterator[tuple[list[Activity], datetime]]:
        """One source's records modified in [since, until] (org-wide), as (activities, cursor)
        pages in `SystemModstamp` order: a page's cursor covers every record up to it; the last
        page's is `until`."""
        mappings = self.sources().get(name, [])
        if not mappings:
            return
        source = SOURCES[name]
        window = f"SystemModstamp <= {datetime_literal(until)}"
        if since is not None:
            window = f"SystemModstamp >= {datetime_literal(since)} AND {window}"
        soql = (
            f"{self._fields(name, mappings)} FROM {source.sobject} WHERE {window} "
            "ORDER BY SystemModstamp, Id"
        )
        headers = {"Sforce-Query-Options": f"batchSize={page_size}"}
        page: list[Activity] = []
        read = 0
        for record in self.sf.query_all_iter(soql, headers=headers):
            read += 1
            activity = self._activity(source, mappings, _flatten(record))
            if activity is not None:
                page.append(activity)
            if read == page_size:
                cursor = min(parse_timestamp(record["SystemModstamp"]), until)
                yield page, cursor
                page, read = [], 0
        yield page, until

    def activities(self, contacts: Sequence[Contact], since: datetime | None) -> Iterator[Activity]:
        people = list({c.id: c.object_type for c in contacts}.items())
        if not people:
            return
        for name, mappings in self.sources().items():
            source = SOURCES[name]
            fields = self._fields(name, mappings)
            for chunk in chunks(people):
                where = f"({self._who(source, chunk)})"
                if since is not None:
                    changed = source.since_field or source.when_field
                    where += f" AND {changed} >= {datetime_literal(since)}"
                soql = (
                    f"{fields} FROM {source.sobject} WHERE {where} ORDER BY {source.when_field}, Id"
                )
                for record in self.sf.query_all_iter(soql):
                    activity = self._activity(source, mappings, _flatten(record))
                    if activity is not None:
                        yield activity

    @staticmethod
    def _who(source: _Source, chunk: Sequence[tuple[str, str]]) -> str:
        """`WhoId IN (...)`, or for CampaignMember `LeadId IN (leads) OR ContactId IN (...)`."""
        if len(source.person_fields) == 1:
            return f"{source.person_fields[0]} IN {in_list([i for i, _ in chunk])}"
        lead_field, contact_field = source.person_fields
        by_field: dict[str, list[str]] = {}
        for record_id, object_type in chunk:
            name = lead_field if object_type == "lead" else contact_field
            by_field.setdefault(name, []).append(record_id)
        return " OR ".join(f"{name} IN {in_list(ids)}" for name, ids in by_field.items())

    def _activity(
        self, source: _Source, mappings: Sequence[ActivityMapping], raw: Mapping[str, Any]
    ) -> Activity | None:
        mapping = next((m for m in mappings if _matches(m, raw)), None)
        person = next((raw[f] for f in source.person_fields if raw.get(f)), None)
        when = raw.get(source.when_field)
        if mapping is None or person is None or not when:
            return None
        translation: dict[str, Sequence[str]] = {keys.SUBJECT: ("Subject",)}
        if source.sobject == "CampaignMember":
            translation = dict(_MEMBER_KEYS)
            if self.stage_field:
                translation[keys.ASSET_STAGE] = (f"Campaign.{self.stage_field}",)
        translation |= _BY_KIND.get(mapping.kind, {})
        shown = {name: value for name, value in raw.items() if name not in _NOT_PROPERTIES}
        properties = keys.translate(shown, translation)
        properties["source"] = source.sobject
        owner = raw.get("OwnerId") if source.actor is Actor.REP else None
        return Activity(
            connection=self.connection,
            id=str(raw["Id"]),
            contact_id=str(person),
            kind=mapping.kind,
            occurred_at=parse_timestamp(when),
            actor=source.actor,
            channel=_CHANNELS.get(mapping.kind, source.sobject.lower()),
            owner_id=str(owner) if owner else None,
            properties=properties,
        )


# Who and when are the activity's own fields, not properties a rule reads.
_NOT_PROPERTIES = frozenset(
    {
        "Id",
        "WhoId",
        "LeadId",
        "ContactId",
        "OwnerId",
        "CreatedDate",
        "StartDateTime",
        "SystemModstamp",
    }
)


def _flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """A query row with parent objects as dotted names (`Campaign.Name`); `attributes` dropped
    and an empty parent (`"Campaign": null`) gives no names."""
    out: dict[str, Any] = {}
    for name, value in record.items():
        if name == "attributes":
            continue
        if isinstance(value, Mapping):
            for child, inner in _flatten(value).items():
                out[f"{name}.{child}"] = inner
        else:
            out[name] = value
    return out
