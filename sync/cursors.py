"""A run's bookmarks (`sync_cursors`): per connection and stream, how far it has read.

They only move forward: a read that ends earlier than one before it never takes its stream back.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from sync.store.tables import SyncCursor


def read_cursor(session: Session, connection: str, stream: str) -> datetime | None:
    row = session.get(SyncCursor, (connection, stream))
    return row.value if row else None


def advance_cursor(
    session: Session, connection: str, stream: str, value: datetime | None, now: datetime
) -> None:
    if value is None:
        return
    row = session.get(SyncCursor, (connection, stream))
    if row is None:
        session.add(SyncCursor(connection=connection, stream=stream, value=value, updated_at=now))
    elif value > row.value:  # only forward
        row.value = value
        row.updated_at = now
        session.add(row)
