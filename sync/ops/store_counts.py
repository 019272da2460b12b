"""Counts an operator watches, read from the store: outbox items by status, SLA clocks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from routing.sla.tables import SlaClock
from sync.store.tables import OutboxItem

_OUTBOX: Any = OutboxItem.__table__  # type: ignore[attr-defined]
_CLOCKS: Any = SlaClock.__table__  # type: ignore[attr-defined]

OUTBOX_GAUGED = ("pending", "sending", "rejected", "dead", "dropped")


def sla_counts(engine: Engine, now: datetime, window: timedelta) -> dict[str, int]:
    """Running clocks (not ended, untouched), those past their first-touch deadline, and over the
    clocks started in `window`: how many, and how many breached (touched late or still due)."""
    with engine.connect() as link:
        running = (_CLOCKS.c.ended_at.is_(None)) & (_CLOCKS.c.first_touch_at.is_(None))
        open_ = link.execute(select(func.count()).select_from(_CLOCKS).where(running)).scalar()
        overdue = link.execute(
            select(func.count()).select_from(_CLOCKS).where(running & (_CLOCKS.c.due_at < now))
        ).scalar()
        started = 0
        breached = 0
        for due_at, touched in link.execute(
            select(_CLOCKS.c.due_at, _CLOCKS.c.first_touch_at).where(
                _CLOCKS.c.started_at >= now - window
            )
        ):
            started += 1
            if (touched is not None and touched > due_at) or (touched is None and due_at < now):
                breached += 1
    return {
        "open": int(open_ or 0),
        "overdue": int(overdue or 0),
        "window_started": started,
        "window_breached": breached,
    }


def outbox_counts(engine: Engine) -> dict[tuple[str, str], int]:
    """(connection, status) -> items, for the statuses an operator watches."""
    with engine.connect() as link:
        rows = link.execute(
            select(_OUTBOX.c.connection, _OUTBOX.c.status, func.count())
            .where(_OUTBOX.c.status.in_(OUTBOX_GAUGED))
            .group_by(_OUTBOX.c.connection, _OUTBOX.c.status)
        )
        return {(c, s): int(n) for c, s, n in rows}
