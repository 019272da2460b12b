"""The pipeline on the Salesforce sandbox, through simple-salesforce over HTTPS."""

from __future__ import annotations

from collections import Counter

from e2e_stack import Stack
from sla_lapse import every_window_lapsed


def _org(stack: Stack):  # type: ignore[no-untyped-def]
    assert stack.sandbox.salesforce is not None
    return stack.sandbox.salesforce


def test_full_run_writes_status_scores_owners(salesforce_stack: Stack) -> None:
    result = salesforce_stack.pipeline().run()
    assert not result.errors, result.errors
    org = _org(salesforce_stack)
    leads = [
        r
        for r in org.org.records["Lead"].values()
        if not r.get("IsDeleted") and not r.get("IsConverted")
    ]
    assert leads
    assert all(r.get("Handoff_Score__c") is not None for r in leads)
    statuses = Counter(r.get("Status") for r in leads)
    assert statuses["MQL"] > 0
    users = org.org.records["User"]
    routed = [i for i in result.writes.items if i.field == "owner_id"]
    assert routed
    assert all(users[str(i.value)]["IsActive"] for i in routed)  # never an inactive user


def test_dry_run_equals_the_applied_run_and_second_run_is_idle(salesforce_stack: Stack) -> None:
    pipeline = salesforce_stack.pipeline()
    org = _org(salesforce_stack)
    dry = pipeline.run(dry_run=True)
    assert org.log.total("collections.update") == 0
    live = pipeline.run(as_of=dry.as_of)
    assert sorted((i.key, i.value) for i in dry.writes.items) == sorted(
        (i.key, i.value) for i in live.writes.items
    )
    again = pipeline.run(as_of=dry.as_of)
    assert again.planned == [] and again.writes.items == []


def test_no_duplicate_tasks_across_reruns(salesforce_stack: Stack) -> None:
    pipeline = salesforce_stack.pipeline()
    pipeline.run()
    later = every_window_lapsed(salesforce_stack.engine)
    escalated = pipeline.run(as_of=later)
    assert escalated.writes.counts.get("unknown", 0) == 0  # every task's outcome was recorded
    assert pipeline.run(as_of=later).writes.items == []
    keys = Counter(
        t.get("Handoff_Task_Key__c")
        for t in _org(salesforce_stack).org.records["Task"].values()
        if t.get("Handoff_Task_Key__c")
    )
    assert keys and max(keys.values()) == 1


def test_drift_is_left_alone_and_reported(salesforce_stack: Stack) -> None:
    pipeline = salesforce_stack.pipeline()
    first = pipeline.run()
    owner_writes = [i for i in first.writes.items if i.field == "owner_id"]
    assert owner_writes
    target = owner_writes[0]
    org = _org(salesforce_stack)
    users = org.org.records["User"]
    human_choice = next(
        uid
        for uid, u in users.items()
        if uid != str(target.value) and u.get("IsActive") and u.get("UserType") == "Standard"
    )
    org.update_record(target.record_id, OwnerId=human_choice)
    second = pipeline.run()
    assert org.record(target.record_id)["OwnerId"] == human_choice  # the human's choice stands
    assert any(d.record_id == target.record_id and d.field == "owner_id" for d in second.drifts)
