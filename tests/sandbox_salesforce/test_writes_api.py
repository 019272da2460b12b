"""sObject Collections, single-record writes and validation through the real client."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from tests.sandbox_salesforce.conftest import SalesforceClient, SalesforceSandbox, first_error


def lead_ids(sf: SalesforceClient, count: int) -> list[str]:
    records = sf.query(f"SELECT Id FROM Lead ORDER BY LastName LIMIT {count}")["records"]
    return [r["Id"] for r in records]


def test_collections_update_reports_each_record_in_request_order(
    sandbox: SalesforceSandbox, sf: SalesforceClient
) -> None:
    good, bad_status, failing = lead_ids(sf, 3)
    sandbox.emulator.fail_record(failing, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Blocked by rule")
    sandbox.clock.advance(seconds=1.5)
    results = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "records": [
                {
                    "attributes": {"type": "Lead"},
                    "id": good,
                    "Handoff_Score__c": 72,
                    "Status": "MQL",
                },
                {"attributes": {"type": "Lead"}, "id": bad_status, "Status": "Hot"},
                {"attributes": {"type": "Lead"}, "id": failing, "Handoff_Score__c": 10},
                {"attributes": {"type": "Lead"}, "id": good, "Favourite_Color__c": "red"},
            ]
        },
    )
    assert [r["success"] for r in results] == [True, False, False, False]
    assert results[0] == {"id": good, "success": True, "errors": []}
    assert results[1]["errors"] == [
        {
            "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "message": "Status: bad value for restricted picklist field: Hot",
            "fields": ["Status"],
        }
    ]
    assert results[2]["errors"][0]["statusCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert results[3]["errors"][0]["statusCode"] == "INVALID_FIELD"
    updated = sf.Lead.get(good)
    assert (updated["Handoff_Score__c"], updated["Status"]) == (72.0, "MQL")
    assert updated["SystemModstamp"] == "2026-11-20T15:00:01.500+0000"
    assert sf.Lead.get(bad_status)["SystemModstamp"] != updated["SystemModstamp"]
    assert sandbox.emulator.log.total("collections.update", 200) == 1


def test_all_or_none_rolls_back_every_record(
    sandbox: SalesforceSandbox, sf: SalesforceClient
) -> None:
    first, second = lead_ids(sf, 2)
    before = sf.Lead.get(first)
    results = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Lead"}, "id": first, "Title": "Changed"},
                {"attributes": {"type": "Lead"}, "id": second, "Email": "not-an-email"},
            ],
        },
    )
    assert results[0]["success"] is False
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    after = sf.Lead.get(first)
    assert (after["Title"], after["SystemModstamp"]) == (before["Title"], before["SystemModstamp"])


def test_more_than_200_records_is_a_400(sf: SalesforceClient) -> None:
    lead = lead_ids(sf, 1)[0]
    records = [{"attributes": {"type": "Lead"}, "id": lead, "Title": "x"}] * 201
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/sobjects", method="PATCH", json={"records": records})
    assert first_error(caught)["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_single_task_create_bumps_the_lead(
    sandbox: SalesforceSandbox, sf: SalesforceClient
) -> None:
    lead = lead_ids(sf, 1)[0]
    owner = sf.query("SELECT Id FROM User WHERE Email = 'ana.ruiz@example.com'")["records"][0]["Id"]
    sandbox.clock.advance(minutes=2)
    created = sf.Task.create(
        {
            "WhoId": lead,
            "OwnerId": owner,
            "Subject": "Call the MQL within 1 business hour",
            "ActivityDate": "2026-11-20",
            "Priority": "High",
            "Handoff_Task_Key__c": "sla:lead-1:first-touch",
        }
    )
    assert created["success"] is True and created["id"].startswith("00T")
    assert sandbox.emulator.log.total("sobject.create", 201) == 1
    task = sf.Task.get(created["id"])
    assert (task["Status"], task["IsClosed"], task["IsHighPriority"]) == (
        "Not Started",
        False,
        True,
    )
    person = sf.Lead.get(lead)
    assert person["SystemModstamp"] == "2026-11-20T15:02:00.000+0000"
    assert person["LastActivityDate"] == "2026-11-20"
    by_key = sf.query(
        "SELECT Id FROM Task WHERE Handoff_Task_Key__c IN ('sla:lead-1:first-touch', 'other')"
    )
    assert [r["Id"] for r in by_key["records"]] == [created["id"]]
    with pytest.raises(SalesforceMalformedRequest) as duplicate:
        sf.Task.create(
            {"WhoId": lead, "Subject": "again", "Handoff_Task_Key__c": "SLA:lead-1:first-touch"}
        )
    assert first_error(duplicate)["errorCode"] == "DUPLICATE_VALUE"


def test_upsert_by_external_id_creates_then_updates(sf: SalesforceClient) -> None:
    lead = lead_ids(sf, 1)[0]
    assert sf.Task.upsert("Handoff_Task_Key__c/k-42", {"WhoId": lead, "Subject": "First"}) == 201
    assert sf.Task.upsert("Handoff_Task_Key__c/k-42", {"Subject": "Second"}) == 200
    rows = sf.query("SELECT Subject FROM Task WHERE Handoff_Task_Key__c = 'k-42'")["records"]
    assert [r["Subject"] for r in rows] == ["Second"]


def test_single_record_validation_errors(sandbox: SalesforceSandbox, sf: SalesforceClient) -> None:
    lead = lead_ids(sf, 1)[0]
    with pytest.raises(SalesforceMalformedRequest) as picklist:
        sf.Lead.update(lead, {"Status": "Qualified-ish"})
    assert first_error(picklist)["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    with pytest.raises(SalesforceMalformedRequest) as read_only:
        sf.Lead.update(lead, {"IsConverted": True})
    assert first_error(read_only)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Lead.create({"LastName": "Solo"})
    assert first_error(missing) == {
        "message": "Required fields are missing: [Company]",
        "errorCode": "REQUIRED_FIELD_MISSING",
        "fields": ["Company"],
    }
    inactive = sf.query("SELECT Id FROM User WHERE IsActive = false")["records"][0]["Id"]
    with pytest.raises(SalesforceMalformedRequest) as owner:
        sf.Lead.update(lead, {"OwnerId": inactive})
    assert first_error(owner)["errorCode"] == "INACTIVE_OWNER_OR_USER"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.update("00Q5g1000000999AAA", {"Title": "x"})
    assert sf.Lead.update(lead, {"Status": "Working - Contacted"}) == 204


def test_picklist_knob_and_missing_custom_fields(
    sandbox: SalesforceSandbox, sf: SalesforceClient
) -> None:
    sandbox.emulator.set_lead_statuses(["New", "Working", "Qualified"])
    sandbox.emulator.remove_field("Lead", "Handoff_Score_Reasons__c")
    describe = sf.Lead.describe()
    fields = {f["name"]: f for f in describe["fields"]}
    assert "Handoff_Score_Reasons__c" not in fields and "Handoff_Score__c" in fields
    assert [v["value"] for v in fields["Status"]["picklistValues"]] == [
        "New",
        "Working",
        "Qualified",
    ]
    lead = lead_ids(sf, 1)[0]
    assert sf.Lead.update(lead, {"Status": "Qualified"}) == 204
    with pytest.raises(SalesforceMalformedRequest):
        sf.Lead.update(lead, {"Status": "MQL"})


def test_collections_create_tasks_and_wrong_json_type(sf: SalesforceClient) -> None:
    lead = lead_ids(sf, 1)[0]
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "records": [
                {"attributes": {"type": "Task"}, "WhoId": lead, "Subject": "a"},
                {"attributes": {"type": "Task"}, "WhoId": "001000000000000", "Subject": "b"},
            ]
        },
    )
    assert results[0]["success"] is True
    assert results[1]["errors"][0]["statusCode"] == "FIELD_INTEGRITY_EXCEPTION"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful(
            "composite/sobjects",
            method="PATCH",
            json={
                "records": [
                    {"attributes": {"type": "Lead"}, "id": lead, "NumberOfEmployees": "many"}
                ]
            },
        )
    assert first_error(caught)["errorCode"] == "JSON_PARSER_ERROR"


def test_merge_marks_the_loser(sandbox: SalesforceSandbox, sf: SalesforceClient) -> None:
    master, loser = lead_ids(sf, 2)
    sandbox.emulator.merge("Lead", master, [loser])
    rows = sf.query_all(
        f"SELECT Id, IsDeleted, MasterRecordId FROM Lead WHERE Id = '{loser}'", include_deleted=True
    )["records"]
    assert rows[0]["IsDeleted"] is True and rows[0]["MasterRecordId"] == master
