"""Field writes through sObject Collections, tasks created once, missing custom fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from sf_fixtures import API, body_of, make_connector, page, soql_of

from connectors.base import FieldSetup
from connectors.errors import FatalError
from connectors.records import FieldChange, OutcomeStatus, TaskRequest

COLLECTIONS = f"{API}/composite/sobjects"


def change(record_id: str, field: str, value: Any, object_type: str = "lead") -> FieldChange:
    return FieldChange(
        connection="sfdc",
        object_type=object_type,
        record_id=record_id,
        field=field,
        value=value,
        key=f"{record_id}:{field}",
    )


def echo_success(request: Any) -> tuple[int, dict[str, str], str]:
    records = json.loads(request.body)["records"]
    return (
        200,
        {},
        json.dumps([{"id": r.get("id"), "success": True, "errors": []} for r in records]),
    )


def test_changes_batch_200_records_per_call_with_all_or_none_false(
    mocked: responses.RequestsMock,
) -> None:
    mocked.add_callback(responses.PATCH, COLLECTIONS, callback=echo_success)
    connector = make_connector()
    changes = [change(f"00Q{n:04d}", "score", n) for n in range(450)]
    outcomes = connector.apply_changes(changes)
    assert [o.status for o in outcomes] == [OutcomeStatus.APPLIED] * 450
    assert [o.key for o in outcomes] == [c.key for c in changes]
    bodies = [body_of(c) for c in mocked.calls]
    assert [len(b["records"]) for b in bodies] == [200, 200, 50]
    assert all(b["allOrNone"] is False for b in bodies)
    assert connector.usage.calls["composite/sobjects"] == 3


def test_status_is_mapped_and_changes_to_one_record_share_a_payload(
    mocked: responses.RequestsMock,
) -> None:
    mocked.add_callback(responses.PATCH, COLLECTIONS, callback=echo_success)
    outcomes = make_connector().apply_changes(
        [
            change("00QA", "lead_status", "mql"),
            change("00QA", "owner_id", "005R"),
            change("003C", "score", 72.5, "contact"),
        ]
    )
    assert all(o.ok for o in outcomes)
    records = body_of(mocked.calls[0])["records"]
    assert records == [
        {"attributes": {"type": "Lead"}, "id": "00QA", "Status": "MQL", "OwnerId": "005R"},
        {"attributes": {"type": "Contact"}, "id": "003C", "Handoff_Score__c": 72.5},
    ]


def test_a_value_the_crm_already_holds_costs_no_call(mocked: responses.RequestsMock) -> None:
    connector = make_connector()
    held = FieldChange("sfdc", "lead", "00QA", "lead_status", "mql", key="k", previous="mql")
    [outcome] = connector.apply_changes([held])
    assert outcome.status is OutcomeStatus.UNCHANGED
    assert connector.usage.total == 0 and not mocked.calls


def test_each_records_outcome_is_read(mocked: responses.RequestsMock) -> None:
    mocked.patch(
        COLLECTIONS,
        json=[
            {"id": "00QA", "success": True, "errors": []},
            {
                "id": "00QB",
                "success": False,
                "errors": [
                    {
                        "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                        "message": "Score out of range",
                        "fields": ["Handoff_Score__c"],
                    }
                ],
            },
        ],
    )
    first, second = make_connector().apply_changes(
        [change("00QA", "score", 1), change("00QB", "score", 999)]
    )
    assert first.status is OutcomeStatus.APPLIED
    assert second.status is OutcomeStatus.REJECTED
    assert second.error is not None and "FIELD_CUSTOM_VALIDATION_EXCEPTION" in second.error


def test_unencodable_value_is_rejected_alone_and_never_sent(
    mocked: responses.RequestsMock,
) -> None:
    mocked.add_callback(responses.PATCH, COLLECTIONS, callback=echo_success)
    bad, good = make_connector().apply_changes(
        [change("00QA", "lead_status", "not-a-stage"), change("00QB", "score", 3)]
    )
    assert bad.status is OutcomeStatus.REJECTED and "values" in (bad.error or "")
    assert good.ok
    assert [r["id"] for r in body_of(mocked.calls[0])["records"]] == ["00QB"]


def test_a_batch_rejected_whole_is_bisected_to_the_bad_record(
    mocked: responses.RequestsMock,
) -> None:
    def reject_with_poison(request: Any) -> tuple[int, dict[str, str], str]:
        records = json.loads(request.body)["records"]
        if any(r["id"] == "00Q0137" for r in records):
            return (
                400,
                {},
                json.dumps([{"errorCode": "JSON_PARSER_ERROR", "message": "bad value"}]),
            )
        return echo_success(request)

    mocked.add_callback(responses.PATCH, COLLECTIONS, callback=reject_with_poison)
    changes = [change(f"00Q{n:04d}", "score", n) for n in range(200)]
    outcomes = make_connector().apply_changes(changes)
    rejected = [o.key for o in outcomes if o.status is OutcomeStatus.REJECTED]
    assert rejected == ["00Q0137:score"]
    assert "JSON_PARSER_ERROR" in (outcomes[137].error or "")
    assert sum(o.ok for o in outcomes) == 199
    extra = len(mocked.calls) - 1
    assert extra <= 8 + 1  # ceil(log2 200) probes + one final send


def task(key: str, resend: bool = False) -> TaskRequest:
    return TaskRequest(
        connection="sfdc",
        object_type="lead",
        record_id="00QA",
        owner_id="005R",
        subject="Follow up: pricing page twice this week",
        body="Director at a 300-person SaaS company",
        due_at=datetime(2026, 3, 2, 15, 30, tzinfo=UTC),
        task_key=key,
        priority="HIGH",
        resend=resend,
    )


def created(request: Any) -> tuple[int, dict[str, str], str]:
    records = json.loads(request.body)["records"]
    return (
        200,
        {},
        json.dumps(
            [
                {"id": f"00T{r['Handoff_Task_Key__c']}", "success": True, "errors": []}
                for r in records
            ]
        ),
    )


def test_tasks_are_created_with_their_key_and_salesforce_fields(
    mocked: responses.RequestsMock,
) -> None:
    mocked.add_callback(responses.POST, COLLECTIONS, callback=created)
    [outcome] = make_connector().create_tasks([task("k1")])
    assert outcome.status is OutcomeStatus.APPLIED and outcome.crm_id == "00Tk1"
    [record] = body_of(mocked.calls[0])["records"]
    assert record == {
        "attributes": {"type": "Task"},
        "WhoId": "00QA",
        "OwnerId": "005R",
        "Subject": "Follow up: pricing page twice this week",
        "Description": "Director at a 300-person SaaS company",
        "ActivityDate": "2026-03-02",
        "Priority": "High",
        "Status": "Not Started",
        "Handoff_Task_Key__c": "k1",
    }
    assert not [
        c for c in mocked.calls if "/query/" in str(c.request.url)
    ]  # no lookup without resend


def test_resend_looks_keys_up_and_creates_only_the_missing(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{API}/query/", json=page([{"Id": "00Told", "Handoff_Task_Key__c": "k1"}]))
    mocked.add_callback(responses.POST, COLLECTIONS, callback=created)
    first, second = make_connector().create_tasks([task("k1", True), task("k2", True)])
    assert (first.status, first.crm_id) == (OutcomeStatus.UNCHANGED, "00Told")
    assert (second.status, second.crm_id) == (OutcomeStatus.APPLIED, "00Tk2")
    lookup = soql_of(mocked.calls[0])
    assert "Handoff_Task_Key__c IN ('k1', 'k2')" in lookup
    posted = [r["Handoff_Task_Key__c"] for r in body_of(mocked.calls[1])["records"]]
    assert posted == ["k2"]


def test_create_lost_in_a_5xx_is_looked_up_and_only_missing_resent(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(COLLECTIONS, status=500, json=[{"errorCode": "UNKNOWN_EXCEPTION", "message": "x"}])
    mocked.get(f"{API}/query/", json=page([{"Id": "00Tk1", "Handoff_Task_Key__c": "k1"}]))
    mocked.add_callback(responses.POST, COLLECTIONS, callback=created)
    outcomes = make_connector().create_tasks([task("k1"), task("k2")])
    assert [(o.status, o.crm_id) for o in outcomes] == [
        (OutcomeStatus.APPLIED, "00Tk1"),
        (OutcomeStatus.APPLIED, "00Tk2"),
    ]
    posts = [body_of(c) for c in mocked.calls if c.request.method == "POST"]
    assert [r["Handoff_Task_Key__c"] for r in posts[1]["records"]] == ["k2"]


def test_read_fields_returns_canonical_values(mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{API}/query/",
        json=page([{"Id": "00QA", "Status": "SQL", "Handoff_Score__c": 40}]),
    )
    values = make_connector().read_fields("lead", ["00QA", "00QZ"], ["lead_status", "score"])
    assert values == {"00QA": {"lead_status": "sql", "score": 40.0}}
    assert "WHERE Id IN ('00QA', '00QZ')" in soql_of(mocked.calls[0])


def test_missing_fields_come_with_the_metadata_to_add(mocked: responses.RequestsMock) -> None:
    standard = [{"name": n} for n in ("Id", "Email", "Company", "Status", "OwnerId")]
    mocked.get(f"{API}/sobjects/Lead/describe", json={"fields": standard})
    mocked.get(
        f"{API}/sobjects/Contact/describe",
        json={"fields": [*standard, {"name": "Handoff_Score__c"}]},
    )
    mocked.get(f"{API}/sobjects/Task/describe", json={"fields": [{"name": "Id"}]})
    connector = make_connector()
    missing = connector.missing_field_definitions()
    by_name = {(m.sobject, m.field): m for m in missing}
    assert set(by_name) == {("Lead", "Handoff_Score__c"), ("Task", "Handoff_Task_Key__c")}
    score = by_name[("Lead", "Handoff_Score__c")].metadata
    assert score["fullName"] == "Lead.Handoff_Score__c" and score["type"] == "Number"
    key = by_name[("Task", "Handoff_Task_Key__c")].metadata
    assert key["externalId"] is True and key["unique"] is True and key["type"] == "Text"
    assert connector.missing_fields() == ["Lead.Handoff_Score__c", "Task.Handoff_Task_Key__c"]
    with pytest.raises(FatalError, match="admin") as info:
        connector.create_missing_fields()
    assert '"fullName": "Task.Handoff_Task_Key__c"' in str(info.value)
    assert isinstance(connector, FieldSetup)
