"""Large field updates through Bulk API 2.0 ingest jobs (above `salesforce.bulk_threshold`).

One `update` job per object: simple-salesforce's `bulk2` creates the job, uploads the CSV,
closes it and polls until it completes (through the guarded session, so the retry policy,
limits and usage counting apply). Each record's outcome is then read from the job's failed and
successful result CSVs, matched by `Id`; a record in neither (an aborted or partly processed
job) comes back unknown so the caller can send it again.

CSV cells: an empty cell leaves a field unchanged and `#N/A` clears it (Bulk API 2.0 "Prepare
CSV Files"); booleans are `true`/`false`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceOperationError

from connectors.errors import FatalError
from connectors.salesforce.collections import Saved, describe_error

NULL = "#N/A"


def csv_cell(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text))) if text.strip() else []


@dataclass
class BulkUpdater:
    sf: Salesforce
    connection: str
    poll_seconds: float = 2.0
    jobs: int = 0

    def update(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> dict[str, Saved]:
        """Outcome by record id for `records` ({"id": ..., field: value}) of one sObject."""
        rows = [
            {"Id": str(r["id"])}
            | {k: csv_cell(v) for k, v in r.items() if k not in ("id", "attributes")}
            for r in records
        ]
        handler = getattr(self.sf.bulk2, sobject)
        try:
            results = handler.update(records=rows, wait=self.poll_seconds)  # type: ignore[arg-type]
            outcomes: dict[str, Saved] = {}
            for job in results:
                self.jobs += 1
                job_id = str(job["job_id"])
                for row in _rows(handler.get_failed_records(job_id)):
                    record_id = row.get("Id") or row.get("sf__Id") or ""
                    error = row.get("sf__Error", "")
                    code = error.split(":", 1)[0]
                    outcomes[record_id] = Saved(
                        False, id=record_id, error=error[:500], status_code=code
                    )
                for row in _rows(handler.get_successful_records(job_id)):
                    record_id = row.get("Id") or row.get("sf__Id") or ""
                    outcomes[record_id] = Saved(True, id=record_id)
        except SalesforceOperationError as exc:
            raise FatalError(
                f"Salesforce Bulk API 2.0 update job on {sobject} failed ({str(exc)[:300]}): "
                "check the integration user may use the Bulk API and edit these fields",
                connection=self.connection,
            ) from None
        except SalesforceError as exc:
            _, message = describe_error(exc)
            raise FatalError(
                f"Salesforce refused a Bulk API 2.0 update job on {sobject} ({message})",
                connection=self.connection,
                status=exc.status,
            ) from None
        return outcomes
