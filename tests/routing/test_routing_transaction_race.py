"""Concurrent routing decisions, as the bulk run and the speed-to-lead fast path make them beside
each other: each in its own short routing transaction (routing/transaction.py), or a run's
batch of decisions in one, many threads at once. Every slot of the round robin is given once, each rep gets their weighted share, and a
rep's daily capacity is never exceeded, even for a rep in two territories (two rotation rows: only
the routing lock serialises their capacity counts)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
from routing_support import NOW, everyone
from sqlalchemy import event
from sqlmodel import Session, select

from config.routing import RoutingConfig
from routing.decision import RoutingLead
from routing.router import Router
from routing.tables import Assignment
from routing.transaction import RoutingBatch, routing_transaction
from sync.store.engine import make_engine
from sync.store.schema import upgrade

THREADS = 8
SHARED_CAP = 30  # w2 takes leads in both territories, at most this many a day

CONFIG = RoutingConfig.model_validate(
    {
        "fallback": {"owner": "queue@x.com"},
        "territories": [
            {
                "name": "East",
                "match": {"countries": ["US"]},
                "reps": [
                    {"email": "w1@x.com", "weight": 1},
                    {"email": "w2@x.com", "weight": 3, "capacity": {"per_day": SHARED_CAP}},
                ],
            },
            {
                "name": "West",
                "match": {"countries": ["CA"]},
                "reps": [
                    {"email": "w2@x.com", "weight": 2, "capacity": {"per_day": SHARED_CAP}},
                    {"email": "w3@x.com", "weight": 2},
                ],
            },
            {
                "name": "Load",
                "match": {"countries": ["GB"]},
                "reps": [
                    {"email": "w4@x.com", "weight": 1},
                    {"email": "w5@x.com", "weight": 2},
                    {"email": "w6@x.com", "weight": 3},
                ],
            },
        ],
    }
)


def _race(url: str, per_thread: int, batched: int = 0) -> list[Assignment]:
    """The first `batched` threads decide in routing batches, as a run's decide stage does."""
    engine = make_engine(url)
    upgrade(engine)

    @event.listens_for(engine, "after_cursor_execute")
    def _loaded(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "count(" in statement.lower():  # a loaded machine: between reading and deciding
            time.sleep(0.02)

    router = Router(CONFIG, everyone(CONFIG))
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def decide(worker: int) -> None:
        try:
            start.wait()
            batch = RoutingBatch(engine) if worker < batched else None
            for i in range(per_thread):
                country = ("US", "CA", "GB")[(worker + i) % 3]
                lead = RoutingLead(key=f"t{worker}-{i}", country=country)
                if batch is not None:
                    decision = router.route(batch.session(), lead, NOW)
                    batch.decided()
                else:
                    with routing_transaction(engine) as session:
                        decision = router.route(session, lead, NOW)
                assert decision.owner_email is not None
            if batch is not None:
                batch.close()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=decide, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    with Session(engine) as session:
        rows = list(session.exec(select(Assignment)))
    engine.dispose()
    return rows


def _check(rows: list[Assignment], total: int) -> None:
    assert len(rows) == total and len({r.lead_key for r in rows}) == total  # each lead once
    counts = Counter(r.owner_email for r in rows)
    assert counts["w2@x.com"] == SHARED_CAP  # full, never past its cap
    # every slot of each territory's rotation given exactly once
    for territory in ("East", "West", "Load"):
        turns = sorted(r.turn for r in rows if r.territory == territory and r.turn is not None)
        assert turns == list(range(1, len(turns) + 1)), territory
    # the uncapped territory follows its weights, within one lead of each rep's share
    load = [r for r in rows if r.territory == "Load"]
    for email, weight in (("w4@x.com", 1), ("w5@x.com", 2), ("w6@x.com", 3)):
        assert abs(counts[email] - len(load) * weight / 6) <= 1, (email, counts)
    # w2 at capacity: the rest of East and West went to the other rep (no lead to the queue)
    assert counts["queue@x.com"] == 0
    east_west = [r for r in rows if r.territory in ("East", "West")]
    assert counts["w1@x.com"] + counts["w3@x.com"] == len(east_west) - SHARED_CAP


def test_concurrent_decisions_on_sqlite(sqlite_url: str) -> None:
    _check(_race(sqlite_url, per_thread=30), THREADS * 30)


@pytest.mark.postgres
def test_concurrent_decisions_on_postgresql(pg_url: str) -> None:
    _check(_race(pg_url, per_thread=40), THREADS * 40)


def test_batched_decisions_beside_single_ones_on_sqlite(sqlite_url: str) -> None:
    """Runs' routing batches (several decisions a transaction) beside the fast path's single
    decisions: the same slots, shares and caps."""
    _check(_race(sqlite_url, per_thread=30, batched=4), THREADS * 30)


@pytest.mark.postgres
def test_batched_decisions_beside_single_ones_on_postgresql(pg_url: str) -> None:
    _check(_race(pg_url, per_thread=40, batched=4), THREADS * 40)
