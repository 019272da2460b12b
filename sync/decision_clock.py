"""Where one fast-path decision's seconds go, for its log line: both fast paths (HubSpot
webhooks' `speed.decided`: sync/speed.py; Salesforce change events' `cdc.decided`:
sync/change_inbox.py) say it the same way.

By step: `read_seconds` (the first CRM read), `lock_wait_seconds` (the person's decision lock,
held by a bulk run's chunk or another decider), `read_again_seconds` (the read under the lock),
`decide_seconds` (mirror, decide, write: to the owner written), `task_seconds` (the SLA rungs due
then: the owner's task); `seconds` is from the first read to the owner written. And, over that
same stretch, by what it waited for (connectors/timing.py's exclusive parts): `crm_seconds`,
`rate_limit_seconds` and `retry_wait_seconds` (inside CRM calls: the limiter, the waits
between attempts), `store_seconds`, `write_turn_seconds`, `routing_lock_seconds`,
`person_lock_seconds`; and the slowest store statement of that stretch: `slowest_store` (its
table and operation: "activities select") and `slowest_store_seconds`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import perf_counter
from typing import TypeVar

from connectors.timing import parts, slowest

T = TypeVar("T")


class DecisionClock:
    """The steps of one decision, marked as they end (`read`, `reading_again`, `owner_written`,
    `fields` at the end), and its parts by what it waited for."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self._seconds = seconds  # filled by connectors/timing.py as parts end
        self._marks = [perf_counter()]  # start; then read, lock held, read again, owner
        self._by_part: dict[str, float] = {}
        self._slowest: dict[str, str | float] = {}

    def read(self) -> None:
        """The first CRM read is done (the person's lock is asked for next)."""
        self._marks[1:] = [perf_counter()]

    def reading_again(self, read: Callable[[], T]) -> Callable[[], T]:
        """`read`, marking the lock held before it and the read done after it."""

        def again() -> T:
            self._marks.append(perf_counter())
            try:
                return read()
            finally:
                self._marks.append(perf_counter())

        return again

    def owner_written(self) -> None:
        """The decision is written (owner, stage, score): the parts are taken up to here."""
        self._marks.append(perf_counter())
        self._by_part = dict(self._seconds)
        if (statement := slowest().get("store")) is not None:
            label, seconds = statement
            self._slowest = {"slowest_store": label, "slowest_store_seconds": round(seconds, 3)}

    def fields(self) -> dict[str, float | str]:
        """The log line's seconds (call after the SLA rungs: `task_seconds` ends now)."""
        done = perf_counter()
        start, read, locked, again, owner = (self._marks + [done] * 5)[:5]
        return {
            "seconds": round(owner - start, 2),
            "read_seconds": round(read - start, 2),
            "lock_wait_seconds": round(locked - read, 2),
            "read_again_seconds": round(again - locked, 2),
            "decide_seconds": round(owner - again, 2),
            "task_seconds": round(done - owner, 2),
            **{f"{part}_seconds": round(value, 3) for part, value in self._by_part.items()},
            **self._slowest,
        }


@contextmanager
def decision_clock() -> Iterator[DecisionClock]:
    """Measure the decision made in the block, in this thread."""
    with parts() as seconds:
        yield DecisionClock(seconds)
