"""While a worker's first sync loads the org's Tasks, Events and CampaignMembers, a change event
decision reads its person's activities through the person index, not by scanning the table.

A first load (sync/store/activities.py `bulk_load`) drops the person index on SQLite and builds
it once after. Each fast-path decision reads its person's stored activities (the one-person pull,
then the decision): with the index gone that read scanned the activities table (60-130 ms a read
at 146,000-600,000 rows, on an idle machine). At 100,000 people the worker's first sync loads
~216,000 of them and the decisions made meanwhile spent 2-3 s in store statements, their slowest
an activities select (bench/RESULTS.md, 2026-12-06). A worker deciding change events keeps the
index through its loads; a sync with nobody deciding beside it still drops it (the load's speed).

The worker's change event listener runs in-process (`listening`, as `handoff run` starts it) on a
SQLite store; the person read's query plan is taken while the sandbox answers each activity
stream's first page (the load under way).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_stack import SEED_NOW

from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sandbox.server import SandboxRequest
from sync.change_events import listening
from sync.demo import sandbox_environment
from sync.runtime import Runtime
from sync.speed_config import speed_to_lead_config

pytestmark = pytest.mark.slow
SOURCES = ("Task", "Event", "CampaignMember")
# what read_activities asks SQLite for one person (sync/store/activities.py)
PERSON_READ = (
    "EXPLAIN QUERY PLAN SELECT connection, crm_id, contact_id, kind, actor, channel, owner_id, "
    "occurred_at, properties FROM activities WHERE connection = ? AND contact_id IN (?)"
)


@pytest.fixture
def sandbox_and_config(tmp_path: Path) -> Iterator[tuple[Sandbox, Path]]:
    sandbox = Sandbox(
        generate_portal(3, 60, SEED_NOW), hubspot=False, salesforce=True, ca_directory=tmp_path
    )
    with sandbox, sandbox_environment(sandbox.info, tmp_path):
        config = tmp_path / "handoff.yaml"
        config.write_text(
            speed_to_lead_config("salesforce", state_url=f"sqlite:///{tmp_path / 'state.db'}")
        )
        yield sandbox, config


def _first_sync_plans(sandbox: Sandbox, runtime: Runtime, *, deciding: bool) -> dict[str, str]:
    """The person read's query plan while each activity stream's first page is read."""
    plans: dict[str, str] = {}

    def watch(request: SandboxRequest) -> None:
        query = request.param("q") or ""
        for source in SOURCES:
            if f" FROM {source} " in query and "ORDER BY SystemModstamp" in query:
                with runtime.engine.connect() as connection:
                    rows = connection.exec_driver_sql(PERSON_READ, ("salesforce", "00Q1"))
                    plans[source] = " ".join(str(row[-1]) for row in rows)

    server = sandbox.server("salesforce")
    server.before_request.append(watch)
    try:
        if deciding:
            with listening(runtime) as listener:
                assert listener is not None  # change events on: its deciders run beside
                runtime.run()
        else:
            runtime.run()
    finally:
        server.before_request.remove(watch)
    return plans


def test_a_first_sync_keeps_the_person_index_while_change_events_are_decided(
    sandbox_and_config: tuple[Sandbox, Path],
) -> None:
    sandbox, config = sandbox_and_config
    runtime = Runtime(str(config), "run", log_level="error")
    try:
        plans = _first_sync_plans(sandbox, runtime, deciding=True)
    finally:
        runtime.close()
    assert set(plans) == set(SOURCES), plans  # each stream's load was seen under way
    for source, plan in plans.items():
        assert "ix_activities_person" in plan, f"{source} load: the person read is {plan!r}"


def test_a_first_sync_with_nobody_deciding_beside_loads_without_the_person_index(
    sandbox_and_config: tuple[Sandbox, Path],
) -> None:
    sandbox, config = sandbox_and_config
    runtime = Runtime(str(config), "run", log_level="error")
    try:
        plans = _first_sync_plans(sandbox, runtime, deciding=False)
    finally:
        runtime.close()
    assert set(plans) == set(SOURCES), plans
    assert not any("ix_activities_person" in plan for plan in plans.values()), plans
