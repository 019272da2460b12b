"""Per-person decision locks: the fast path and the bulk run decide beside each other, never the
same person at once.

A bulk run holds the people of the chunk it is deciding (up to 500) until the chunk is committed;
the fast path holds the one person it is reading, mirroring and deciding. Whoever comes second
waits, then reads the person's state as the first left it (the bulk run skips someone the fast
path decided after the run began: sync/decide.py).

PostgreSQL: transaction-scoped advisory locks keyed by the person (`pg_advisory_xact_lock(class,
hashtext(key))`), taken on a connection of their own whose transaction lasts as long as the hold:
they cover every replica, and a process that dies releases them with its connection. SQLite: the
store belongs to one process, so an in-process table of held keys is enough.

Re-entrant in one thread: the fast path holds its person while `handoff sync --only`'s code (which
locks the person too) decides them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Engine

from connectors.timing import timed

PERSON_LOCKS = 7220313  # pg advisory lock class of the per-person locks
_LOCK_SQL = text(
    "SELECT pg_advisory_xact_lock(:class, h) FROM "
    "(SELECT DISTINCT hashtext(k) AS h FROM unnest(CAST(:keys AS text[])) AS k ORDER BY 1) AS s"
)


class _HeldKeys:
    """One process's held person keys for one SQLite store (all-or-nothing acquisition: a
    holder never waits while holding some of what it asked for, so two never deadlock)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held: set[str] = set()

    def acquire(self, keys: list[str]) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._held.isdisjoint(keys))
            self._held.update(keys)

    def release(self, keys: list[str]) -> None:
        with self._changed:
            self._held.difference_update(keys)
            self._changed.notify_all()


_stores: dict[str, _HeldKeys] = {}
_stores_guard = threading.Lock()
_mine = threading.local()  # (store, key) pairs this thread holds


def _store_id(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _held_here() -> set[tuple[str, str]]:
    held: set[tuple[str, str]] | None = getattr(_mine, "held", None)
    if held is None:
        held = _mine.held = set()
    return held


def holds(engine: Engine, key: str) -> bool:
    """Whether this thread holds the person's lock."""
    return (_store_id(engine), key) in _held_here()


@contextmanager
def person_locks(engine: Engine, keys: Iterable[str]) -> Iterator[None]:
    """Hold these people's decision locks for the block (waiting for whoever holds one)."""
    store = _store_id(engine)
    mine = _held_here()
    wanted = sorted({key for key in keys if (store, key) not in mine})
    if not wanted:
        yield
        return
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:  # its transaction holds the locks until the end
            with timed("person_lock", whole=True):
                connection.execute(_LOCK_SQL, {"class": PERSON_LOCKS, "keys": wanted})
            mine.update((store, key) for key in wanted)
            try:
                yield
            finally:
                mine.difference_update((store, key) for key in wanted)
                connection.rollback()  # ends the transaction: the locks go with it
        return
    with _stores_guard:
        held = _stores.setdefault(store, _HeldKeys())
    with timed("person_lock"):
        held.acquire(wanted)
    mine.update((store, key) for key in wanted)
    try:
        yield
    finally:
        mine.difference_update((store, key) for key in wanted)
        held.release(wanted)
