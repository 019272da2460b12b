"""Which people a run decides: those whose records changed since they were last decided."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from sync.store.tables import PersonRecord, PersonState


def dirty_people(
    session: Session, now: datetime, full: bool = False, page: int = 1000
) -> Iterator[list[str]]:
    """People whose records changed since they were last decided, or due their daily decay
    pass, in key order a page at a time (each page one query: nothing per person is kept, and
    a page's decisions may be committed before the next is read).

    Reads plain columns (no ORM objects, no JSON): at 100,000 people this runs every run."""
    after = ""
    while True:
        latest = session.execute(
            sa_select(col(PersonRecord.person_key), func.max(col(PersonRecord.modified_at)))
            .where(col(PersonRecord.status) == "active", col(PersonRecord.person_key) > after)
            .group_by(col(PersonRecord.person_key))
            .order_by(col(PersonRecord.person_key))
            .limit(page)
        ).all()
        if not latest:
            return
        after = latest[-1][0]
        if full:
            yield [key for key, _ in latest]
        else:
            decided = {
                key: (computed_at, source_modified_at)
                for key, computed_at, source_modified_at in session.execute(
                    sa_select(
                        col(PersonState.person_key),
                        col(PersonState.computed_at),
                        col(PersonState.source_modified_at),
                    ).where(col(PersonState.person_key).in_([key for key, _ in latest]))
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
        if len(latest) < page:
            return
