"""A form submission known from the contact alone, until the scheduled sync reads it.

The HubSpot fast path knows of a demo request from the contact's conversion properties
(connectors/hubspot/conversions.py): a *stand-in* activity, id `recent-conversion:<contact>:<ms>`.
The scheduled sync's Forms API stream reads the same submission later as the canonical activity
(`form:<conversionId>`). They are the same submission when they are of the same contact, the same
kind and the same form (its id, else its name) and `SAME_SUBMISSION` apart at most; then only the
canonical one is kept:

- storing canonical activities deletes the stand-ins they stand for;
- a stand-in whose canonical activity is stored already (or comes in the same batch) is not
  stored.

So the submission is scored once, and a person the fast path decided on the stand-in is decided
the same on the canonical activity by the next scheduled sync (nothing to change).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select
from sqlmodel import Session

from connectors.activity_keys import FORM_ID, FORM_NAME, STAND_IN
from connectors.records import Activity
from sync.store.engine import json_value
from sync.store.key_in import key_in
from sync.store.tables import ActivityRecord

SAME_SUBMISSION = timedelta(seconds=60)
_TABLE: Any = ActivityRecord.__table__  # type: ignore[attr-defined]
_AFTER_PREFIX = STAND_IN[:-1] + chr(ord(STAND_IN[-1]) + 1)  # the first id past the prefix
_READ_CHUNK = 500


def is_stand_in(activity: Activity) -> bool:
    return activity.id.startswith(STAND_IN)


def _form(activity: Activity) -> bool:
    return bool(activity.properties.get(FORM_NAME) or activity.properties.get(FORM_ID))


def same_submission(canonical: Activity, stand_in: Activity) -> bool:
    if (canonical.connection, canonical.contact_id, canonical.kind) != (
        stand_in.connection,
        stand_in.contact_id,
        stand_in.kind,
    ):
        return False
    if abs(canonical.occurred_at - stand_in.occurred_at) > SAME_SUBMISSION:
        return False
    a, b = canonical.properties, stand_in.properties
    if a.get(FORM_ID) and b.get(FORM_ID):
        return a[FORM_ID] == b[FORM_ID]
    return (a.get(FORM_NAME) or "").strip().lower() == (b.get(FORM_NAME) or "").strip().lower()


def reconcile(session: Session, activities: Sequence[Activity]) -> list[Activity]:
    """The activities to store: stand-ins whose canonical activity is known left out; the stored
    stand-ins these canonical activities stand for deleted (in the session's transaction)."""
    stand_ins = [a for a in activities if is_stand_in(a)]
    canonical = [a for a in activities if not is_stand_in(a) and _form(a)]
    if canonical:
        _drop_replaced(session, canonical)
    if not stand_ins:
        return list(activities)
    known = canonical + list(_stored_forms(session, stand_ins))
    kept = [s for s in stand_ins if not any(same_submission(c, s) for c in known)]
    gone = {s.id for s in stand_ins} - {s.id for s in kept}
    if gone:
        _delete(session, stand_ins[0].connection, gone)
    return [a for a in activities if not is_stand_in(a) or a.id not in gone]


def _drop_replaced(session: Session, canonical: list[Activity]) -> None:
    for connection in sorted({a.connection for a in canonical}):
        stored = list(_stored_stand_ins(session, connection))  # few: the fast path's, of a day
        if not stored:
            continue
        mine = [a for a in canonical if a.connection == connection]
        gone = {s.id for s in stored if any(same_submission(c, s) for c in mine)}
        if gone:
            _delete(session, connection, gone)


def _delete(session: Session, connection: str, ids: Iterable[str]) -> None:
    session.connection().execute(
        delete(_TABLE).where(
            _TABLE.c.connection == connection, key_in(_TABLE.c.crm_id, sorted(ids))
        )
    )


def _stored_stand_ins(session: Session, connection: str) -> Iterable[Activity]:
    """Every stored stand-in of the connection (through the primary key: a range of ids)."""
    rows = session.connection().execute(
        select(_TABLE).where(
            _TABLE.c.connection == connection,
            and_(_TABLE.c.crm_id >= STAND_IN, _TABLE.c.crm_id < _AFTER_PREFIX),
        )
    )
    return [_activity(row) for row in rows]


def _stored_forms(session: Session, stand_ins: list[Activity]) -> Iterable[Activity]:
    """The stored canonical activities of the stand-ins' people, of the stand-ins' kinds."""
    kinds = sorted({s.kind.value for s in stand_ins})
    for connection in sorted({s.connection for s in stand_ins}):
        ids = sorted({s.contact_id for s in stand_ins if s.connection == connection})
        for start in range(0, len(ids), _READ_CHUNK):
            rows = session.connection().execute(
                select(_TABLE).where(
                    _TABLE.c.connection == connection,
                    key_in(_TABLE.c.contact_id, ids[start : start + _READ_CHUNK]),
                    _TABLE.c.kind.in_(kinds),
                )
            )
            for row in rows:
                found = _activity(row)
                if not is_stand_in(found):
                    yield found


def _activity(row: Any) -> Activity:
    from sync.store.activities import _ACTORS, _KINDS

    m = row._mapping
    at = m["occurred_at"]
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    props = m["properties"]
    if isinstance(props, str):
        props = json_value(props)
    return Activity(
        connection=m["connection"],
        id=m["crm_id"],
        contact_id=m["contact_id"],
        kind=_KINDS[m["kind"]],
        occurred_at=at,
        actor=_ACTORS[m["actor"]],
        channel=m["channel"],
        owner_id=m["owner_id"],
        properties=props or {},
    )
