"""The decision locks, on SQLite and PostgreSQL.

Per person (sync/person_lock.py): the fast path's deciders and the bulk run hold the people they
decide; someone else's decision for the same person waits for the holder, anyone else's goes on
at once, and the holder may take its own person again (the fast path holds the person while
`handoff sync --only`'s code locks them too). The store's decision lock (sync/passes.py) is left
to scheduled runs among themselves: another one waits for the holder.

(A waiter still waiting is seen by it not having got the lock a moment later: such a check can
only pass wrongly, never fail wrongly.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from sync.passes import decision_lock
from sync.person_lock import holds, person_locks
from sync.store.engine import make_engine

GENEROUS = 30.0  # a guard against a hang, not a timing


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _in_thread(engine: Engine, keys: list[str]) -> tuple[threading.Thread, threading.Event]:
    got = threading.Event()

    def take() -> None:
        with person_locks(engine, keys):
            got.set()

    thread = threading.Thread(target=take)
    thread.start()
    return thread, got


def test_a_person_is_decided_by_one_holder_at_a_time_and_others_go_on(store: Engine) -> None:
    with person_locks(store, ["email:ann@x.com"]):
        with person_locks(store, ["email:ann@x.com"]):  # the holder again: no wait on itself
            assert holds(store, "email:ann@x.com")
        assert holds(store, "email:ann@x.com")  # the inner block left the outer hold alone
        same, same_got = _in_thread(store, ["email:ann@x.com", "email:bo@x.com"])
        other, other_got = _in_thread(store, ["email:cy@x.com"])
        assert other_got.wait(GENEROUS)  # someone else: decided at once
        other.join(GENEROUS)
        assert not same_got.wait(0.5)  # the same person (with another): waits for the holder
    assert not holds(store, "email:ann@x.com")
    same.join(GENEROUS)
    assert same_got.is_set()  # once the holder let go


@pytest.mark.postgres
def test_scheduled_runs_take_the_store_decision_lock_in_turn(pg_url: str) -> None:
    engine = make_engine(pg_url)
    other_got_it = threading.Event()

    def other() -> None:
        with decision_lock(engine):
            other_got_it.set()

    try:
        with decision_lock(engine):
            waiter = threading.Thread(target=other)
            waiter.start()
            assert not other_got_it.wait(0.5)  # another run waits for the holder
        waiter.join(GENEROUS)
        assert other_got_it.is_set()  # released once the hold ends
    finally:
        engine.dispose()
