"""The portal's rate budget in PostgreSQL, shared by processes (here: two budgets on their own
connections, as two replicas have). Refill is made negligible (a window of a million seconds), so
what each gets is decided by the bucket alone; waiting raises instead of sleeping."""

from __future__ import annotations

import pytest

from connectors.ratelimit import fast_lane
from connectors.shared_budget import TABLE, SharedBudget, postgres_connect
from sync.replicas import conninfo

pytestmark = pytest.mark.postgres


class Waited(Exception):
    pass


def _refuse_to_wait(seconds: float) -> None:
    raise Waited(seconds)


def _budget(pg_url: str) -> SharedBudget:
    return SharedBudget(
        postgres_connect(conninfo(pg_url)),
        "hubspot/test/burst",
        limit=100,
        period=1e6,
        sleep=_refuse_to_wait,
    )


def _tokens(pg_url: str) -> float:
    with postgres_connect(conninfo(pg_url))() as connection:
        row = connection.execute(f"SELECT tokens FROM {TABLE}").fetchone()
    return float(row[0])


def test_two_processes_spend_one_bucket_and_the_fast_lane_keeps_the_last_tokens(
    pg_url: str,
) -> None:
    bulk, listener = _budget(pg_url), _budget(pg_url)
    assert bulk.capacity == 10 and bulk.slice_size == 5
    for _ in range(5):
        bulk.take()  # one lease of five: one round trip
    assert bulk.leases <= 2 and _tokens(pg_url) == pytest.approx(5, abs=0.01)

    listener.take()  # a bulk caller leases only above the reserve (10 / 3): one token left
    assert _tokens(pg_url) == pytest.approx(4, abs=0.01)
    with pytest.raises(Waited):
        listener.take()  # the rest is the fast lane's
    with fast_lane():
        for _ in range(4):
            listener.take()  # one token a lease, down to the last
        with pytest.raises(Waited):
            bulk.take()  # the bucket is empty for everyone
    assert _tokens(pg_url) == pytest.approx(0, abs=0.01)
    bulk.close()
    listener.close()


def test_a_429_in_one_process_holds_every_process_off(pg_url: str) -> None:
    first, second = _budget(pg_url), _budget(pg_url)
    first.take()
    first.penalise(30.0)
    with fast_lane(), pytest.raises(Waited):
        second.take()
    assert _tokens(pg_url) < 0
    first.close()
    second.close()


def test_the_bucket_keeps_any_window_under_the_limit() -> None:
    budget = SharedBudget(lambda: None, "b", limit=180, period=10.0, lease_seconds=0.5)
    # the most tokens granted in period + lease seconds stays within the limit
    assert budget.capacity + budget.rate * (10.0 + 0.5) == pytest.approx(180)
