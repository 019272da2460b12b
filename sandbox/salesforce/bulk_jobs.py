"""What Bulk API 2.0 ingest jobs (`jobs/ingest`, sandbox/salesforce/bulk.py) and query jobs
(`jobs/query`, sandbox/salesforce/bulk_query.py) share: the job record's info (id, operation,
object, creator, dates, state, content type, API version, line ending and delimiter, in the order
the Bulk API 2.0 Developer Guide's "Create a Job" answers them), the jobs by id, and the routes
every job has (create, list, 404 for an unknown id, delete: 204).
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.ids import sequential_id
from sandbox.salesforce.org import SalesforceOrg, format_value
from sandbox.server import SandboxRequest

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
INFO_ORDER = (
    "id",
    "operation",
    "object",
    "createdById",
    "createdDate",
    "systemModstamp",
    "state",
    "externalIdFieldName",
    "concurrencyMode",
    "contentType",
    "apiVersion",
    "contentUrl",
    "lineEnding",
    "columnDelimiter",
)


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


class HasInfo(Protocol):
    info: dict[str, Any]


JobT = TypeVar("JobT", bound=HasInfo)


class BulkJobs(Generic[JobT]):
    """The jobs of one kind, by id; `endpoint` prefixes the request log's labels."""

    endpoint = ""

    def __init__(self, org: SalesforceOrg) -> None:
        self.org = org
        self.jobs: dict[str, JobT] = {}
        self._sequence = 0

    def handle(
        self, method: str, parts: list[str], request: SandboxRequest, api_path: str
    ) -> tuple[str, int, Any]:
        if not parts:
            if method == "POST":
                return f"{self.endpoint}.create", 200, self._create(request.json(), api_path)
            if method == "GET":
                return f"{self.endpoint}.list", 200, self._listing()
            raise not_found()
        job = self.jobs.get(parts[0])
        if job is None:
            raise not_found()
        tail = parts[1] if len(parts) > 1 else ""
        if not tail and method == "DELETE":
            self.jobs.pop(parts[0])
            return f"{self.endpoint}.delete", 204, None
        return self._job_route(method, job, tail, request)

    def _listing(self) -> dict[str, Any]:
        return {"done": True, "records": [job.info for job in self.jobs.values()]}

    def _create(self, body: Any, api_path: str) -> dict[str, Any]:
        raise NotImplementedError

    def _job_route(
        self, method: str, job: JobT, tail: str, request: SandboxRequest
    ) -> tuple[str, int, Any]:
        raise NotImplementedError

    def _next_id(self) -> str:
        self._sequence += 1
        return sequential_id("Job", self._sequence)

    def _new_info(
        self,
        job_id: str,
        body: dict[str, Any],
        api_path: str,
        sobject: str,
        state: str,
        **more: Any,
    ) -> dict[str, Any]:
        """A new job's info: the shared fields and `more`, in INFO_ORDER (the rest after)."""
        now = format_value(self.org.now())
        fields = {
            "id": job_id,
            "operation": body["operation"],
            "object": sobject,
            "createdById": self.org.api_user_id,
            "createdDate": now,
            "systemModstamp": now,
            "state": state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(api_path.rsplit("v", 1)[-1]),
            "lineEnding": body.get("lineEnding", "LF"),
            "columnDelimiter": body.get("columnDelimiter", "COMMA"),
            **more,
        }
        ordered = {name: fields.pop(name) for name in INFO_ORDER if name in fields}
        return ordered | fields
