"""Our own writes, as the next pull will see them.

A CRM write bumps the record's modified time, so the next incremental pull finds every record
Handoff just wrote. When the CRM's answer tells the record's modified time after the write, the
mirror in the store takes our values and that time: the pull then knows that exact version (same
id, same modified time) and skips it, with no activity reads and no new decision. Any later change
by someone else carries a later time and is pulled as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from sync.store.bulk_pg import bulk_update
from sync.store.key_in import key_in
from sync.store.tables import PersonRecord, PersonState


@dataclass
class Echo:
    stamp: datetime
    fields: dict[str, Any] = field(default_factory=dict)


def remember_echoes(session: Session, echoes: dict[tuple[str, str], Echo]) -> None:
    """Mirror what we wrote (with the CRM's new modified time) into the stored records."""
    if not echoes:
        return
    connection = session.connection()  # plain rows: thousands of records a chunk
    by_connection: dict[str, list[str]] = {}
    for name, record_id in echoes:
        by_connection.setdefault(name, []).append(record_id)
    moved: dict[str, tuple[datetime, datetime]] = {}  # person key -> (old, new) modified time
    records: list[dict[str, Any]] = []
    for name, ids in by_connection.items():
        for start in range(0, len(ids), 500):
            rows = connection.execute(
                select(
                    _PEOPLE.c.crm_id, _PEOPLE.c.person_key, _PEOPLE.c.modified_at, _PEOPLE.c.fields
                )
                .where(_PEOPLE.c.connection == name)
                .where(key_in(_PEOPLE.c.crm_id, ids[start : start + 500]))
            ).all()  # fetched at once (row by row cost more than the query)
            for crm_id, person_key, modified_at, fields in rows:
                echo = echoes[(name, crm_id)]
                if echo.stamp <= modified_at:
                    continue  # the store already holds this version or a later one
                moved[person_key] = (modified_at, echo.stamp)
                records.append(
                    {
                        "c": name,
                        "i": crm_id,
                        "e_fields": {**fields, **echo.fields},
                        "e_modified": echo.stamp,
                    }
                )
    postgresql = connection.dialect.name == "postgresql"
    if records and postgresql:  # one statement over arrays, not an execution a record
        bulk_update(session, _PEOPLE, ("connection", "crm_id"), _columns(records, _MIRROR_COLUMNS))
    elif records:
        connection.execute(_MIRROR, records)
    keys = sorted(moved)
    states: list[dict[str, Any]] = []
    for start in range(0, len(keys), 500):
        for key, seen in connection.execute(
            select(_STATES.c.person_key, _STATES.c.source_modified_at).where(
                key_in(_STATES.c.person_key, keys[start : start + 500])
            )
        ):
            old, new = moved[key]
            if seen is not None and seen >= old:
                # the decision had seen the version we overwrote: our echo changes nothing
                states.append({"k": key, "e_seen": max(seen, new)})
    if states and postgresql:
        bulk_update(session, _STATES, ("person_key",), _columns(states, _SEEN_COLUMNS))
    elif states:
        connection.execute(_SEEN, states)


_PEOPLE: Any = PersonRecord.__table__  # type: ignore[attr-defined]
_STATES: Any = PersonState.__table__  # type: ignore[attr-defined]
_MIRROR = (  # SQLite's executemany (PostgreSQL: the same rows as arrays, bulk_update)
    update(_PEOPLE)
    .where(_PEOPLE.c.connection == bindparam("c"), _PEOPLE.c.crm_id == bindparam("i"))
    .values(fields=bindparam("e_fields"), modified_at=bindparam("e_modified"))
)
_MIRROR_COLUMNS = {
    "c": "connection",
    "i": "crm_id",
    "e_fields": "fields",
    "e_modified": "modified_at",
}
_SEEN = (
    update(_STATES)
    .where(_STATES.c.person_key == bindparam("k"))
    .values(source_modified_at=bindparam("e_seen"))
)
_SEEN_COLUMNS = {"k": "person_key", "e_seen": "source_modified_at"}


def _columns(rows: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    return [{names[k]: v for k, v in row.items()} for row in rows]
