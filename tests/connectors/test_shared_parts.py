"""The limiter, the retry policy and batch bisection, with injected clocks and sleeps."""

from __future__ import annotations

import math
import random
import threading
import time

import pytest

from connectors.base import ApiUsage
from connectors.bisection import BatchRejected, land
from connectors.errors import (
    FatalError,
    QuotaExhaustedError,
    RateLimitedError,
    RetriableError,
    SkippableError,
    UnknownOutcomeError,
)
from connectors.http_policy import retrying
from connectors.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_limiter_never_allows_more_than_max_in_any_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(5, 1.0, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(23):
        limiter.acquire()
        stamps.append(clock.now)
    for i, start in enumerate(stamps):
        inside = [s for s in stamps[i:] if s < start + 1.0]
        assert len(inside) <= 5
    assert stamps[4] == 0.0 and stamps[5] == pytest.approx(1.0)
    assert limiter.waited == pytest.approx(sum(clock.slept))


def test_limiter_holds_off_after_a_server_429() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100, 10.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.penalise(2.0)
    limiter.acquire()
    assert clock.now == pytest.approx(2.0)


def test_limiter_counts_a_settled_call_from_its_answer() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, 1.0, clock=clock, sleep=clock.sleep)
    first = limiter.acquire()
    limiter.acquire()
    clock.now = 0.4  # the first answer came late: the server may have counted it at 0.4
    limiter.settle(first)
    limiter.acquire()
    assert clock.now == pytest.approx(1.0)  # the un-settled second call frees the slot
    limiter.acquire()
    assert clock.now == pytest.approx(1.4)  # the settled one frees its slot 1 s after 0.4


def test_a_write_waiting_for_the_limiter_goes_ahead_of_waiting_reads() -> None:
    limiter = RateLimiter(1, 0.4)
    limiter.acquire()  # the window is full for 0.4 s
    order: list[str] = []

    def take(name: str, first: bool) -> None:
        limiter.acquire(first=first)
        order.append(name)

    reads = [threading.Thread(target=take, args=(f"read{n}", False)) for n in range(3)]
    for thread in reads:
        thread.start()
    time.sleep(0.1)  # the reads are waiting already when the write comes
    write = threading.Thread(target=take, args=("write", True))
    write.start()
    for thread in [*reads, write]:
        thread.join(timeout=5)
    assert order[0] == "write" and sorted(order[1:]) == ["read0", "read1", "read2"]


def test_an_ordinary_caller_steps_back_only_while_a_first_caller_waits() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, 1.0, clock=clock, sleep=clock.sleep)
    limiter.acquire(first=True)
    limiter.acquire()  # nobody waits first: an ordinary call takes a free slot at once
    assert clock.now == 0.0 and limiter.waiting() == (0, 0, 0)


def test_limiter_refuses_impossible_requests() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 1.0)
    with pytest.raises(ValueError):
        RateLimiter(2, 1.0).acquire(3)


def test_policy_retries_retriable_errors_and_honours_retry_after() -> None:
    usage = ApiUsage()
    waits: list[float] = []
    attempts: list[Exception] = [RateLimitedError("429", retry_after=3.0), RetriableError("503")]

    def call() -> str:
        if attempts:
            raise attempts.pop(0)
        return "done"

    assert retrying(usage=usage, sleep=waits.append)(call) == "done"
    assert waits[0] == 3.0 and 0 < waits[1] <= 60.0
    assert usage.retries == 2 and usage.throttled == 1


@pytest.mark.parametrize(
    "error",
    [
        FatalError("no"),
        SkippableError("bad"),
        QuotaExhaustedError("daily"),
        UnknownOutcomeError("?"),
    ],
)
def test_policy_never_retries_what_must_not_be_retried(error: Exception) -> None:
    calls = []

    def call() -> None:
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        retrying(sleep=lambda s: None)(call)
    assert len(calls) == 1


def test_policy_gives_up_with_the_last_error_and_caps_waits() -> None:
    waits: list[float] = []

    def call() -> None:
        raise RateLimitedError("still throttled", retry_after=600.0)

    with pytest.raises(RateLimitedError):
        retrying(max_attempts=4, max_wait=30.0, sleep=waits.append)(call)
    assert waits == [30.0, 30.0, 30.0]


def _send_refusing(bad: set[int], sent: list[list[int]]):  # type: ignore[no-untyped-def]
    def send(batch):  # type: ignore[no-untyped-def]
        sent.append(list(batch))
        if bad & set(batch):
            raise BatchRejected("Property values were not valid")
        return {}

    return send


@pytest.mark.parametrize("size", [1, 2, 7, 100])
def test_bisection_lands_the_good_and_quarantines_one_bad(size: int) -> None:
    for bad in range(size):
        sent: list[list[int]] = []
        result = land(list(range(size)), _send_refusing({bad}, sent))
        assert result.rejected == {bad: "Property values were not valid"}
        assert sorted(result.landed) == [k for k in range(size) if k != bad]
        extra = len(sent) - 1
        assert extra <= (math.ceil(math.log2(size)) + 1 if size > 1 else 1)


def test_bisection_never_blames_a_good_record_when_several_are_bad() -> None:
    rng = random.Random(3)
    for _ in range(200):
        size = rng.randint(2, 100)
        bad = set(rng.sample(range(size), rng.randint(2, 4)))
        result = land(list(range(size)), _send_refusing(bad, []))
        assert set(result.rejected) == bad
        assert sorted(result.landed) == sorted(set(range(size)) - bad)


def test_bisection_uses_named_culprits_and_per_item_errors() -> None:
    sent: list[list[str]] = []

    def send(batch):  # type: ignore[no-untyped-def]
        sent.append(list(batch))
        if "b" in batch:
            raise BatchRejected("b is invalid", culprits=["b"])
        return {"c": "VALIDATION_ERROR: c refused"} if "c" in batch else {}

    result = land(["a", "b", "c", "d"], send)
    assert result.rejected == {"b": "b is invalid", "c": "VALIDATION_ERROR: c refused"}
    assert sorted(result.landed) == ["a", "d"]
    assert len(sent) == 2
