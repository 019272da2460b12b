"""Client-side rate limiter: a rolling window, so a nominal run never meets a 429.

One `RateLimiter` per connection and bucket (HubSpot: the ten-secondly burst bucket and the
separate search bucket). It is thread-safe; `acquire()` blocks (through the injected `sleep`)
until the call fits in the window. `clock` and `sleep` are injectable for tests.

Writes go first: `acquire(first=True)` takes the next free slot ahead of every ordinary caller
waiting (the pull's read threads back off while a write waits). A run's writes are few (one per
100 records) but each holds up the decisions behind it, while its reads are many and each only
delays the pull by one slot; so decisions keep pace with the pull instead of piling up behind it.

The fast lane goes before both: a call made inside `fast_lane()` (the webhook fast path deciding
one person: sync/speed.py) takes the next free slot ahead of every waiting write and read, and
`reserve` slots of the window are kept for it, so a demo request's few reads and writes are not
stuck behind a bulk pull that fills the window. The slots are kept only once a fast path says it
decides beside the bulk run (`keep_for_fast_lane`): a scheduled sync alone uses the whole window.
The lane is a context variable: it follows the fast path into the threads it starts with
`contextvars.copy_context()`.
"""

from __future__ import annotations

import bisect
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

YIELD_SECONDS = 0.005  # how long a caller steps back from a slot a higher lane waits for
ORDINARY, FIRST, FAST = 0, 1, 2  # lanes, lowest first
_FAST_LANE: contextvars.ContextVar[bool] = contextvars.ContextVar("fast_lane", default=False)


@contextmanager
def fast_lane() -> Iterator[None]:
    """Calls made inside this block (and in threads started from it with the context copied)
    take the front of every limiter's queue."""
    token = _FAST_LANE.set(True)
    try:
        yield
    finally:
        _FAST_LANE.reset(token)


def in_fast_lane() -> bool:
    return _FAST_LANE.get()


class RateLimiter:
    """At most `max_calls` calls in any rolling `period` seconds.

    >>> limiter = RateLimiter(190, 10.0)   # HubSpot professional burst limit
    >>> limiter.acquire()                  # returns at once, or sleeps until a slot frees
    """

    def __init__(
        self,
        max_calls: int,
        period: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        reserve: int = 0,
    ) -> None:
        if max_calls <= 0 or period <= 0:
            raise ValueError("RateLimiter needs max_calls > 0 and period > 0")
        if not 0 <= reserve < max_calls:
            raise ValueError("RateLimiter needs 0 <= reserve < max_calls")
        self.max_calls = max_calls
        self.reserve = reserve  # slots only the fast lane may take
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._stamps: list[float] = []  # sorted send times inside the window
        self._waiting = [0, 0, 0]  # callers waiting, per lane (ORDINARY, FIRST, FAST)
        self.waited = 0.0  # seconds spent waiting, for usage reports

    def _wait_needed(self, n: int, now: float, limit: int) -> float:
        """Seconds until `n` more calls fit under `limit`; 0 when they fit now. Caller holds
        the lock."""
        horizon = now - self.period
        expired = bisect.bisect_right(self._stamps, horizon)
        if expired:
            del self._stamps[:expired]
        overflow = len(self._stamps) + n - limit
        if overflow <= 0:
            return 0.0
        # the `overflow`-th oldest stamp must leave the window first
        return self._stamps[overflow - 1] + self.period - now

    def acquire(self, n: int = 1, *, first: bool = False) -> float:
        """Block until `n` calls may be made, record them, and return their stamp. With
        `first`, go ahead of every ordinary caller that is waiting too; inside `fast_lane()`,
        ahead of every other caller (and into the reserved slots)."""
        if n > self.max_calls:
            raise ValueError(f"cannot acquire {n} calls from a limiter of {self.max_calls}")
        lane = FAST if _FAST_LANE.get() else FIRST if first else ORDINARY
        limit = self.max_calls if lane == FAST else self.max_calls - self.reserve
        n_limit = min(n, limit)  # a batch bigger than the shared part waits for an empty window
        queued = False
        try:
            while True:
                with self._lock:
                    now = self._clock()
                    wait = self._wait_needed(n_limit, now, limit)
                    ahead = any(self._waiting[lane + 1 :])
                    if wait <= 0 and not ahead:
                        self._stamps.extend([now] * n)
                        return now
                    if not queued:
                        self._waiting[lane] += 1
                        queued = True
                    if wait <= 0:  # a slot is free, but a higher lane waits for it
                        wait = YIELD_SECONDS
                self.waited += wait
                self._sleep(wait)
        finally:
            if queued:
                with self._lock:
                    self._waiting[lane] -= 1

    def keep_for_fast_lane(self, slots: int) -> None:
        """From now on keep `slots` of each window for fast-lane calls only."""
        if not 0 <= slots < self.max_calls:
            raise ValueError("RateLimiter needs 0 <= reserve < max_calls")
        with self._lock:
            self.reserve = slots

    def waiting(self) -> tuple[int, int, int]:
        """Callers waiting now per lane (ordinary, first, fast): for tests and usage."""
        with self._lock:
            return (self._waiting[0], self._waiting[1], self._waiting[2])

    def settle(self, stamp: float) -> None:
        """The call stamped `stamp` got its answer: count it from now instead.

        The server counts a call when it arrives, which can be well after we stamped it
        (connection setup, queueing); moving the stamp to the answer's time keeps our window
        at least as strict as the server's whatever the latency.
        """
        with self._lock:
            index = bisect.bisect_left(self._stamps, stamp)
            if index < len(self._stamps) and self._stamps[index] == stamp:
                del self._stamps[index]
                bisect.insort(self._stamps, max(stamp, self._clock()))

    def penalise(self, seconds: float) -> None:
        """After a server 429: treat the window as full for `seconds` from now."""
        with self._lock:
            now = self._clock()
            until = now + seconds - self.period
            self._stamps = [until] * self.max_calls
