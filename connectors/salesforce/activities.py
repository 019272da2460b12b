"""Activities of pulled people, mapped onto canonical kinds by `connection.activities`.

Each mapping names a source (`Task`, `Event`, `CampaignMember`), a canonical kind and `when`
filters (field equals value, all must match), e.g. `CampaignMember` with `Status: Attended` ->
`webinar_attended`, `Task` with `TaskSubtype: Call` -> `call`. One query per source per chunk of
people (the IN list is chunked to keep URLs short) selects every field the mappings filter on;
each record takes the first mapping it matches, records matching none are not activities.

Tasks and Events are rep touches (`Actor.REP`, `owner_id` = `OwnerId`); campaign responses are
the contact's own signals (`Actor.CONTACT`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simple_salesforce import Salesforce

from config.connections import ActivityMapping
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
        ("Id", "LeadId", "ContactId", "CampaignId", "Status", "CreatedDate", "FirstRespondedDate"),
        Actor.CONTACT,
    ),
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

    def sources(self) -> dict[str, list[ActivityMapping]]:
        grouped: dict[str, list[ActivityMapping]] = {}
        for mapping in self.mappings:
            if mapping.source in SOURCES:
                grouped.setdefault(mapping.source, []).append(mapping)
        return grouped

    def activities(self, contacts: Sequence[Contact], since: datetime | None) -> Iterator[Activity]:
        people = list({c.id: c.object_type for c in contacts}.items())
        if not people:
            return
        for name, mappings in self.sources().items():
            source = SOURCES[name]
            filter_fields = [f for m in mappings for f in m.when]
            fields = select([*source.fields, *filter_fields])
            for chunk in chunks(people):
                where = f"({self._who(source, chunk)})"
                if since is not None:
                    where += f" AND {source.when_field} >= {datetime_literal(since)}"
                soql = (
                    f"{fields} FROM {source.sobject} WHERE {where} ORDER BY {source.when_field}, Id"
                )
                for raw in self.sf.query_all_iter(soql):
                    activity = self._activity(source, mappings, raw)
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
        properties = {
            key: str(raw[key])
            for key in ("Subject", "Status", "CampaignId")
            if raw.get(key) not in (None, "")
        }
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
