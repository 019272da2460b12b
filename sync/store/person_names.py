"""Who a pulled record is, for a report: its name, email and company, read from the store
without its whole `fields` document (a contact's every mapped property: reading 1,000,000 of
them to name a run's changed records was most of a large report's store reads)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col

from sync.store.tables import PersonRecord

NAMED = ("first_name", "last_name", "email", "company")


def who_columns() -> tuple[Any, ...]:
    """connection, crm_id, person_key, email, then each of NAMED as text (`f_<name>`)."""
    fields = col(PersonRecord.fields)
    return (
        col(PersonRecord.connection),
        col(PersonRecord.crm_id),
        col(PersonRecord.person_key),
        col(PersonRecord.email),
        *(fields[name].as_string().label(f"f_{name}") for name in NAMED),
    )
