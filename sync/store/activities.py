"""Storing pulled activities: the store's largest table (≈20 rows a person, millions at scale).

`store_activities` upserts a page of activities by (connection, crm_id). On SQLite (the embedded
default) it hands plain tuples to the driver's executemany with the values already in the form
SQLAlchemy would store them (UTC timestamps as naive ISO text with microseconds, properties as
JSON text): the per-row bind processing cost more than SQLite itself. On PostgreSQL it is the
usual bulk upsert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlmodel import Session

from connectors.records import Activity
from sync.store.engine import json_text
from sync.store.tables import ActivityRecord
from sync.store.upsert import upsert

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


def _sqlite_tuple(a: Activity) -> tuple[Any, ...]:
    at = a.occurred_at
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: the state store keeps tz-aware UTC only")
    return (
        a.connection,
        a.id,
        a.contact_id,
        a.kind.value,
        a.actor.value,
        a.channel,
        a.owner_id,
        at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds"),
        json_text(a.properties),
    )


def store_activities(session: Session, activities: Sequence[Activity]) -> None:
    """Insert or update these activities in the session's transaction."""
    if not activities:
        return
    if session.get_bind().dialect.name != "sqlite":
        upsert(session, ActivityRecord, [activity_row(a) for a in activities])
        return
    session.connection().exec_driver_sql(_SQLITE_UPSERT, [_sqlite_tuple(a) for a in activities])
