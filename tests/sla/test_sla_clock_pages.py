"""The SLA check reads running clocks a page at a time: every clock still fires each rung once,
clocks started at the same instant included, and the session holds none of them afterwards (a run
at 1,000,000 people has hundreds of thousands of running clocks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy.engine import Engine
from sqlmodel import Session

import routing.sla.engine as sla_engine
from routing.sla import CreateTask, SlaEngine
from routing.sla.tables import SlaClock

NY = ZoneInfo("America/New_York")
FRIDAY_1655 = datetime(2026, 11, 20, 16, 55, tzinfo=NY)
MONDAY_0955 = datetime(2026, 11, 23, 9, 55, tzinfo=NY)


def test_every_clock_fires_once_across_pages(
    sla: SlaEngine, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sla_engine, "CLOCK_PAGE", 3)
    leads = [f"lead-{n}" for n in range(8)]
    with time_machine.travel(FRIDAY_1655, tick=False) as clock_at:
        with Session(engine) as session:
            for n, lead in enumerate(leads):  # five at the same instant: ties go by clock id
                started = datetime.now(UTC) - timedelta(minutes=max(0, n - 4))
                sla.start_clock(
                    session,
                    lead_key=lead,
                    owner_email="ana@example.com",
                    lane="fast",
                    territory="us-east",
                    started_at=started,
                    context=[],
                )
            session.commit()
        clock_at.move_to(MONDAY_0955)
        held: list[int] = []
        fire = SlaEngine._fire_ladder

        def counted(self: SlaEngine, session: Session, *args: object) -> object:
            held.append(sum(isinstance(o, SlaClock) for o in session.identity_map.values()))
            return fire(self, session, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(SlaEngine, "_fire_ladder", counted)
        with Session(engine) as session:
            actions = sla.evaluate(session, datetime.now(UTC))
            session.commit()
        assert len(held) == len(leads)
        assert max(held) <= sla_engine.CLOCK_PAGE, held  # one page of clocks in memory at a time
        assert sorted(a.lead_key for a in actions if isinstance(a, CreateTask)) == sorted(leads)
        with Session(engine) as session:
            assert sla.evaluate(session, datetime.now(UTC)) == []  # each rung fired once
