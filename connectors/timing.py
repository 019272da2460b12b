"""Where one thread's seconds go, by part: `timed("crm")` around a call or a wait, `parts()`
around the work measured (a fast-path decision: sync/decision_clock.py, logged by both fast
paths' `speed.decided` and `cdc.decided`).

The parts are exclusive: a part timed inside another counts for itself only (the outer one's
seconds leave it out), so the parts of a piece of work add up to its wall time, less what no part
covers (the decision's own CPU). Outside a `parts()` block, `timed` costs a thread-local lookup:
the bulk run's threads pay nothing more.

Parts used: `crm` (a CRM call: its rate limiter wait, the request, the answer), `rate_limit` (the
limiter's wait, inside a CRM call), `retry_wait` (the wait before a CRM call's next attempt: a
429's Retry-After, a backoff; connectors/http_policy.py), `store` (a state store statement, SQLite's wait for its write
lock included: sync/store/engine.py), `person_lock` (the wait for a person's decision lock),
`routing_lock` (the wait for the routing lock: routing/transaction.py), `write_turn` (a SQLite
writer's wait for its turn: sync/store/write_turn.py). Both CRMs' transports time their calls
(connectors/salesforce/transport.py, connectors/hubspot/transport.py).

A part closed with a label (`stop(part, tick, label)`: a store statement says its table and
operation) also keeps its slowest single stretch: `slowest()` gives, by part, that label and its
own seconds, which names the statement a decision's store seconds went to.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter

_local = threading.local()


class _Watch:
    """One `parts()` block: the seconds by part, and the open parts' inner seconds."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.open: list[float] = []  # per open part: seconds its inner parts took
        self.whole = 0  # open parts that count their inner parts as their own
        self.slowest: dict[str, tuple[str, float]] = {}  # part -> its slowest labelled stretch


def _watch() -> _Watch | None:
    return getattr(_local, "watch", None)


def start() -> float | None:
    """Open a part now (for callers that cannot wrap a block: event hooks); None when nothing is
    measured in this thread. Close it with `stop`."""
    watch = _watch()
    if watch is None or watch.whole:
        return None
    watch.open.append(0.0)
    return perf_counter()


def stop(part: str, tick: float | None, label: str | None = None) -> None:
    """Close the part `start` opened at `tick`; `label` names this stretch (its slowest is kept)."""
    watch = _watch()
    if tick is None or watch is None or not watch.open:
        return
    elapsed = perf_counter() - tick
    inner = watch.open.pop()
    own = elapsed - inner
    watch.seconds[part] = watch.seconds.get(part, 0.0) + own
    if label is not None and own > watch.slowest.get(part, ("", -1.0))[1]:
        watch.slowest[part] = (label, own)
    if watch.open:
        watch.open[-1] += elapsed


@contextmanager
def timed(part: str, *, whole: bool = False) -> Iterator[None]:
    """Count the block's seconds (less its inner parts', unless `whole`: a lock taken by a
    statement is the lock's wait, not the store's) to `part`, when measured."""
    tick = start()
    watch = _watch() if whole and tick is not None else None
    if watch is not None:
        watch.whole += 1
    try:
        yield
    finally:
        if watch is not None:
            watch.whole -= 1
        stop(part, tick)


def slowest() -> dict[str, tuple[str, float]]:
    """The measured block's slowest labelled stretch so far, by part: (label, own seconds)."""
    watch = _watch()
    return dict(watch.slowest) if watch is not None else {}


@contextmanager
def parts() -> Iterator[dict[str, float]]:
    """Measure the block: the dict fills with seconds by part as the block's parts end."""
    saved = _watch()
    watch = _local.watch = _Watch()
    try:
        yield watch.seconds
    finally:
        _local.watch = saved
