"""SQLite's writers in one process take turns in the order they asked (sync/store/write_turn.py).

A write made while another thread commits routing batch after batch (as the bulk run's routing
pass does) waits for the batch in front of it, not for the pass; the turn is handed on in order,
a holder's own second connection goes on, and a waiter gives up its place after the timeout.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

from routing.transaction import RoutingBatch
from sync.store.engine import make_engine
from sync.store.schema import upgrade
from sync.store.write_turn import FairLock, WriteTurn


def test_a_write_beside_back_to_back_routing_batches_waits_for_one_batch(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE probe (k INTEGER PRIMARY KEY)"))
    stop = threading.Event()
    decisions = [0]

    def routing_pass() -> None:
        batch = RoutingBatch(engine)
        while not stop.is_set():
            batch.session().execute(text("UPDATE routing_rotation SET turn = turn WHERE 0"))
            time.sleep(0.004)  # a decision's work, the write lock held
            batch.decided()
            decisions[0] += 1
        batch.close()

    thread = threading.Thread(target=routing_pass)
    thread.start()
    waits = []
    try:
        for k in range(8):
            time.sleep(0.2)
            tick = time.perf_counter()
            with Session(engine) as session:
                session.execute(text("INSERT INTO probe (k) VALUES (:k)"), {"k": k})
                session.commit()
            waits.append(time.perf_counter() - tick)
    finally:
        stop.set()
        thread.join()
        engine.dispose()
    assert decisions[0] > 200  # the pass went on meanwhile
    # a routing batch is ~0.1 s; SQLite's busy handler alone left writes waiting 1-30 s here
    assert max(waits) < 1.0, waits


def test_the_turn_goes_in_the_order_asked() -> None:
    lock = FairLock()
    order: list[int] = []
    lock.acquire()
    threads = []
    for n in range(5):
        thread = threading.Thread(
            target=lambda n=n: (lock.acquire(), order.append(n), lock.release())
        )
        thread.start()
        threads.append(thread)
        time.sleep(0.05)  # each asks after the one before
    lock.release()
    for thread in threads:
        thread.join(timeout=5)
    assert order == [0, 1, 2, 3, 4]


def test_a_holder_goes_on_and_a_waiter_gives_up_after_the_timeout() -> None:
    turn = WriteTurn(timeout=0.3)
    first, second, other = object(), object(), object()
    turn.take(first)
    turn.take(second)  # the holder's own other connection: no wait
    waited: list[float] = []

    def wait() -> None:
        tick = time.perf_counter()
        turn.take(other)
        waited.append(time.perf_counter() - tick)

    thread = threading.Thread(target=wait)
    thread.start()
    thread.join(timeout=5)
    assert 0.25 < waited[0] < 2.0  # gave up its place: SQLite's own wait is next
    turn.give(first)
    turn.give(second)
    tick = time.perf_counter()
    turn.take(other)  # the turn was passed on past the ticket given up
    assert time.perf_counter() - tick < 0.1
    turn.give(other)
