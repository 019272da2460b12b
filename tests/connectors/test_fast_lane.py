"""The fast lane at the rate limiter: a webhook's call goes ahead of a saturating bulk run.

Deterministic: the limiter's clock is held by the test (no slot frees until it moves it), and
the test waits for the limiter to report its waiting callers before it frees exactly one slot.
"""

from __future__ import annotations

import contextvars
import threading
import time

from connectors.ratelimit import RateLimiter, fast_lane, in_fast_lane


class HeldClock:
    """Time stands still until the test moves it; sleeping only yields the thread."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(0.001)


def wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5000):
        if condition():
            return
        time.sleep(0.001)
    raise AssertionError(f"never reached: {what}")


def test_a_fast_path_call_is_admitted_next_while_bulk_calls_saturate_the_limiter() -> None:
    clock = HeldClock()
    limiter = RateLimiter(3, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()  # the bulk pull filled the window
    order: list[str] = []

    def take(name: str, *, first: bool = False, fast: bool = False) -> None:
        if fast:
            with fast_lane():
                limiter.acquire()
        else:
            limiter.acquire(first=first)
        order.append(name)

    bulk = [threading.Thread(target=take, args=(f"read{n}",)) for n in range(4)]
    bulk.append(threading.Thread(target=take, args=("write",), kwargs={"first": True}))
    for thread in bulk:
        thread.start()
    wait_for(lambda: limiter.waiting() == (4, 1, 0), "the bulk run's calls all waiting")
    fast = threading.Thread(target=take, args=("webhook",), kwargs={"fast": True})
    fast.start()
    wait_for(lambda: limiter.waiting()[2] == 1, "the fast path's call waiting")
    assert order == []

    clock.now = 10.0  # the window rolls: three slots free, and the fast call is first
    wait_for(lambda: len(order) == 3, "three calls admitted")
    assert order[0] == "webhook" and order[1] == "write"
    clock.now = 20.0
    wait_for(lambda: len(order) == 6, "the rest admitted")
    for thread in [*bulk, fast]:
        thread.join(timeout=5)
    assert sorted(order[2:]) == ["read0", "read1", "read2", "read3"]


def test_reserved_slots_are_the_fast_lanes_only() -> None:
    clock = HeldClock()
    limiter = RateLimiter(4, 10.0, clock=clock, sleep=clock.sleep, reserve=1)
    for _ in range(3):
        limiter.acquire()  # the bulk run may take 3 of the 4
    taken = threading.Event()

    def bulk_call() -> None:
        limiter.acquire()
        taken.set()

    thread = threading.Thread(target=bulk_call)
    thread.start()
    wait_for(lambda: limiter.waiting()[0] == 1, "a bulk call waiting for the window")
    with fast_lane():
        limiter.acquire()  # the reserved slot: at once, the clock never moved
    assert clock.now == 0.0 and not taken.is_set()
    clock.now = 10.0
    thread.join(timeout=5)
    assert taken.is_set()


def test_the_lane_follows_the_fast_path_into_threads_it_starts_with_its_context() -> None:
    seen: list[bool] = []
    with fast_lane():
        context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(lambda: seen.append(in_fast_lane()),))
    thread.start()
    thread.join()
    assert seen == [True] and not in_fast_lane()


def _bulk_calls_until_a_wait(limiter: RateLimiter, clock: HeldClock) -> int:
    """Ordinary (bulk) calls admitted at one instant: the next one would have to wait."""
    admitted = 0
    while limiter._wait_needed(1, clock.now, limiter.max_calls - limiter.reserve) <= 0:
        limiter.acquire()
        admitted += 1
    return admitted


def test_a_scheduled_sync_alone_has_the_whole_window_and_a_fast_path_keeps_its_slots(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    from types import SimpleNamespace

    from connectors.hubspot.connector import HubSpotConnector
    from sync.speed import FastPath
    from tests.connectors.hs_harness import hubspot_connection

    ca = tmp_path / "ca.pem"
    ca.write_text("")
    connection = hubspot_connection("https://127.0.0.1:9", str(ca), tier="professional")
    clock = HeldClock()
    alone = HubSpotConnector(connection, sleep=clock.sleep, clock=clock)
    # HubSpot Professional: 190 a rolling 10 s, less Handoff's margin of 3: 187, none kept back
    assert _bulk_calls_until_a_wait(alone.transport.burst, clock) == 187

    beside = HubSpotConnector(connection, sleep=clock.sleep, clock=clock)
    runtime = SimpleNamespace(
        config=SimpleNamespace(http=None, connections=[connection]),
        connectors={"hubspot": beside},
    )
    fast = FastPath(runtime, size=3, deciders=1)  # type: ignore[arg-type]
    fast.start()
    try:
        limiter = beside.transport.burst
        assert _bulk_calls_until_a_wait(limiter, clock) == 183  # 4 kept for the fast path
        with fast_lane():
            for _ in range(4):
                limiter.acquire()  # each at once: the clock never moved
        assert limiter.waited == 0.0
    finally:
        fast.stop()
