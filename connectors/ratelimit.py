"""Client-side rate limiter: a rolling window, so a nominal run never meets a 429.

One `RateLimiter` per connection and bucket (HubSpot: the ten-secondly burst bucket and the
separate search bucket). It is thread-safe; `acquire()` blocks (through the injected `sleep`)
until the call fits in the window. `clock` and `sleep` are injectable for tests.

Writes go first: `acquire(first=True)` takes the next free slot ahead of every ordinary caller
waiting (the pull's read threads back off while a write waits). A run's writes are few (one per
100 records) but each holds up the decisions behind it, while its reads are many and each only
delays the pull by one slot; so decisions keep pace with the pull instead of piling up behind it.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable

YIELD_SECONDS = 0.005  # how long an ordinary caller steps back from a first caller's slot


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
    ) -> None:
        if max_calls <= 0 or period <= 0:
            raise ValueError("RateLimiter needs max_calls > 0 and period > 0")
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._stamps: list[float] = []  # sorted send times inside the window
        self._first_waiting = 0  # callers of acquire(first=True) waiting for a slot
        self.waited = 0.0  # seconds spent waiting, for usage reports

    def _wait_needed(self, n: int, now: float) -> float:
        """Seconds until `n` more calls fit; 0 when they fit now. Caller holds the lock."""
        horizon = now - self.period
        expired = bisect.bisect_right(self._stamps, horizon)
        if expired:
            del self._stamps[:expired]
        overflow = len(self._stamps) + n - self.max_calls
        if overflow <= 0:
            return 0.0
        # the `overflow`-th oldest stamp must leave the window first
        return self._stamps[overflow - 1] + self.period - now

    def acquire(self, n: int = 1, *, first: bool = False) -> float:
        """Block until `n` calls may be made, record them, and return their stamp. With
        `first`, go ahead of every ordinary caller that is waiting too."""
        if n > self.max_calls:
            raise ValueError(f"cannot acquire {n} calls from a limiter of {self.max_calls}")
        queued = False
        try:
            while True:
                with self._lock:
                    now = self._clock()
                    wait = self._wait_needed(n, now)
                    if wait <= 0 and (first or not self._first_waiting):
                        self._stamps.extend([now] * n)
                        return now
                    if first and not queued:
                        self._first_waiting += 1
                        queued = True
                    if wait <= 0:  # a slot is free, but a first caller is waiting for it
                        wait = YIELD_SECONDS
                self.waited += wait
                self._sleep(wait)
        finally:
            if queued:
                with self._lock:
                    self._first_waiting -= 1

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
