"""Bulk API 2.0 ingest jobs (`jobs/ingest`), processed asynchronously after UploadComplete.

Bulk API 2.0 Developer Guide, "Create a Job", "Upload Job Data" (PUT CSV, 201), "Close or Abort a
Job" (PATCH `{"state": "UploadComplete"|"Aborted"}`), "Get Job Info" (numberRecordsProcessed /
numberRecordsFailed), "Get Job Successful / Failed / Unprocessed Record Results" (CSV with
`sf__Id, sf__Created` / `sf__Id, sf__Error` before the uploaded columns). In CSV an empty cell leaves
a field unchanged and `#N/A` sets it to null. Each row is validated like a REST write.

As on Salesforce, a job is queued at UploadComplete and processed later ("Create a Job": "sent to
Salesforce for asynchronous processing"; "Job States": UploadComplete, then InProgress while
Salesforce processes it in chunks, then JobComplete): the PATCH answers at once, and a thread of
the emulator's processes the queued jobs one at a time, `CHUNK_ROWS` records under the org's lock
at a time, letting the org's other callers in between. (Processed inside the PATCH, holding the
org for the whole job, one 10,000-record upload stalled every other API call for seconds, the
speed-to-lead fast path's included, which Salesforce never does.) Clients poll the job's info for
JobComplete, as simple-salesforce's `bulk2` does. `asynchronous=False` processes in the PATCH.
"""

from __future__ import annotations

import csv
import io
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.salesforce.bulk_jobs import DELIMITERS, BulkJobs, not_found
from sandbox.salesforce.errors import ApiError, RecordError
from sandbox.salesforce.org import SalesforceOrg, format_value
from sandbox.salesforce.writes import RecordWriter
from sandbox.server import SandboxRequest

OPERATIONS = ("insert", "update", "upsert", "delete")
CHUNK_ROWS = 200  # records processed under the org's lock at a time (a trigger's batch size)
BETWEEN_CHUNKS = 0.002  # seconds the processor leaves the org to other callers between chunks


