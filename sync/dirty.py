"""Which people a run decides: those whose records changed since they were last decided."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from sync.store.key_in import key_in
from sync.store.tables import PersonRecord, PersonState

FULL_PAGES = 10  # a full run's pages: only keys, ten times as many a query


def dirty_people(
    session: Session, now: datetime, full: bool = False, page: int = 1000
) -> Iterator[list[str]]:
    """People whose records changed since they were last decided, or due their daily decay
    pass, in key order a page at a time (each page one query: nothing per person is kept, and
    a page's decisions may be committed before the next is read).

    Reads plain columns through the session's connection of the moment (no ORM objects, no
    JSON; a page's decisions may have committed since the last query): at
    100,000 people this runs every run. A full run asks only who is there (everyone is decided),
    `FULL_PAGES` times as many a query: at 1,000,000 people the pages of 1,000 with their
    latest modified times took 84 s after the pull."""
    if full:
        yield from _everyone(session, page * FULL_PAGES)
    else:
        yield from _changed(session, now, page)


def _pages(session: Session, columns: tuple[Any, ...], size: int, grouped: bool) -> Iterator[Any]:
    """Rows of `columns` of people with an active record, `size` a query in person key order
    (keyset on the key; `grouped`: a row a person)."""
    key = col(PersonRecord.person_key)
    after = ""
    while True:
        query = sa_select(*columns).where(col(PersonRecord.status) == "active", key > after)
        if grouped:
            query = query.group_by(key)
        rows = session.connection().execute(query.order_by(key).limit(size)).all()
        if not rows:
            return
        after = rows[-1][0]
        yield rows
        if len(rows) < size:
            return


def _everyone(session: Session, size: int) -> Iterator[list[str]]:
    """Every person with an active record, in the person key index's order (no grouping: a
    person's records are neighbours there; the rest of a page's last one are skipped)."""
    for rows in _pages(session, (col(PersonRecord.person_key),), size, grouped=False):
        yield list(dict.fromkeys(row[0] for row in rows))


def _changed(session: Session, now: datetime, page: int) -> Iterator[list[str]]:
    columns = (col(PersonRecord.person_key), func.max(PersonRecord.modified_at))
    for latest in _pages(session, columns, page, grouped=True):
        decided = {
            key: (computed_at, source_modified_at)
            for key, computed_at, source_modified_at in session.connection().execute(
                sa_select(
                    col(PersonState.person_key),
                    col(PersonState.computed_at),
                    col(PersonState.source_modified_at),
                ).where(key_in(col(PersonState.person_key), [key for key, _ in latest]))
            )
        }
        out = []
        for key, modified in latest:
            computed_at, source_modified_at = decided.get(key, (None, None))
            if (
                computed_at is None
                or source_modified_at is None
                or modified > source_modified_at
                or computed_at.date() < now.date()
            ):
                out.append(key)
        yield out
