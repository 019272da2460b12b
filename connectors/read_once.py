"""One CRM read of a record serving the next read of it, within one person's fast-path decision.

The fast path reads the person before taking their lock (for the lock's key), again under it
(sync/fast_decision.py: a scheduled run may have decided them in between), and the one-person pull
it then runs (`handoff sync --only`'s, sync/explain/live.py) would read them a third time, a
moment later, still under the lock, before any write. Inside `reads_shared()`, a connector that
supports it (HubSpot's contact reads by id) keeps what a read by id answered, and the next read of
the same record in the scope takes that answer instead of a call, once: a later read asks the CRM
again. Outside the scope nothing is kept.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

Key = tuple[str, str, str]  # (connection, object type, record id)
_SHARED: contextvars.ContextVar[dict[Key, Any] | None] = contextvars.ContextVar(
    "reads_shared", default=None
)


@contextmanager
def reads_shared() -> Iterator[None]:
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def take(key: Key) -> Any | None:
    """The answer kept for this record in the scope, once (None: read it)."""
    kept = _SHARED.get()
    return None if kept is None else kept.pop(key, None)


def keep(key: Key, answer: Any) -> None:
    """Keep this answer for the scope's next read of the record (outside a scope: nothing)."""
    kept = _SHARED.get()
    if kept is not None:
        kept[key] = answer
