"""One routing decision's own short transaction, so that deciders beside each other (a bulk run,
the fast path, another replica) share the round robin and the reps' capacity safely.

The router reads and advances a territory's rotation and counts each rep's assignments (today,
and since the owner snapshot) to check capacity. Done inside a run's chunk transaction, those
reads and writes would be held (and hidden from the others) for the whole chunk. Here they are
read, decided and committed at once, under the routing lock: PostgreSQL's transaction-scoped
advisory lock `ROUTING_LOCK` (every replica), SQLite's write lock (taken by a write that changes
nothing), and an in-process lock in front of either so threads queue without polling. Within it
every count is read afresh (the ledger caches per transaction), so two concurrent decisions never
give the same slot twice or push a rep past a cap.

The assignment is thereby committed just before the person's state and outbox items (the
chunk's commit). A run that dies in between leaves the assignment: the next run reads it as
Handoff's last owner decision (`PersonView.settle`) and keeps that owner instead of routing the
person again. Dry runs route in their own (rolled back) transaction instead.

A run's decide stage routes its chunk's people in a `RoutingBatch`: consecutive decisions share
one routing transaction, committed after `BATCH_DECISIONS` of them or once it has been open
`BATCH_SECONDS`, and before the chunk commits. The lock, the session and the commit are then paid
once a batch, not once a person (the routing pass after a 100,000-contact pull routes ~24,000
people in a row, at ~4 ms each on SQLite and more on PostgreSQL when each had its own); the fast
path waits for the lock at most a batch's time. The ledger keeps its counts and the rotation up
to date within a transaction (routing/ledger.py), so decisions in one batch see each other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from connectors.timing import timed
from routing.tables import RotationState
from sync.store.write_turn import FairLock

ROUTING_LOCK = 7220314  # pg advisory lock id: one routing decision at a time, all replicas
_guards: dict[str, FairLock] = {}
_guards_lock = threading.Lock()


def _guard(engine: Engine) -> FairLock:
    """The in-process lock in front of the store's routing lock: handed on in the order asked,
    so a routing pass that commits a batch and opens the next at once lets a fast-path decision
    waiting meanwhile go first (a plain lock went back to the pass, batch after batch)."""
    with _guards_lock:
        return _guards.setdefault(engine.url.render_as_string(hide_password=True), FairLock())


@contextmanager
def routing_transaction(engine: Engine) -> Iterator[Session]:
    """A session whose transaction holds the routing lock; committed when the block ends (rolled
    back if it raises)."""
    guard = _guard(engine)
    with timed("routing_lock"):
        guard.acquire()
    try:
        with Session(engine) as session:
            with timed("routing_lock", whole=True):
                _lock(session, engine)
            yield session
            session.commit()
    finally:
        guard.release()


def _lock(session: Session, engine: Engine) -> None:
    """The routing lock of the store, in this session's transaction."""
    if engine.dialect.name == "postgresql":
        # one statement, one round trip: the lock, and a commit that does not wait for its
        # WAL flush (the person's chunk commits after it, synchronously, and flushes the WAL
        # up to there; a crash before that loses both, and the next run routes them anew)
        session.execute(
            text(
                "SELECT pg_advisory_xact_lock(:id), set_config('synchronous_commit', 'off', true)"
            ),
            {"id": ROUTING_LOCK},
        )
    else:  # the database's write lock, before anything is read (a key no row has)
        session.execute(
            update(RotationState)
            .where(col(RotationState.territory) == "")
            .values(turn=col(RotationState.turn))
            .execution_options(synchronize_session=False)
        )


BATCH_DECISIONS = 50
BATCH_SECONDS = 0.1


class RoutingBatch:
    """Routing decisions in one routing transaction until the batch is full or `BATCH_SECONDS`
    old (checked at each decision), or `close` is called: the decider must close it before it
    commits, or waits on anything, and must not write through its own session meanwhile (on
    SQLite this transaction holds the database's write lock)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._open: AbstractContextManager[Session] | None = None
        self._session: Session | None = None
        self._decisions = 0
        self._opened = 0.0

    def session(self) -> Session:
        """The batch's session for the next decision (a new transaction if the last is old)."""
        if self._session is not None and time.monotonic() - self._opened >= BATCH_SECONDS:
            self.close()
        if self._session is None:
            self._open = routing_transaction(self.engine)
            self._session = self._open.__enter__()
            self._opened, self._decisions = time.monotonic(), 0
        return self._session

    def decided(self) -> None:
        """One decision made in `session()`: commit once the batch is full."""
        self._decisions += 1
        if self._decisions >= BATCH_DECISIONS:
            self.close()

    def close(self) -> None:
        """Commit the batch's decisions (if any) and let the routing lock go."""
        opened, self._open, self._session = self._open, None, None
        if opened is not None:
            opened.__exit__(None, None, None)

    def abandon(self, error: BaseException) -> None:
        """Roll the batch back (a decision in it failed) and let the routing lock go."""
        opened, self._open, self._session = self._open, None, None
        if opened is not None:
            opened.__exit__(type(error), error, error.__traceback__)
