"""Bulk API 2.0 ingest through simple-salesforce's bulk2 handler."""

from __future__ import annotations

import csv
import io

from tests.sandbox_salesforce.conftest import SalesforceClient, SalesforceSandbox


def test_bulk2_update_with_a_failed_row(sandbox: SalesforceSandbox, sf: SalesforceClient) -> None:
    leads = [r["Id"] for r in sf.query("SELECT Id FROM Lead ORDER BY LastName LIMIT 3")["records"]]
    rows = [
        {"Id": leads[0], "Handoff_Score__c": "81", "Status": "MQL"},
        {"Id": leads[1], "Handoff_Score__c": "12", "Status": "Not a status"},
        {"Id": leads[2], "Handoff_Score__c": "55", "Status": ""},  # empty cell: unchanged
    ]
    results = sf.bulk2.Lead.update(records=rows, wait=0)
    assert len(results) == 1
    summary = results[0]
    assert (summary["numberRecordsProcessed"], summary["numberRecordsFailed"]) == (3, 1)
    job_id = summary["job_id"]
    ok = list(csv.DictReader(io.StringIO(sf.bulk2.Lead.get_successful_records(job_id))))
    assert [(r["sf__Id"], r["sf__Created"]) for r in ok] == [
        (leads[0], "false"),
        (leads[2], "false"),
    ]
    failed = list(csv.DictReader(io.StringIO(sf.bulk2.Lead.get_failed_records(job_id))))
    assert [r["Id"] for r in failed] == [leads[1]]
    assert failed[0]["sf__Error"].startswith("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:")
    first, third = sf.Lead.get(leads[0]), sf.Lead.get(leads[2])
    assert (first["Handoff_Score__c"], first["Status"]) == (81.0, "MQL")
    assert third["Handoff_Score__c"] == 55.0 and third["Status"] != ""
    assert sandbox.emulator.log.total("bulk.upload", 201) == 1


def test_an_ingest_job_is_processed_after_upload_complete_not_inside_it(
    sandbox: SalesforceSandbox, sf: SalesforceClient
) -> None:
    """As on Salesforce (Bulk API 2.0 "Job States": UploadComplete, InProgress, JobComplete), the
    PATCH answers at once and the job is processed afterwards, not holding the org meanwhile:
    here the org is held by the test while the PATCH is made, which processing inside the PATCH
    could not answer."""
    leads = [r["Id"] for r in sf.query("SELECT Id FROM Lead ORDER BY LastName LIMIT 2")["records"]]
    jobs = f"{sf.base_url}jobs/ingest"
    job = sf.session.post(jobs, json={"object": "Lead", "operation": "update"}, headers=sf.headers)
    job_id = job.json()["id"]
    body = "Id,Handoff_Score__c\n" + "".join(f"{lead},77\n" for lead in leads)
    headers = {**sf.headers, "Content-Type": "text/csv"}
    put = sf.session.put(f"{jobs}/{job_id}/batches", data=body, headers=headers)
    assert put.status_code == 201
    with sandbox.emulator.org.lock:  # the org busy: the job cannot be processed yet
        closed = sf.session.patch(
            f"{jobs}/{job_id}", json={"state": "UploadComplete"}, headers=sf.headers, timeout=10
        )
        assert closed.json()["state"] == "UploadComplete"
        assert sf.session.get(f"{jobs}/{job_id}", headers=sf.headers).json()["state"] in (
            "UploadComplete",
            "InProgress",
        )
    assert sandbox.emulator.bulk.wait_idle()
    info = sf.session.get(f"{jobs}/{job_id}", headers=sf.headers).json()
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (
        "JobComplete",
        2,
        0,
    )
    assert [sf.Lead.get(lead)["Handoff_Score__c"] for lead in leads] == [77.0, 77.0]
