"""Two workers on one PostgreSQL store racing on the same rung: exactly one emits it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from routing.sla import SlaAction, SlaEngine
from routing.sla.tables import SlaRungFired
from sync.store.engine import make_engine
from sync.store.schema import upgrade

NY = ZoneInfo("America/New_York")
START = datetime(2026, 11, 18, 10, 0, tzinfo=NY)


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    eng = make_engine(pg_url)
    upgrade(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.mark.postgres
def test_racing_replicas_fire_each_rung_once(sla: SlaEngine, pg_engine: Engine) -> None:
    with Session(pg_engine) as setup:
        for n in range(20):
            sla.start_clock(
                setup,
                lead_key=f"lead-{n}",
                owner_email="ana@example.com",
                lane="fast",
                started_at=START,
            )
        setup.commit()
    at = START + timedelta(hours=2)
    emitted: list[list[SlaAction]] = []
    barrier = threading.Barrier(3)

    def replica() -> None:
        with Session(pg_engine) as session:
            barrier.wait()
            actions = sla.evaluate(session, at)
            session.commit()
            emitted.append(actions)

    workers = [threading.Thread(target=replica) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    keys = [
        getattr(a, "task_key", None) or (a.clock_id, a.rung) for batch in emitted for a in batch
    ]
    assert len(emitted) == 3
    assert len(keys) == len(set(keys)) == 20 * 3  # task, reassign, manager notice per lead
    with Session(pg_engine) as check:
        assert check.exec(select(func.count()).select_from(SlaRungFired)).one() == 40
