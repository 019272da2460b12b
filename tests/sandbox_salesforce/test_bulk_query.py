"""Bulk API 2.0 query jobs through simple-salesforce's bulk2 handler (what Airbyte's Salesforce
source reads most objects with): the rows of the SOQL query as CSV, in sets of `maxRecords`
joined by the Sforce-Locator header; the REST query's refusals; 412 before the job is done."""

from __future__ import annotations

import csv
import io

import requests

from tests.sandbox_salesforce.conftest import SID, SalesforceClient, SalesforceSandbox


def test_a_query_job_returns_the_rows_in_sets(sf: SalesforceClient) -> None:
    soql = "SELECT Id, LastName, IsDeleted, CreatedDate, Owner.Email FROM Lead"
    expected = {r["Id"]: r for r in sf.query_all(soql)["records"]}
    sets = list(sf.bulk2.Lead.query(soql, max_records=7, wait=0))
    assert len(sets) > 1  # 30 leads, 7 a set
    rows = [row for text in sets for row in csv.DictReader(io.StringIO(text))]
    assert list(rows[0]) == ["Id", "LastName", "IsDeleted", "CreatedDate", "Owner.Email"]
    assert {r["Id"] for r in rows} == set(expected) and len(rows) == len(expected)
    for row in rows:
        rest = expected[row["Id"]]
        assert row["LastName"] == rest["LastName"]
        assert row["IsDeleted"] == "false"
        assert (
            row["CreatedDate"].endswith("Z") and row["CreatedDate"][:19] == rest["CreatedDate"][:19]
        )
        assert row["Owner.Email"] == ((rest.get("Owner") or {}).get("Email") or "")


def _session(box: SalesforceSandbox) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(box.server.ca.ca_file)
    session.headers["Authorization"] = f"Bearer {SID}"
    return session


def test_results_wait_for_the_job_and_bad_queries_are_refused(sandbox: SalesforceSandbox) -> None:
    http = _session(sandbox)
    jobs = f"{sandbox.server.base_url}/services/data/v62.0/jobs/query"
    created = http.post(jobs, json={"operation": "query", "query": "SELECT Id FROM Lead"})
    assert created.status_code == 200 and created.json()["state"] == "UploadComplete"
    job = created.json()["id"]
    early = http.get(f"{jobs}/{job}/results")
    assert early.status_code == 412 and early.json()[0]["errorCode"] == "JOB_NOT_COMPLETE"
    info = http.get(f"{jobs}/{job}").json()
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 30
    done = http.get(f"{jobs}/{job}/results")
    assert done.headers["Sforce-Locator"] == "null"
    assert done.headers["Sforce-NumberOfRecords"] == "30"
    assert http.delete(f"{jobs}/{job}").status_code == 204
    assert http.get(f"{jobs}/{job}").status_code == 404

    bad = http.post(jobs, json={"operation": "query", "query": "SELECT Nope__c FROM Lead"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_FIELD"
    wrong = http.post(jobs, json={"operation": "upsert", "query": "SELECT Id FROM Lead"})
    assert wrong.status_code == 400 and wrong.json()[0]["errorCode"] == "INVALIDJOB"
