"""Bulk API 2.0 query jobs (`jobs/query`): a SOQL query run asynchronously, its rows as CSV.

Bulk API 2.0 Developer Guide, "Create a Query Job" (POST `{"operation": "query"|"queryAll",
"query", "contentType": "CSV", "columnDelimiter", "lineEnding"}`, answered with the job's info in
state `UploadComplete`), "Get Information About a Query Job" (the state moves on to
`JobComplete` with `numberRecordsProcessed`), "Get Results for a Query Job" (GET `results`, with
`locator` and `maxRecords`: CSV rows, the columns in the order the query names them (API 50.0 and
later), headers `Sforce-NumberOfRecords` and `Sforce-Locator`, the string "null" on the last
set; asking before the job is complete is 412 JOB_NOT_COMPLETE), "Abort a Query Job" (PATCH
`{"state": "Aborted"}`), "Delete a Query Job" (204) and "Get Information About All Query Jobs".

The sandbox runs the query when the job is created (the rows are those of that moment) and
reports the job complete the first time its state is asked. CSV cells follow the Bulk API's
forms: datetimes `2026-11-20T15:00:00.000Z`, booleans `true`/`false`, an empty cell for null, a
parent's field as the column `Account.Name`. Queries the REST query endpoint refuses are refused
alike (400 MALFORMED_QUERY / INVALID_FIELD).
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sandbox.salesforce.bulk_jobs import DELIMITERS, BulkJobs, not_found
from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.soql import parse_soql
from sandbox.server import SandboxRequest, SandboxResponse

OPERATIONS = ("query", "queryAll")
DEFAULT_MAX_RECORDS = 50_000


@dataclass
class QueryJob:
    info: dict[str, Any]
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class BulkQuery(BulkJobs[QueryJob]):
    endpoint = "bulk_query"

    def _job_route(
        self, method: str, job: QueryJob, tail: str, request: SandboxRequest
    ) -> tuple[str, int, Any]:
        if not tail and method == "GET":
            if job.info["state"] == "UploadComplete":
                job.info |= {"state": "JobComplete", "numberRecordsProcessed": len(job.rows)}
            return "bulk_query.info", 200, job.info
        if not tail and method == "PATCH":
            body = request.json()
            if not isinstance(body, dict) or body.get("state") != "Aborted":
                raise ApiError(400, "INVALIDJOBSTATE", "A query job can only be Aborted")
            if job.info["state"] in ("UploadComplete", "InProgress"):
                job.info["state"] = "Aborted"
            return "bulk_query.abort", 200, job.info
        if tail == "results" and method == "GET":
            return "bulk_query.results", 200, self._results(job, request)
        raise not_found()

    def _create(self, body: Any, api_path: str) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("operation") not in OPERATIONS:
            raise ApiError(400, "INVALIDJOB", "operation must be query or queryAll")
        delimiter = body.get("columnDelimiter", "COMMA")
        if delimiter not in DELIMITERS or body.get("lineEnding", "LF") not in ("LF", "CRLF"):
            raise ApiError(400, "INVALIDJOB", "Invalid columnDelimiter or lineEnding")
        query = parse_soql(str(body.get("query") or ""), self.org.schema, self.org.now())
        _, records = self.org.run_query(
            query, include_deleted=body["operation"] == "queryAll", api_path=api_path
        )
        job_id = self._next_id()
        info = self._new_info(job_id, body, api_path, query.sobject, "UploadComplete")
        columns = list(query.fields)
        rows = [[_cell(_value(record, name)) for name in columns] for record in records]
        self.jobs[job_id] = QueryJob(info, columns, rows)
        return info

    def _results(self, job: QueryJob, request: SandboxRequest) -> SandboxResponse:
        if job.info["state"] != "JobComplete":
            raise ApiError(
                412,
                "JOB_NOT_COMPLETE",
                "can only download query results of successfully completed bulk job with "
                f"status: JOB_COMPLETE. Current status: {job.info['state'].upper()}",
            )
        try:
            start = int(base64.b64decode(request.param("locator") or "MA==").decode() or 0)
            size = int(request.param("maxRecords") or DEFAULT_MAX_RECORDS)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "INVALID_LOCATOR", "invalid locator") from None
        rows = job.rows[start : start + max(1, size)]
        end = start + len(rows)
        locator = base64.b64encode(str(end).encode()).decode() if end < len(job.rows) else "null"
        out = io.StringIO()
        writer = csv.writer(
            out,
            delimiter=DELIMITERS[job.info["columnDelimiter"]],
            lineterminator="\r\n" if job.info["lineEnding"] == "CRLF" else "\n",
            quoting=csv.QUOTE_ALL,
        )
        writer.writerow(job.columns)
        writer.writerows(rows)
        headers = {
            "Content-Type": "text/csv",
            "Sforce-NumberOfRecords": str(len(rows)),
            "Sforce-Locator": locator,
        }
        return SandboxResponse(200, out.getvalue().encode(), headers)


def _value(record: dict[str, Any], name: str) -> Any:
    """A column's value: a plain field, or `Parent.Field` through the nested parent records."""
    if name in record:
        return record[name]
    current: Any = record
    for part in name.split("."):
        if not isinstance(current, dict):
            return None
        current = next((v for k, v in current.items() if k.lower() == part.lower()), None)
    return current


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")[:23] + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and len(value) == 28 and value.endswith("+0000") and value[10] == "T":
        return value[:23] + "Z"  # the REST form of a datetime
    return str(value)
