"""Fast-path runs started in the same second by several deciders each get a run id of their own:
a decider whose number was taken meanwhile takes the next (the second one's decision failed on
the runs table's key)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from sync.only import claim_run
from sync.store.tables import RunRecord

NOW = datetime(2026, 12, 6, 2, 20, tzinfo=UTC)


def test_runs_claimed_at_once_in_the_same_second_get_ids_of_their_own(engine: Engine) -> None:
    ids: list[str] = []
    start = threading.Barrier(6)

    def claim() -> None:
        start.wait()
        ids.append(claim_run(engine, ["hubspot"], NOW, False, NOW))

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(ids) == 6 and len(set(ids)) == 6, ids
    assert all(i.startswith("20261206T022000Z-live-only-hubspot-") for i in ids)
    with Session(engine) as session:
        assert sorted(r.id for r in session.exec(select(RunRecord))) == sorted(ids)
