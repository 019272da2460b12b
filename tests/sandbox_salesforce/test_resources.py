"""Smaller resources (describe, record GET, collections DELETE, replication windows), timeouts and
concurrent clients."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
import requests
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from sandbox.faults import Faults
from tests.sandbox_salesforce.conftest import (
    NOW,
    SID,
    SalesforceClient,
    SalesforceSandbox,
    first_error,
)


def test_describe_global_and_record_get_with_fields(sf: SalesforceClient) -> None:
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert names >= {
        "Lead",
        "Contact",
        "Account",
        "User",
        "Task",
        "Event",
        "Campaign",
        "CampaignMember",
    }
    task_fields = {f["name"]: f for f in sf.Task.describe()["fields"]}
    key = task_fields["Handoff_Task_Key__c"]
    assert (key["custom"], key["externalId"], key["unique"]) == (True, True, True)
    assert task_fields["TaskSubtype"]["updateable"] is False  # set on create only
    lead_id = sf.query("SELECT Id FROM Lead LIMIT 1")["records"][0]["Id"]
    record = sf.restful(f"sobjects/Lead/{lead_id}", params={"fields": "Email,status"})
    assert set(record) == {"attributes", "Email", "Status"}
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.get("00Q5g1000000000AAA")
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful("sobjects/Opportunity__x/describe")


def test_collections_delete_and_deleted_record_access(sf: SalesforceClient) -> None:
    ids = [r["Id"] for r in sf.query("SELECT Id FROM Lead ORDER BY LastName LIMIT 2")["records"]]
    results = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": f"{ids[0]},{ids[0]},00Qbad"}
    )
    assert [r["success"] for r in results] == [True, False, False]
    assert results[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert results[2]["errors"][0]["statusCode"] == "MALFORMED_ID"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.update(ids[0], {"Title": "x"})


def test_replication_windows_are_bounded(sf: SalesforceClient) -> None:
    with pytest.raises(SalesforceMalformedRequest) as updated:
        sf.Lead.updated(NOW - timedelta(days=31), NOW)
    assert first_error(updated)["errorCode"] == "INVALID_REPLICATION_DATE"
    with pytest.raises(SalesforceMalformedRequest):
        sf.Lead.deleted(NOW - timedelta(days=16), NOW)
    window = sf.Lead.deleted(NOW - timedelta(days=14), NOW)
    assert window["deletedRecords"] == [] and window["earliestDateAvailable"].endswith("+0000")


def test_timeout_fault_outlasts_a_client_timeout(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    box = start_sandbox(faults=Faults(timeout_rate=1.0, timeout_seconds=1.0))
    session = requests.Session()
    session.trust_env = False
    session.verify = str(box.server.ca.ca_file)
    with pytest.raises(requests.Timeout):
        session.get(
            f"{box.server.base_url}/services/data/v59.0/limits/",
            headers={"Authorization": f"Bearer {SID}"},
            timeout=0.2,
        )


def test_concurrent_clients_see_consistent_writes(sandbox: SalesforceSandbox) -> None:
    sf = sandbox.client()
    leads = [r["Id"] for r in sf.query("SELECT Id FROM Lead ORDER BY LastName")["records"]]
    errors: list[BaseException] = []

    def worker(chunk: list[str], score: int) -> None:
        client = sandbox.client()
        try:
            for _ in range(5):
                records = [
                    {"attributes": {"type": "Lead"}, "id": i, "Handoff_Score__c": score}
                    for i in chunk
                ]
                results = client.restful(
                    "composite/sobjects", method="PATCH", json={"records": records}
                )
                assert all(r["success"] for r in results)
                client.query("SELECT Id FROM Lead WHERE SystemModstamp > 2026-11-01T00:00:00Z")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(leads[n::3], n + 10)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    scores = {
        r["Id"]: r["Handoff_Score__c"]
        for r in sf.query_all("SELECT Id, Handoff_Score__c FROM Lead")["records"]
    }
    assert all(scores[i] == n + 10 for n in range(3) for i in leads[n::3])
    assert sandbox.emulator.log.total("collections.update", 200) == 15
