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
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from routing.tables import RotationState

ROUTING_LOCK = 7220314  # pg advisory lock id: one routing decision at a time, all replicas
_guards: dict[str, threading.Lock] = {}
_guards_lock = threading.Lock()


def _guard(engine: Engine) -> threading.Lock:
    with _guards_lock:
        return _guards.setdefault(engine.url.render_as_string(hide_password=True), threading.Lock())


@contextmanager
def routing_transaction(engine: Engine) -> Iterator[Session]:
    """A session whose transaction holds the routing lock; committed when the block ends (rolled
    back if it raises)."""
    with _guard(engine), Session(engine) as session:
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
        yield session
        session.commit()
