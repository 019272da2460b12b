"""The portal's rate window in PostgreSQL, shared by processes (here: budgets on connections of
their own, as replicas have). With a window of a million seconds what each gets is decided by the
slots alone; waiting raises instead of sleeping, with the seconds it would have slept."""

from __future__ import annotations

import threading
import time

import pytest

from connectors.ratelimit import fast_lane
from connectors.shared_budget import TABLE, SharedBudget, postgres_connect
from sync.replicas import conninfo

pytestmark = pytest.mark.postgres
LONG = 1e6


class Waited(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def _refuse_to_wait(seconds: float) -> None:
    raise Waited(seconds)


def _budget(pg_url: str, **kwargs: float) -> SharedBudget:
    settings: dict[str, float] = {"limit": 6, "period": LONG, "reserve": 2} | kwargs
    return SharedBudget(
        postgres_connect(conninfo(pg_url)),
        "hubspot/test/burst",
        limit=int(settings["limit"]),
        period=settings["period"],
        reserve=int(settings["reserve"]),
        sleep=_refuse_to_wait,
    )


def _granted(pg_url: str) -> list[float]:
    with postgres_connect(conninfo(pg_url))() as connection:
        row = connection.execute(f"SELECT granted FROM {TABLE}").fetchone()
    return list(row[0])


def test_two_processes_share_one_window_and_the_fast_lane_keeps_the_last_slots(
    pg_url: str,
) -> None:
    bulk, listener = _budget(pg_url), _budget(pg_url)
    for _ in range(3):
        bulk.take()
    listener.take()  # a bulk caller in another process: the fourth of six, the last not reserved
    assert bulk.grants + listener.grants == 4 + 1  # a round trip a call (+1: the row's first)
    assert len(_granted(pg_url)) == 4
    with pytest.raises(Waited) as waited:
        bulk.take()  # the last two are the fast lane's
    # until the oldest grant leaves the window: a million seconds from now
    assert waited.value.seconds == pytest.approx(LONG, abs=60)
    with fast_lane():
        listener.take()
        bulk.take()  # down to the last slot
        with pytest.raises(Waited):
            listener.take()  # the window is full for everyone
    assert len(_granted(pg_url)) == 6
    bulk.close()
    listener.close()


def test_a_429_in_one_process_holds_every_process_off(pg_url: str) -> None:
    first, second = _budget(pg_url), _budget(pg_url)
    first.take()
    first.penalise(30.0)
    with fast_lane(), pytest.raises(Waited) as waited:
        second.take()  # slots are free, but the window is held shut
    assert 25 < waited.value.seconds <= 30
    first.close()
    second.close()


def test_grants_leave_the_window_and_no_window_holds_more_than_the_limit(pg_url: str) -> None:
    """Real time, three processes' worth of callers (a budget each, two threads apiece): every
    call waits for a slot of a 0.35 s window of 3, and the grants (their times on the store's
    clock) never number more than 3 in any 0.35 s."""
    budgets = [
        SharedBudget(postgres_connect(conninfo(pg_url)), "hubspot/test/search", limit=3, period=0.3)
        for _ in range(3)
    ]
    seen: list[float] = []

    def caller(budget: SharedBudget) -> None:
        for _ in range(4):
            granted = budget.take()
            seen.append(granted)
            time.sleep(0.02)  # the call
            budget.settle(granted)

    threads = [threading.Thread(target=caller, args=(b,)) for b in budgets for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    grants = sorted(seen)
    assert len(grants) == 24  # every call was granted (two may share a microsecond of the clock)
    for i, start in enumerate(grants):
        inside = [t for t in grants[i:] if t < start + 0.35]
        assert len(inside) <= 3, (start, inside)
    assert sum(b.waited for b in budgets) > 0  # they did wait for the window
    for budget in budgets:
        budget.close()


def test_an_answered_call_counts_from_its_answer(pg_url: str) -> None:
    """HubSpot counts a call as it arrives, after its grant: once answered, its slot is held
    from the answer, which is after the arrival, so a late-sent call is never counted early."""
    budget = _budget(pg_url)
    first = budget.take()
    second = budget.take()
    time.sleep(0.05)
    budget.settle(first)
    moved, kept = sorted(_granted(pg_url), reverse=True)
    assert kept == second and moved >= first + 0.05  # the other call's grant is left alone
    budget.settle(first)  # twice (a retried hook): nothing left to move
    assert sorted(_granted(pg_url), reverse=True) == [moved, kept]
    budget.close()


def test_a_window_keeps_a_slot_for_the_fast_lane_only_below_its_limit() -> None:
    with pytest.raises(ValueError, match="reserve"):
        SharedBudget(lambda: None, "b", limit=2, period=1.0, reserve=2)
    budget = SharedBudget(lambda: None, "b", limit=187, period=10.0, send_within=0.05, reserve=2)
    assert budget.pace == pytest.approx(185 / 10.05)
