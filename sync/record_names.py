"""Who a CRM record is, for a manager reading the report: its person, name, email and company.

Read from the record as the store holds it: by the decide stage as it decides the record's
person (the run's ledger keeps it, and the report's rows say it), and at the run's end for the
records a run changed without deciding them (an SLA task, an earlier run's write sent again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Person:
    """Who a CRM record is."""

    key: str
    name: str
    email: str
    company: str


def person_of(row: Any) -> Person:
    """A PersonRecord (or a row with its `person_key`, `email` and `fields`)."""
    fields = row.fields or {}
    name = " ".join(str(fields.get(k) or "") for k in ("first_name", "last_name")).strip()
    email = str(fields.get("email") or row.email or "")
    return Person(row.person_key, name, email, str(fields.get("company") or ""))


def named(row: Any) -> tuple[str, str, str, str, str, str]:
    """The ledger's `records` row of a PersonRecord: connection, record id, who it is."""
    who = person_of(row)
    return (row.connection, row.crm_id, who.key, who.name, who.email, who.company)
