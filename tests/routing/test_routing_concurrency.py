"""Workers racing in one territory: no slot given twice, no rep skipped, no lead lost.

Each worker is a separate process (spawn) with its own engine and short transactions (1 to 4
leads), all in the same territory, so every assignment contends for the same rotation row.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter

import pytest
from routing_support import WEIGHTED_TERRITORY, assign_many
from sqlmodel import Session, select

from routing.tables import Assignment, RotationState
from sync.store.engine import make_engine
from sync.store.schema import upgrade

WEIGHTS = {rep["email"]: rep["weight"] for rep in WEIGHTED_TERRITORY["territories"][0]["reps"]}


def _race(url: str, workers: int, per_worker: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        results = pool.starmap(assign_many, [(url, w, per_worker) for w in range(workers)])
    total = workers * per_worker
    returned = [item for batch in results for item in batch]
    with Session(engine) as session:
        rows = session.exec(select(Assignment)).all()
        rotation = session.get(RotationState, "Load")
    engine.dispose()

    # no lost lead, none assigned twice
    assert sorted(r.lead_key for r in rows) == sorted(key for key, _, _ in returned)
    assert len({r.lead_key for r in rows}) == total
    # every slot taken exactly once, none skipped, and the rotation saw them all
    assert sorted(r.turn for r in rows if r.turn is not None) == list(range(1, total + 1))
    assert rotation is not None and rotation.turn == total
    # what each worker was told is what was stored
    stored = {(r.lead_key, r.owner_email, r.turn) for r in rows}
    assert stored == set(returned)
    # the interleaved slots still follow the weights: within one of each rep's share
    counts = Counter(r.owner_email for r in rows)
    weight_sum = sum(WEIGHTS.values())
    for email, weight in WEIGHTS.items():
        assert abs(counts[email] - total * weight / weight_sum) <= 1
    # and the sequence of slots is the smooth round robin itself, in slot order
    by_slot = [r.owner_email for r in sorted(rows, key=lambda r: r.turn or 0)]
    for end in range(1, total + 1, 97):
        window = Counter(by_slot[:end])
        for email, weight in WEIGHTS.items():
            assert abs(window[email] - end * weight / weight_sum) < 1 + 1e-9


@pytest.mark.postgres
def test_four_processes_on_postgresql(pg_url: str) -> None:
    _race(pg_url, workers=4, per_worker=500)


def test_four_processes_on_sqlite(sqlite_url: str) -> None:
    _race(sqlite_url, workers=4, per_worker=100)
