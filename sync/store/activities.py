"""Pulled activities in the store: its largest table (≈20 rows a person, millions at scale).

`store_activities` upserts a page of activities by (connection, crm_id); `read_activities` reads
the activities of some records back, for the decide stage. On SQLite (the embedded default) both
talk to the driver directly, with values in the form SQLAlchemy stores them (UTC timestamps as
naive ISO text with microseconds, properties as JSON text): per-row type processing cost more
than SQLite itself. On PostgreSQL too both go through the driver: the writes as bound values in
column arrays (sync/store/bulk_pg.py), the reads with the record ids as one array.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy import update as sa_update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from connectors.records import Activity, ActivityKind, Actor
from sync.store.bulk_pg import upsert_encoded
from sync.store.engine import json_text, json_value
from sync.store.key_in import key_in
from sync.store.tables import ActivityRecord, PersonRecord, PersonState

COLUMNS = (
    "connection",
    "crm_id",
    "contact_id",
    "kind",
    "actor",
    "channel",
    "owner_id",
    "occurred_at",
    "properties",
)
_TABLE: Any = ActivityRecord.__table__  # type: ignore[attr-defined]
_SQLITE_UPSERT = (
    f"INSERT INTO {_TABLE.name} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    "ON CONFLICT (connection, crm_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[2:])
)


def activity_row(activity: Activity) -> dict[str, Any]:
    return {
        "connection": activity.connection,
        "crm_id": activity.id,
        "contact_id": activity.contact_id,
        "kind": activity.kind.value,
        "actor": activity.actor.value,
        "channel": activity.channel,
        "owner_id": activity.owner_id,
        "occurred_at": activity.occurred_at,
        "properties": dict(activity.properties),
    }


def _values(a: Activity, sqlite: bool) -> tuple[Any, ...]:
    """An activity's row values as its store's driver takes them: SQLite's text time as
    SQLAlchemy writes it, PostgreSQL's as SQLAlchemy binds it (UTC); properties as JSON text."""
    at = a.occurred_at
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: the state store keeps tz-aware UTC only")
    utc = at.astimezone(UTC)
    return (
        a.connection,
        a.id,
        a.contact_id,
        a.kind.value,
        a.actor.value,
        a.channel,
        a.owner_id,
        utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") if sqlite else utc,
        json_text(a.properties),
    )


def store_activities(session: Session, activities: Sequence[Activity]) -> None:
    """Insert or update these activities in the session's transaction (a form submission known
    from the contact alone gives way to the one the CRM's activity read brings: conversions.py)."""
    if not activities:
        return
    from sync.store.conversions import reconcile

    activities = reconcile(session, activities)
    if not activities:
        return
    if session.get_bind().dialect.name != "sqlite":
        upsert_encoded(session, _TABLE, COLUMNS, [_values(a, sqlite=False) for a in activities])
        return
    session.connection().exec_driver_sql(
        _SQLITE_UPSERT, [_values(a, sqlite=True) for a in activities]
    )


_KINDS = {kind.value: kind for kind in ActivityKind}
_ACTORS = {actor.value: actor for actor in Actor}
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {_TABLE.name} WHERE connection = ? AND contact_id IN "
_PG_SELECT = (
    f"SELECT {', '.join(COLUMNS)} FROM {_TABLE.name} "
    "WHERE connection = %(connection)s AND contact_id = ANY(%(ids)b)"
)
_READ_CHUNK = 500  # record ids per query


