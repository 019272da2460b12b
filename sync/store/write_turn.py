"""SQLite's writers in one process take turns in the order they asked: a fast-path decision
never waits behind a whole routing pass.

SQLite lets one transaction write at a time. A writer that finds the lock taken sleeps and tries
again (the busy handler: sleeps growing to 100 ms, up to the busy timeout), so a thread that
commits and writes again at once (the bulk run's routing pass: one routing batch after another,
each holding the write lock) takes it back before a sleeping writer wakes. The fast path's
writes (mirroring a person, claiming its run, its decision) then waited seconds, up to the 30 s
timeout: in a 100,000-person run, the demo requests that fell in the routing pass took 5-20 s
(bench/RESULTS.md, 2026-12-06).

So a SQLite store's engine queues its process's writers in front of SQLite (`install`): a
connection's first writing statement of a transaction takes a ticket and waits for its turn, and
its commit or rollback (or its return to the pool) passes the turn to the next ticket. Whoever
asked first writes first; SQLite's own lock then never makes anyone in this process wait for more
than the transaction in front of them. A thread already holding the turn on one connection goes
on with another (it would have met SQLite's lock as before); a waiter gives up its place after the
busy timeout and goes on to SQLite's own wait, so a transaction left open can stall the others no
longer than SQLite would. Other processes (the CLI beside a worker) still meet SQLite's lock alone.

`FairLock` is the same queue for a plain lock (the routing lock's in-process guard:
routing/transaction.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from connectors.timing import timed

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class _Tickets:
    """A ticket queue: take a number, wait until it is served; a number given up is skipped."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self._next = 0
        self._serving = 0
        self._given_up: set[int] = set()

    def wait(self, timeout: float | None) -> bool:
        """Wait for this caller's turn (the lock `changed` held); False if `timeout` passed."""
        ticket = self._next
        self._next += 1
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._serving != ticket:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                self._given_up.add(ticket)
                self._skip_given_up()
                return False
            self.changed.wait(left)
        return True

    def next_turn(self) -> None:
        """The turn passes to the next ticket waiting (the lock `changed` held)."""
        self._serving += 1
        self._skip_given_up()
        self.changed.notify_all()

    def _skip_given_up(self) -> None:
        while self._serving in self._given_up:
            self._given_up.discard(self._serving)
            self._serving += 1
        self.changed.notify_all()


class FairLock:
    """A lock handed to its waiters in the order they asked (`threading.Lock` is not: the
    thread that lets it go and asks again at once usually gets it back)."""

    def __init__(self) -> None:
        self._tickets = _Tickets()

    def acquire(self) -> None:
        with self._tickets.changed:
            self._tickets.wait(None)

    def release(self) -> None:
        with self._tickets.changed:
            self._tickets.next_turn()

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class WriteTurn:
    """One store's writing connections in this process, in the order they asked."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._tickets = _Tickets()
        self._holders: set[int] = set()  # ids of the DBAPI connections holding the turn
        self._thread: int | None = None  # the thread holding it

    def take(self, connection: Any) -> None:
        """Before `connection`'s first write of a transaction: wait for the turn."""
        key, me = id(connection), threading.get_ident()
        with self._tickets.changed:
            if key in self._holders:
                return
            if self._holders and self._thread == me:  # the holder's own other connection
                self._holders.add(key)
                return
            with timed("write_turn"):
                served = self._tickets.wait(self.timeout)
            if served:
                self._holders.add(key)
                self._thread = me

    def give(self, connection: Any) -> None:
        """`connection`'s transaction ends (commit, rollback, back to the pool)."""
        with self._tickets.changed:
            if id(connection) not in self._holders:
                return
            self._holders.discard(id(connection))
            if not self._holders:
                self._thread = None
                self._tickets.next_turn()


def _writes(statement: str) -> bool:
    return statement.lstrip()[:7].upper().startswith(WRITES)


def install(engine: Engine, timeout: float) -> WriteTurn:
    """Queue this SQLite engine's writers (make_engine does, for every SQLite store)."""
    turn = WriteTurn(timeout)

    def before(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if _writes(statement):
            turn.take(conn.connection.dbapi_connection)

    def ended(conn: Any) -> None:
        turn.give(conn.connection.dbapi_connection)

    def reset(dbapi_connection: Any, *_: Any) -> None:
        turn.give(dbapi_connection)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", ended)
    event.listen(engine, "rollback", ended)
    event.listen(engine.pool, "reset", reset)
    event.listen(engine.pool, "close", reset)
    event.listen(engine.pool, "invalidate", reset)
    return turn
