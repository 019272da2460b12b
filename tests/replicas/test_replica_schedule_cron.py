"""Replica schedules are crons: each "every N" a replica takes fires exactly every N, and one cron
cannot express is refused with the key and the fix (it used to become `*/1440 * * * *`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from croniter import croniter

from sync.replicas import cron_every


@pytest.mark.parametrize(
    "every",
    [
        timedelta(seconds=10),
        timedelta(seconds=30),
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=6),
        timedelta(days=1),
    ],
)
def test_a_replica_schedule_fires_exactly_every_n(every: timedelta) -> None:
    cron = cron_every(every)
    fires = croniter(cron, datetime(2026, 12, 4, 23, 7, 13), second_at_beginning=False)
    times = [fires.get_next(datetime) for _ in range(30)]
    gaps = {later - earlier for earlier, later in pairwise(times)}
    assert gaps == {every}, (cron, gaps)


@pytest.mark.parametrize("every", [timedelta(minutes=90), timedelta(minutes=7), timedelta(days=2)])
def test_an_interval_cron_cannot_step_by_is_refused_naming_the_key(every: timedelta) -> None:
    with pytest.raises(ValueError) as refused:
        cron_every(every, key="schedules.sync_every")
    message = str(refused.value)
    assert message.startswith(f"schedules.sync_every: every {every} cannot be a replica schedule")
    assert "of 60 minutes or of 24 hours, or 1d" in message
