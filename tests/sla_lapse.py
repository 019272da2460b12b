"""The instant every open first-touch window has lapsed, read from the clocks themselves.

Tests that want escalations jump ahead in time; a fixed jump ("three days later") lapses a
24-business-hour window on some weekdays and not on others (started on a Friday it ends on
Tuesday), so a test would pass or fail with the day it runs on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from routing.sla.tables import SlaClock


def every_window_lapsed(engine: Engine) -> datetime:
    """An hour past the latest first-touch deadline of a running clock (fails if none run)."""
    with Session(engine) as session:
        latest = session.exec(
            select(func.max(SlaClock.due_at)).where(col(SlaClock.ended_at).is_(None))
        ).one()
    assert latest is not None, "no SLA clock is running: nothing can lapse"
    return latest + timedelta(hours=1)
