"""While a worker's first sync loads the org's Tasks, Events and CampaignMembers (Salesforce) or
the portal's event stream (HubSpot), a fast-path decision reads its person's activities through
the person index, not by scanning the table.

A first load (sync/store/activities.py `bulk_load`) drops the person index on SQLite and builds
it once after. Each fast-path decision reads its person's stored activities (the one-person pull,
then the decision): with the index gone that read scanned the activities table (60-130 ms a read
at 146,000-600,000 rows, on an idle machine). At 100,000 people the worker's first sync loads
~216,000 of them and the decisions made meanwhile spent 2-3 s in store statements, their slowest
an activities select (bench/RESULTS.md, 2026-12-06). A worker deciding change events keeps the
index through its loads; a sync with nobody deciding beside it still drops it (the load's speed).
HubSpot's webhook deciders the same: at 100,000 contacts the decisions made while the first sync
stored ~120,000 events had an activities select (~1 s) as their slowest store statement.

The worker's change event listener (`listening`) or webhook endpoint (`serving`) runs in-process,
as `handoff run` starts it, on a SQLite store; the person read's query plan is taken while the
sandbox answers each Salesforce activity stream's first page, or each HubSpot request.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from e2e_stack import SEED_NOW
from sqlalchemy.engine import Engine

from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sandbox.server import SandboxRequest
from sync import pull
from sync.change_events import listening
from sync.demo import sandbox_environment
from sync.runtime import Runtime
from sync.speed_config import speed_to_lead_config
from sync.speed_http import serving
from sync.store.activities import bulk_load

pytestmark = pytest.mark.slow
SOURCES = ("Task", "Event", "CampaignMember")
# what read_activities asks SQLite for one person (sync/store/activities.py)
PERSON_READ = (
    "EXPLAIN QUERY PLAN SELECT connection, crm_id, contact_id, kind, actor, channel, owner_id, "
    "occurred_at, properties FROM activities WHERE connection = ? AND contact_id IN (?)"
)


@pytest.fixture(params=["salesforce", "hubspot"])
def crm_stack(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Sandbox, Path]]:
    crm = str(request.param)
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", "activity-load-test-secret")
    sandbox = Sandbox(
        generate_portal(3, 60, SEED_NOW),
        hubspot=crm == "hubspot",
        salesforce=crm == "salesforce",
        ca_directory=tmp_path,
    )
    with sandbox, sandbox_environment(sandbox.info, tmp_path):
        config = tmp_path / "handoff.yaml"
        text = speed_to_lead_config(
            crm,
            state_url=f"sqlite:///{tmp_path / 'state.db'}",
            listen_port=_free_port() if crm == "hubspot" else None,
        )
        config.write_text(text)
        yield crm, sandbox, config


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _first_sync_plans(
    crm: str,
    sandbox: Sandbox,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    *,
    deciding: bool,
) -> dict[str, str]:
    """The person read's query plan while each Salesforce activity stream's first page is read
    (by stream), or in each HubSpot bulk load (its event stream's)."""
    plans: dict[str, str] = {}

    def plan() -> str:
        with runtime.engine.connect() as connection:
            rows = connection.exec_driver_sql(PERSON_READ, (crm, "00Q1"))
            return " ".join(str(row[-1]) for row in rows)

    def watch(request: SandboxRequest) -> None:
        query = request.param("q") or ""
        for source in SOURCES:
            if f" FROM {source} " in query and "ORDER BY SystemModstamp" in query:
                plans[source] = plan()

    @contextmanager
    def watched_load(engine: Engine) -> Iterator[None]:
        """HubSpot's event stream is read ahead of its load: its plan is taken inside the load."""
        with bulk_load(engine):
            plans[f"load {len(plans) + 1}"] = plan()
            yield

    deciders = listening if crm == "salesforce" else serving
    server = sandbox.server(crm)
    server.before_request.append(watch)
    if crm == "hubspot":
        monkeypatch.setattr(pull, "bulk_load", watched_load)
    try:
        if deciding:
            with deciders(runtime) as listener:
                assert listener is not None  # the fast path on: its deciders run beside
                runtime.run()
        else:
            runtime.run()
    finally:
        server.before_request.remove(watch)
    return plans


def test_a_first_sync_keeps_the_person_index_while_the_fast_path_decides(
    crm_stack: tuple[str, Sandbox, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    crm, sandbox, config = crm_stack
    runtime = Runtime(str(config), "run", log_level="error")
    try:
        plans = _first_sync_plans(crm, sandbox, runtime, monkeypatch, deciding=True)
    finally:
        runtime.close()
    if crm == "salesforce":
        assert set(plans) == set(SOURCES), plans  # each stream's load was seen under way
    assert plans
    for source, plan in plans.items():
        assert "ix_activities_person" in plan, f"{source}: the person read is {plan!r}"


def test_a_first_sync_with_nobody_deciding_beside_loads_without_the_person_index(
    crm_stack: tuple[str, Sandbox, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    crm, sandbox, config = crm_stack
    runtime = Runtime(str(config), "run", log_level="error")
    try:
        plans = _first_sync_plans(crm, sandbox, runtime, monkeypatch, deciding=False)
    finally:
        runtime.close()
    if crm == "salesforce":
        assert set(plans) == set(SOURCES), plans
        assert not any("ix_activities_person" in plan for plan in plans.values()), plans
    else:
        assert plans and not any("ix_activities_person" in p for p in plans.values()), plans
