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

from sqlmodel import Session, col, select

from sync.store.tables import PersonRecord, PersonState


@dataclass
class Echo:
    stamp: datetime
    fields: dict[str, Any] = field(default_factory=dict)


def remember_echoes(session: Session, echoes: dict[tuple[str, str], Echo]) -> None:
    """Mirror what we wrote (with the CRM's new modified time) into the stored records."""
    if not echoes:
        return
    by_connection: dict[str, list[str]] = {}
    for connection, record_id in echoes:
        by_connection.setdefault(connection, []).append(record_id)
    moved: dict[str, tuple[datetime, datetime]] = {}  # person key -> (old, new) modified time
    for connection, ids in by_connection.items():
        for start in range(0, len(ids), 500):
            rows = session.exec(
                select(PersonRecord).where(
                    PersonRecord.connection == connection,
                    col(PersonRecord.crm_id).in_(ids[start : start + 500]),
                )
            ).all()
            for row in rows:
                echo = echoes[(connection, row.crm_id)]
                if echo.stamp <= row.modified_at:
                    continue  # the store already holds this version or a later one
                moved[row.person_key] = (row.modified_at, echo.stamp)
                row.fields = {**row.fields, **echo.fields}
                row.modified_at = echo.stamp
                session.add(row)
    keys = sorted(moved)
    for start in range(0, len(keys), 500):
        for state in session.exec(
            select(PersonState).where(col(PersonState.person_key).in_(keys[start : start + 500]))
        ).all():
            old, new = moved[state.person_key]
            if state.source_modified_at is not None and state.source_modified_at >= old:
                # the decision had seen the version we overwrote: our echo changes nothing
                state.source_modified_at = max(state.source_modified_at, new)
                session.add(state)
