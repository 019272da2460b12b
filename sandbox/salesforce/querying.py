"""`query/`, `queryAll/` and query cursors (`query/<locator>-<offset>`).

REST API Developer Guide, "Query" / "QueryAll" / "Execute a SOQL Query": results come in batches of
at most 2,000 records; `Sforce-Query-Options: batchSize=N` asks for N in 200..2,000 ("Query Options
Header"); while `done` is false the response carries `nextRecordsUrl`
`/services/data/vXX.X/query/<queryLocator>-<offset>`. A user holds at most 10 open cursors and
opening another releases the oldest (SOAP API "Implementation Considerations"); an unknown or
released locator fails with INVALID_QUERY_LOCATOR.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.ids import sequential_id
from sandbox.salesforce.org import SalesforceOrg
from sandbox.salesforce.predicates import Record
from sandbox.salesforce.soql import parse_soql

DEFAULT_BATCH = 2000
MIN_BATCH = 200
_BATCH_RE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


@dataclass(slots=True)
class Cursor:
    records: list[Record]
    total: int
    batch: int


def batch_size(header: str | None) -> int:
    """The page size a `Sforce-Query-Options` header asks for, clamped to 200..2,000."""
    match = _BATCH_RE.search(header or "")
    if match is None:
        return DEFAULT_BATCH
    return max(MIN_BATCH, min(DEFAULT_BATCH, int(match.group(1))))


class QueryService:
    def __init__(self, org: SalesforceOrg, max_open_cursors: int = 10) -> None:
        self.org = org
        self.max_open_cursors = max_open_cursors
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = threading.Lock()
        self._sequence = 0

    def open_cursors(self) -> int:
        with self._lock:
            return len(self._cursors)

    def query(
        self, soql: str | None, *, include_deleted: bool, api_path: str, options: str | None
    ) -> dict[str, Any]:
        query = parse_soql(soql or "", self.org.schema, self.org.now())
        total, records = self.org.run_query(
            query, include_deleted=include_deleted, api_path=api_path
        )
        if query.count_only:
            return {"totalSize": total, "done": True, "records": []}
        batch = batch_size(options)
        if len(records) <= batch:
            return {"totalSize": total, "done": True, "records": records}
        with self._lock:
            self._sequence += 1
            locator = sequential_id("QueryLocator", self._sequence)
            self._cursors[locator] = Cursor(records, total, batch)
            while len(self._cursors) > self.max_open_cursors:
                self._cursors.popitem(last=False)
        return self._page(locator, self._cursors[locator], 0, api_path, batch)

    def query_more(self, token: str, *, api_path: str, options: str | None) -> dict[str, Any]:
        locator, _, offset_text = token.rpartition("-")
        with self._lock:
            cursor = self._cursors.get(locator)
        if cursor is None or not offset_text.isdigit() or int(offset_text) >= len(cursor.records):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        batch = batch_size(options) if options else cursor.batch
        return self._page(locator, cursor, int(offset_text), api_path, batch)

    def _page(
        self, locator: str, cursor: Cursor, offset: int, api_path: str, batch: int
    ) -> dict[str, Any]:
        end = offset + batch
        page: dict[str, Any] = {
            "totalSize": cursor.total,
            "done": end >= len(cursor.records),
            "records": cursor.records[offset:end],
        }
        if page["done"]:
            with self._lock:
                self._cursors.pop(locator, None)
        else:
            page["nextRecordsUrl"] = f"{api_path}/query/{locator}-{end}"
        return page
