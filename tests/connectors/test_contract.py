"""One contract, every adapter: memory, HubSpot (emulator, real client), Salesforce (emulator).

Each adapter is built from the same neutral `Portal` by its harness
(`build_<kind>_connector(portal) -> (connector, emulator, stop)`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from portal_data import base_time, demo_portal

from connectors.base import ContactBatch, CrmConnector
from connectors.records import Actor, Contact, FieldChange, OutcomeStatus, TaskRequest

HARNESSES = {
    "memory": ("memory_harness", "build_memory_connector"),
    "hubspot": ("hs_harness", "build_hubspot_connector"),
    "salesforce": ("sf_harness", "build_salesforce_connector"),
}


@pytest.fixture(scope="module", params=sorted(HARNESSES))
def world(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    module_name, builder_name = HARNESSES[request.param]
    try:
        builder: Callable[..., Any] = getattr(importlib.import_module(module_name), builder_name)
    except ImportError as exc:  # the adapter is not in this tree yet
        pytest.skip(f"{request.param} adapter unavailable: {exc}")
    base = base_time()
    portal = demo_portal(base)
    connector, emulator, stop = builder(portal)
    try:
        yield {"connector": connector, "emulator": emulator, "portal": portal, "base": base}
    finally:
        stop()


def _pull(
    connector: CrmConnector, since: datetime | None, until: datetime
) -> tuple[list[ContactBatch], list[Contact]]:
    batches = [
        b for t in connector.object_types() for b in connector.pull_contacts(t, since, until)
    ]
    return batches, [c for b in batches for c in b.contacts]


def test_is_a_crm_connector(world: dict[str, Any]) -> None:
    assert isinstance(world["connector"], CrmConnector)


def test_full_pull_returns_every_person_once_in_order(world: dict[str, Any]) -> None:
    connector, portal = world["connector"], world["portal"]
    until = datetime.now(UTC)
    batches, contacts = _pull(connector, None, until)
    emails = sorted(str(c.fields["email"]).lower() for c in contacts)
    assert emails == sorted(p.email for p in portal.people)
    assert len({(c.object_type, c.id) for c in contacts}) == len(contacts)
    for batch in batches:
        keys = [(c.modified_at, c.id) for c in batch.contacts]
        assert keys == sorted(keys)
        assert all(c.modified_at.tzinfo is not None for c in batch.contacts)
        if batch.cursor is not None:
            assert batch.cursor <= until
    assert any(b.cursor is not None for b in batches)


def test_incremental_pull_uses_the_overlap_and_keeps_ties(world: dict[str, Any]) -> None:
    connector, portal, base = world["connector"], world["portal"], world["base"]
    until = datetime.now(UTC)
    # p4 and p5 share base+4m; since=base+9m with a 5 minute overlap must include both
    _, contacts = _pull(connector, base + timedelta(minutes=9), until)
    emails = {str(c.fields["email"]).lower() for c in contacts}
    assert {"person4@acme.example", "person5@acme.example"} <= emails
    expected = {p.email for p in portal.people if p.modified_at >= base + timedelta(minutes=4)}
    assert expected <= emails
    assert "person3@acme.example" not in emails  # modified before the overlap window


def test_cursor_never_passes_until_nor_moves_back(world: dict[str, Any]) -> None:
    connector, base = world["connector"], world["base"]
    until = base + timedelta(minutes=6)
    since = base + timedelta(minutes=5)
    batches, contacts = _pull(connector, since, until)
    assert all(c.modified_at <= until for c in contacts)
    cursors = [b.cursor for b in batches if b.cursor is not None]
    assert cursors and all(since <= c <= until for c in cursors)
    assert cursors == sorted(cursors)


def test_owners_carry_active_status(world: dict[str, Any]) -> None:
    owners = world["connector"].pull_owners()
    by_email = {o.email: o for o in owners}
    for owner in world["portal"].owners:
        assert by_email[owner.email].active is owner.active


def test_activities_are_typed_and_attributed(world: dict[str, Any]) -> None:
    connector, base = world["connector"], world["base"]
    _, contacts = _pull(connector, None, datetime.now(UTC))
    by_email = {str(c.fields["email"]).lower(): c.id for c in contacts}
    activities = list(connector.pull_activities(contacts, None))
    calls = [a for a in activities if a.kind == "call"]
    assert [a.contact_id for a in calls] == [by_email["person1@acme.example"]]
    assert calls[0].actor is Actor.REP and calls[0].is_touch
    assert all(a.contact_id in by_email.values() for a in activities)
    later = list(connector.pull_activities(contacts, base + timedelta(days=1)))
    assert all(a.occurred_at >= base + timedelta(days=1) for a in later)
    assert [a.kind for a in later if a.contact_id == by_email["person1@acme.example"]] == [
        "meeting"
    ]


def test_writes_report_each_outcome_and_skip_equal_values(world: dict[str, Any]) -> None:
    connector = world["connector"]
    _, contacts = _pull(connector, None, datetime.now(UTC))
    target = contacts[0]
    change = FieldChange(
        connector.name, target.object_type, target.id, "score", 42, key="k-score-1"
    )
    [outcome] = connector.apply_changes([change])
    assert outcome.status is OutcomeStatus.APPLIED, outcome.error
    values = connector.read_fields(target.object_type, [target.id], ["score"])
    assert float(values[target.id]["score"]) == 42
    calls_before = connector.usage.total
    again = FieldChange(
        connector.name, target.object_type, target.id, "score", 42, key="k-score-2", previous=42
    )
    [unchanged] = connector.apply_changes([again])
    assert unchanged.status is OutcomeStatus.UNCHANGED
    assert connector.usage.total == calls_before


def test_tasks_are_created_once(world: dict[str, Any]) -> None:
    connector = world["connector"]
    _, contacts = _pull(connector, None, datetime.now(UTC))
    owner = next(o for o in connector.pull_owners() if o.active)
    target = contacts[-1]
    task = TaskRequest(
        connector.name,
        target.object_type,
        target.id,
        owner.id,
        "Call back: demo request",
        "Asked for a demo twice this week",
        datetime.now(UTC) + timedelta(hours=1),
        task_key="task-contract-1",
    )
    [first] = connector.create_tasks([task])
    assert first.status is OutcomeStatus.APPLIED, first.error
    resend = TaskRequest(**{**_fields(task), "resend": True})
    [second] = connector.create_tasks([resend])
    assert second.ok and second.crm_id == first.crm_id


def _fields(task: TaskRequest) -> dict[str, Any]:
    return {name: getattr(task, name) for name in TaskRequest.__dataclass_fields__}