def read_activities(
    session: Session, connection: str, contact_ids: Sequence[str]
) -> Iterator[Activity]:
    """The stored activities of these records of `connection` (through its record index)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    link = session.connection()
    for start in range(0, len(contact_ids), _READ_CHUNK):
        ids = list(contact_ids[start : start + _READ_CHUNK])
        if sqlite:
            sql = _SELECT + f"({', '.join('?' * len(ids))})"
            rows: Any = link.exec_driver_sql(sql, (connection, *ids))
        else:  # the ids as one array: a statement psycopg parses once, not one of 500 binds
            rows = link.exec_driver_sql(_PG_SELECT, {"connection": connection, "ids": ids})
        for row in rows:
            yield _activity(row, sqlite)


def _activity(row: Any, sqlite: bool) -> Activity:
    connection, crm_id, contact_id, kind, actor, channel, owner_id, occurred_at, props = row
    if sqlite:  # the driver's own values: text as SQLAlchemy wrote it
        occurred_at = datetime.fromisoformat(occurred_at).replace(tzinfo=UTC)
        props = {} if props == "{}" else json_value(props)
    else:  # psycopg's: an aware time in the session's zone, JSON decoded by the engine's reader
        occurred_at = occurred_at.astimezone(UTC)
    return Activity(
        connection=connection,
        id=crm_id,
        contact_id=contact_id,
        kind=_KINDS.get(kind) or ActivityKind(kind),
        occurred_at=occurred_at,
        actor=_ACTORS.get(actor) or Actor(actor),
        channel=channel,
        owner_id=owner_id,
        properties=props,
    )


# -- bulk loads ---------------------------------------------------------------------------------

PERSON_INDEX = "ix_activities_person"  # (connection, contact_id): how the decide stage reads
_CREATE_PERSON_INDEX = (
    f"CREATE INDEX IF NOT EXISTS {PERSON_INDEX} ON {_TABLE.name} (connection, contact_id)"
)


_readers: WeakKeyDictionary[Engine, int] = WeakKeyDictionary()  # engine -> readers beside loads
_readers_guard = threading.Lock()


@contextmanager
def person_reads_beside_loads(engine: Engine) -> Iterator[None]:
    """For the block's life, this process reads people's activities while a bulk load may run
    (the change event deciders, sync/change_events.py; HubSpot's webhook deciders,
    sync/speed_http.py): a bulk load keeps the person index."""
    with _readers_guard:
        _readers[engine] = _readers.get(engine, 0) + 1
    try:
        yield
    finally:
        with _readers_guard:
            _readers[engine] -= 1
            if not _readers[engine]:
                del _readers[engine]


def _read_beside(engine: Engine) -> bool:
    with _readers_guard:
        return _readers.get(engine, 0) > 0


@contextmanager
def bulk_load(engine: Engine) -> Iterator[None]:
    """A first (or `--full`) event stream: millions of rows in random person order. On SQLite the
    person index is dropped for the load and built again once, after it (built in one sort, it
    costs seconds; kept up to date row by row it doubled the load's time at 600,000 rows, +25% at
    146,000). `ensure_indexes` rebuilds it if a crash cut the load short.

    Unless people are decided beside the load (`person_reads_beside_loads`: the change event
    deciders of a worker): each decision reads its person's activities, which without the index
    is a scan of the table (60-130 ms at 146,000-600,000 rows, several a decision). A worker's
    first Salesforce sync loads ~216,000 Tasks, Events and CampaignMembers at 100,000 people;
    the decisions in that stretch spent 2-3 s in store statements (bench/RESULTS.md)."""
    if engine.dialect.name != "sqlite" or _read_beside(engine):
        yield
        return
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {PERSON_INDEX}")
    try:
        yield
    finally:
        ensure_indexes(engine)


def ensure_indexes(engine: Engine) -> None:
    """Build the person index if a bulk load left it dropped (no-op when it exists)."""
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            connection.exec_driver_sql(_CREATE_PERSON_INDEX)


def unheld(session: Session, connection: str, page: list[Activity]) -> list[Activity]:
    """The activities of `page` the store does not hold yet (the cursor's overlap re-reads)."""
    held = _among(session, ActivityRecord, ActivityRecord.crm_id, connection, {a.id for a in page})
    return [a for a in page if a.id not in held]


def _among(
    session: Session, table: Any, wanted: Any, connection: str, crm_ids: set[str]
) -> set[str]:
    """`wanted` of the rows of `table` in `connection` whose crm_id is one of `crm_ids`, read 500
    ids a query."""
    ids = sorted(crm_ids)
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        found.update(
            session.execute(
                select(col(wanted)).where(
                    col(table.connection) == connection,
                    key_in(col(table.crm_id), ids[start : start + 500]),
                )
            ).scalars()
        )
    return found


def redecide(session: Session, connection: str, crm_ids: set[str]) -> None:
    """People already decided whose record did not change but who have new streamed activity
    (an Account Engagement page view does not touch the Salesforce lead) are decided again."""
    ordered = sorted(_among(session, PersonRecord, PersonRecord.person_key, connection, crm_ids))
    for start in range(0, len(ordered), 500):
        session.execute(
            sa_update(PersonState)
            .where(key_in(col(PersonState.person_key), ordered[start : start + 500]))
            .values(source_modified_at=None)
        )
