"""End to end, writes and tasks: the real simple-salesforce against the Salesforce emulator."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sf_world import N_LEADS, Clock, change, lead_id, portal, task, tasks_with_key

from connectors.records import (
    OutcomeStatus,
)
from connectors.salesforce import SalesforceConnector
from sandbox.faults import Faults
from sandbox.salesforce.emulator import SalesforceEmulator
from sandbox.salesforce.ids import derived_id
from sandbox.server import SandboxRequest, SandboxResponse
from tests.connectors.sf_harness import OBJECTS, build_salesforce_connector


def test_partial_failure_reads_every_records_outcome(
    sf: tuple[SalesforceConnector, SalesforceEmulator],
) -> None:
    connector, emulator = sf
    emulator.fail_record(lead_id(11))
    outcomes = connector.apply_changes(
        [
            change(10, "lead_status", "sql"),
            change(11, "lead_status", "sql"),
            change(12, "owner_id", derived_id("User", "o3")),
            change(13, "owner_id", derived_id("User", "o2")),  # inactive: refused
            change(12, "score", 74),
        ]
    )
    assert [o.status for o in outcomes] == [
        OutcomeStatus.APPLIED,
        OutcomeStatus.REJECTED,
        OutcomeStatus.APPLIED,
        OutcomeStatus.REJECTED,
        OutcomeStatus.APPLIED,
    ]
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in (outcomes[1].error or "")
    assert "INACTIVE_OWNER_OR_USER" in (outcomes[3].error or "")
    assert emulator.record(lead_id(10))["Status"] == "SQL"
    assert emulator.record(lead_id(12))["OwnerId"] == derived_id("User", "o3")
    assert emulator.record(lead_id(12))["Handoff_Score__c"] == 74
    assert emulator.log.total("collections.update") == 1
    current = connector.read_fields("lead", [lead_id(10), lead_id(12)], ["lead_status", "score"])
    assert current[lead_id(10)]["lead_status"] == "sql"
    assert current[lead_id(12)]["score"] == 74.0


def test_k_writes_take_ceil_k_over_200_calls(
    sf: tuple[SalesforceConnector, SalesforceEmulator],
) -> None:
    connector, emulator = sf
    outcomes = connector.apply_changes([change(i, "score", i) for i in range(N_LEADS)])
    assert all(o.status is OutcomeStatus.APPLIED for o in outcomes)
    assert emulator.log.total("collections.update") == math.ceil(N_LEADS / 200)


def test_a_batch_rejected_whole_is_bisected(clock: Clock) -> None:
    objects = {"lead": dict(OBJECTS["lead"])}
    objects["lead"]["company_size"] = {"property": "NumberOfEmployees", "type": "number"}
    connector, emulator, stop = build_salesforce_connector(
        portal(60), objects=objects, emulator_options={"clock": clock}
    )
    try:
        changes = [change(i, "company_size", 250 + i) for i in range(60)]
        changes[37] = change(37, "company_size", 12.5)  # an int field cannot take 12.5
        outcomes = connector.apply_changes(changes)
        rejected = [o for o in outcomes if o.status is OutcomeStatus.REJECTED]
        assert [o.key for o in rejected] == ["37:company_size"]
        assert "JSON_PARSER_ERROR" in (rejected[0].error or "")
        assert emulator.record(lead_id(59))["NumberOfEmployees"] == 309
        calls = emulator.log.total("collections.update")
        assert calls <= 1 + math.ceil(math.log2(60)) + 1
    finally:
        stop()


def test_a_lost_answer_to_a_task_create_never_duplicates_the_task(clock: Clock) -> None:
    drops = {"left": 1}

    def drop_first_create(handle: Callable[[SandboxRequest], SandboxResponse]) -> Any:
        def wrapped(request: SandboxRequest) -> SandboxResponse:
            response = handle(request)
            creating = request.method == "POST" and request.path.endswith("/composite/sobjects")
            if creating and drops["left"]:
                drops["left"] -= 1
                return SandboxResponse(0, reset=True)  # created, but the answer is lost
            return response

        return wrapped

    connector, emulator, stop = build_salesforce_connector(
        portal(5), emulator_options={"clock": clock}, handler_wrapper=drop_first_create
    )
    try:
        outcomes = connector.create_tasks([task("sla:1", 1), task("sla:2", 2)])
        assert [o.status for o in outcomes] == [OutcomeStatus.APPLIED, OutcomeStatus.APPLIED]
        assert len(tasks_with_key(emulator, "sla:1")) == 1
        assert len(tasks_with_key(emulator, "sla:2")) == 1
        assert emulator.log.total("collections.create") == 1  # looked up, not resent
        [created] = tasks_with_key(emulator, "sla:1")
        assert created["Status"] == "Not Started" and created["WhoId"] == lead_id(1)
        # the caller did not hear back either: it resends, the key lookup finds the task
        again = connector.create_tasks([task("sla:1", 1, resend=True), task("sla:3", 3, True)])
        assert [o.status for o in again] == [OutcomeStatus.UNCHANGED, OutcomeStatus.APPLIED]
        assert again[0].crm_id == created["Id"]
        assert len(tasks_with_key(emulator, "sla:1")) == 1
    finally:
        stop()


def test_missing_fields_are_reported_with_metadata(
    sf: tuple[SalesforceConnector, SalesforceEmulator],
) -> None:
    connector, emulator = sf
    assert connector.missing_fields() == []
    assert connector.create_missing_fields() == []
    emulator.remove_field("Lead", "Handoff_Score__c")
    emulator.remove_field("Task", "Handoff_Task_Key__c")
    missing = {(m.sobject, m.field): m.metadata for m in connector.missing_field_definitions()}
    assert set(missing) == {("Lead", "Handoff_Score__c"), ("Task", "Handoff_Task_Key__c")}
    assert missing[("Task", "Handoff_Task_Key__c")]["externalId"] is True
    assert connector.missing_fields() == ["Lead.Handoff_Score__c", "Task.Handoff_Task_Key__c"]


def test_writes_above_the_bulk_threshold_go_through_bulk_api_2(clock: Clock) -> None:
    connector, emulator, stop = build_salesforce_connector(
        portal(120),
        emulator_options={"clock": clock},
        connector_options={"bulk_poll_seconds": 0.01},
        bulk_threshold=50,
    )
    try:
        emulator.fail_record(lead_id(7))
        changes = [change(i, "score", 60 + i % 30) for i in range(120)]
        changes.append(change(3, "lead_status", "sql"))
        outcomes = connector.apply_changes(changes)
        assert [o.key for o in outcomes] == [c.key for c in changes]
        rejected = [o.key for o in outcomes if not o.ok]
        assert rejected == ["7:score"]
        assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in (outcomes[7].error or "")
        assert emulator.record(lead_id(119))["Handoff_Score__c"] == 60 + 119 % 30
        assert emulator.record(lead_id(3))["Status"] == "SQL"
        assert emulator.record(lead_id(4))["Status"] != "SQL"  # empty cells leave fields alone
        assert emulator.log.total("collections.update") == 0
        assert emulator.log.total("bulk.create") == 1
    finally:
        stop()


def test_under_resets_timeouts_and_truncated_bodies_every_task_exists_once(clock: Clock) -> None:
    faults = Faults(
        reset_rate=0.15, timeout_rate=0.1, timeout_seconds=1.0, malformed_rate=0.1, seed=11
    )
    connector, emulator, stop = build_salesforce_connector(
        portal(40), emulator_options={"clock": clock, "faults": faults}, timeout_seconds=0.4
    )
    try:
        for pair in range(20):  # twenty create calls, as twenty outbox flushes would make
            requests = [task(f"chaos:{i}", i) for i in (2 * pair, 2 * pair + 1)]
            outcomes = list(connector.create_tasks(requests))
            for _round in range(4):  # what the outbox does with unknown outcomes
                unknown = [r for r, o in zip(requests, outcomes, strict=True) if not o.ok]
                if not unknown:
                    break
                again = connector.create_tasks([replace(r, resend=True) for r in unknown])
                by_key = {o.key: o for o in again}
                outcomes = [by_key.get(o.key, o) for o in outcomes]
            assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
        for i in range(40):
            assert len(tasks_with_key(emulator, f"chaos:{i}")) == 1
        assert emulator.log.total("fault.reset") > 0
    finally:
        stop()