@dataclass
class IngestJob:
    info: dict[str, Any]
    data: list[str] = field(default_factory=list)
    successes: list[list[str]] = field(default_factory=list)
    failures: list[list[str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)


class BulkIngest(BulkJobs[IngestJob]):
    endpoint = "bulk"

    def __init__(
        self, org: SalesforceOrg, writer: RecordWriter, *, asynchronous: bool = True
    ) -> None:
        super().__init__(org)
        self.writer = writer
        self.asynchronous = asynchronous
        self._queued: queue.Queue[IngestJob] = queue.Queue()
        self._processor: threading.Thread | None = None
        self._processor_guard = threading.Lock()
        self._idle = threading.Condition()
        self._pending = 0  # jobs queued or in progress

    def _listing(self) -> dict[str, Any]:
        return super()._listing() | {"nextRecordsUrl": None}

    def _job_route(
        self, method: str, job: IngestJob, tail: str, request: SandboxRequest
    ) -> tuple[str, int, Any]:
        if not tail:
            if method == "GET":
                return "bulk.info", 200, job.info
            if method == "PATCH":
                return "bulk.state", 200, self._set_state(job, request.json())
        if tail == "batches" and method == "PUT":
            if job.info["state"] != "Open":
                raise ApiError(409, "INVALIDJOBSTATE", f"Job is in state {job.info['state']}")
            job.data.append(request.body.decode("utf-8"))
            return "bulk.upload", 201, None
        if method == "GET" and tail in ("successfulResults", "failedResults", "unprocessedrecords"):
            return "bulk.results", 200, _Csv(self._results(job, tail))
        raise not_found()

    def _create(self, body: Any, api_path: str) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("operation") not in OPERATIONS:
            raise ApiError(400, "INVALIDJOB", f"operation must be one of {', '.join(OPERATIONS)}")
        obj = next(
            (o for o in self.org.schema if o.lower() == str(body.get("object", "")).lower()), None
        )
        if obj is None:
            raise ApiError(400, "INVALIDJOB", f"Unknown object: {body.get('object')}")
        if body["operation"] == "upsert" and not body.get("externalIdFieldName"):
            raise ApiError(400, "INVALIDJOB", "externalIdFieldName is required for upsert")
        job_id = self._next_id()
        info = self._new_info(
            job_id,
            body,
            api_path,
            obj,
            "Open",
            externalIdFieldName=body.get("externalIdFieldName"),
            contentUrl=f"{api_path.lstrip('/')}/jobs/ingest/{job_id}/batches",
            numberRecordsProcessed=0,
            numberRecordsFailed=0,
            retries=0,
            totalProcessingTime=0,
        )
        self.jobs[job_id] = IngestJob(info)
        return info

    def _set_state(self, job: IngestJob, body: Any) -> dict[str, Any]:
        state = body.get("state") if isinstance(body, dict) else None
        if state == "Aborted" and job.info["state"] in ("Open", "UploadComplete"):
            job.info["state"] = "Aborted"
        elif state == "UploadComplete" and job.info["state"] == "Open":
            job.info["state"] = "UploadComplete"
            reply = dict(job.info)
            self._enqueue(job)
            return reply
        else:
            raise ApiError(
                409, "INVALIDJOBSTATE", f"Cannot move a {job.info['state']} job to {state}"
            )
        return job.info

    # -- processing --------------------------------------------------------------------------
    def _enqueue(self, job: IngestJob) -> None:
        if not self.asynchronous:
            self._process(job)
            return
        with self._idle:
            self._pending += 1
        with self._processor_guard:
            if self._processor is None:
                self._processor = threading.Thread(
                    target=self._run, name="sandbox-bulk-ingest", daemon=True
                )
                self._processor.start()
        self._queued.put(job)

    def _run(self) -> None:
        while True:
            job = self._queued.get()
            try:
                if job.info["state"] == "UploadComplete":  # not aborted meanwhile
                    self._process(job)
            except Exception as error:  # the job fails; the emulator goes on
                job.info["state"] = "Failed"
                job.info["errorMessage"] = f"{type(error).__name__}: {error}"
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every queued job is processed (tests); whether it was."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _process(self, job: IngestJob) -> None:
        info = job.info
        info["state"] = "InProgress"
        delimiter = DELIMITERS.get(info["columnDelimiter"], ",")
        for chunk in job.data:
            reader = csv.reader(io.StringIO(chunk, newline=""), delimiter=delimiter)
            rows = list(reader)
            if not rows:
                continue
            job.header = job.header or rows[0]
            for start in range(1, len(rows), CHUNK_ROWS):
                with self.org.lock:
                    for row in rows[start : start + CHUNK_ROWS]:
                        self._row(job, dict(zip(rows[0], row, strict=False)), row)
                info["numberRecordsProcessed"] = len(job.successes) + len(job.failures)
                if self.asynchronous:
                    time.sleep(BETWEEN_CHUNKS)  # the org's other callers go first
        info["numberRecordsProcessed"] = len(job.successes) + len(job.failures)
        info["numberRecordsFailed"] = len(job.failures)
        info["state"] = "JobComplete"
        info["systemModstamp"] = format_value(self.org.now())

    def _row(self, job: IngestJob, cells: dict[str, str], row: list[str]) -> None:
        sobject, operation = job.info["object"], job.info["operation"]
        schema = self.org.schema[sobject]
        values: dict[str, Any] = {}
        for name, text in cells.items():
            spec = schema.get(name)
            if text == "" or name.lower() == "id":
                continue
            values[name] = None if text == "#N/A" else _typed(spec.type if spec else "string", text)
        record_id = cells.get("Id") or cells.get("id") or ""
        with self.org.lock:
            self.writer.begin()
            at = self.org.now()
            try:
                created = False
                if operation == "insert":
                    record_id, created = self.writer.create(sobject, values, at)["Id"], True
                elif operation == "update":
                    record_id = self.writer.update(sobject, record_id, values, at)["Id"]
                elif operation == "delete":
                    record_id = self.writer.delete(sobject, record_id, at)["Id"]
                else:
                    record_id, created = self._upsert(
                        sobject, job.info["externalIdFieldName"], values, at
                    )
                job.successes.append([record_id, "true" if created else "false", *row])
            except (RecordError, ApiError) as error:
                self.writer.rollback()
                code = error.status_code if isinstance(error, RecordError) else error.error_code
                fields = ",".join(getattr(error, "fields", None) or [])
                job.failures.append([record_id, f"{code}:{error.message}:{fields}--", *row])

    def _upsert(
        self, sobject: str, key_field: str, values: dict[str, Any], at: Any
    ) -> tuple[str, bool]:
        spec = self.org.schema[sobject].get(key_field)
        key = values.get(spec.name) if spec else None
        if spec is None or key is None:
            raise RecordError("MISSING_ARGUMENT", f"{key_field} not specified", [key_field])
        match = next(
            (
                r
                for r in self.org.live(sobject)
                if str(r.get(spec.name) or "").lower() == str(key).lower()
            ),
            None,
        )
        if match is None:
            return self.writer.create(sobject, values, at)["Id"], True
        update = {k: v for k, v in values.items() if k.lower() != spec.name.lower()}
        return self.writer.update(sobject, match["Id"], update, at)["Id"], False

    def _results(self, job: IngestJob, kind: str) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if kind == "successfulResults":
            writer.writerow(["sf__Id", "sf__Created", *job.header])
            writer.writerows(job.successes)
        elif kind == "failedResults":
            writer.writerow(["sf__Id", "sf__Error", *job.header])
            writer.writerows(job.failures)
        else:
            writer.writerow(job.header)
        return out.getvalue()


class _Csv(str):
    """A CSV payload (the emulator sends it as text/csv instead of JSON)."""


def _typed(kind: str, text: str) -> Any:
    if kind == "boolean":
        return text.strip().lower() in ("true", "1", "yes")
    if kind in ("int", "double", "currency", "percent"):
        try:
            number = float(text)
        except ValueError:
            return text  # the writer reports the type error for this row
        return int(number) if kind == "int" and number.is_integer() else number
    return text
