"""The decision lock on PostgreSQL: a run's thread that holds it can decide the fast path's people
at a chunk boundary (sync --only's code takes it again) without waiting on itself, while another
thread still waits for the run."""

from __future__ import annotations

import threading

import pytest

from sync.passes import decision_lock
from sync.store.engine import make_engine


@pytest.mark.postgres
def test_the_holding_thread_takes_it_again_and_others_wait(pg_url: str) -> None:
    engine = make_engine(pg_url)
    other_got_it = threading.Event()

    def other() -> None:
        with decision_lock(engine):
            other_got_it.set()

    try:
        with decision_lock(engine):
            with decision_lock(engine):  # nested: a chunk boundary's fast-path decision
                pass
            waiter = threading.Thread(target=other)
            waiter.start()
            assert not other_got_it.wait(0.5)  # another thread still waits for the holder
        waiter.join(10)
        assert other_got_it.is_set()  # released once the outer hold ends
    finally:
        engine.dispose()
