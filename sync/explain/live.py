"""`handoff explain --live`: one person's records and activities read from the CRMs now.

The records the store knows for the person are read again through their connectors (the CRM's
client libraries), with their activities; web events that only the run's event stream carries
(HubSpot's, Account Engagement's) are kept from the store. Nothing is saved: the next sync pulls
the person as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from config.model import HandoffConfig
from connectors.base import CrmConnector
from connectors.records import Activity, Contact
from sync.people import OwnerBook, PersonView, _view, load_person
from sync.store.tables import PersonRecord


class RecordGone(LookupError):
    """None of the person's records answers in its CRM any more."""


def pull_person(
    session: Session,
    config: HandoffConfig,
    key: str,
    owners: OwnerBook,
    connectors: Mapping[str, CrmConnector],
) -> tuple[PersonView, list[str]]:
    """The person as their CRMs hold them now, and notes (records gone, connections skipped)."""
    stored = load_person(session, key, config, owners)
    if stored is None:
        raise LookupError(f"{key} has no active CRM record in the state store")
    notes: list[str] = []
    records: list[PersonRecord] = []
    activities: dict[tuple[str, str], list[Activity]] = {}
    for record in stored.records:
        connector = connectors.get(record.connection)
        connection = next((c for c in config.connections if c.name == record.connection), None)
        if connector is None or connection is None:
            notes.append(f"{record.connection}: not configured now; its stored record is used")
            records.append(record)
            continue
        mapped = sorted(connection.field_mappings(record.object_type))
        live = connector.read_fields(record.object_type, [record.crm_id], mapped).get(record.crm_id)
        if live is None:
            notes.append(f"{record.connection} {record.object_type} {record.crm_id} is gone")
            continue
        # a field blank on the record and filled from its company/account stays filled
        from_account = record.fields.get("account_filled") or ()
        fresh = _copy(
            record,
            {
                **record.fields,
                **{k: v for k, v in live.items() if v is not None or k not in from_account},
            },
        )
        records.append(fresh)
        contact = Contact(
            record.connection,
            record.object_type,
            record.crm_id,
            record.modified_at,
            fresh.fields,
            record.created_at,
        )
        for activity in connector.pull_activities([contact], None):
            activities.setdefault((activity.connection, activity.contact_id), []).append(activity)
    if not records:
        raise RecordGone(f"none of {key}'s records answers in the CRM any more")
    pulled = {(a.connection, a.id) for found in activities.values() for a in found}
    for activity in stored.activities:  # streamed web events: read by the run, not per person
        if (activity.connection, activity.id) not in pulled:
            activities.setdefault((activity.connection, activity.contact_id), []).append(activity)
    order = [c.name for c in config.connections]
    person = _view(key, records, activities, config, owners, order)
    person.account_owner_email = stored.account_owner_email
    return person, notes


def _copy(record: PersonRecord, fields: dict[str, Any]) -> PersonRecord:
    """A detached copy with the live fields (the stored row is left as it is)."""
    return PersonRecord(
        connection=record.connection,
        crm_id=record.crm_id,
        object_type=record.object_type,
        person_key=record.person_key,
        email=record.email,
        fields=fields,
        modified_at=record.modified_at,
        created_at=record.created_at,
        status=record.status,
    )
