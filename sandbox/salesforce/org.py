"""The sandbox org's data: records per sObject, audit stamps, query execution, replication windows.

Every write stamps `SystemModstamp`, `LastModifiedDate` (and `CreatedDate` on insert) with the
request's one clock reading at millisecond precision, so several records may share a stamp, as in
Salesforce (crm-api-notes section 7, "Incremental"). Deleted records keep `IsDeleted = true` and are
only visible to queryAll (REST API Developer Guide, "QueryAll"); the delete log feeds getDeleted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.ids import derived_id, normalize, prefix_object, sequential_id
from sandbox.salesforce.indexes import StampIndexes, candidates
from sandbox.salesforce.predicates import Record, order_records
from sandbox.salesforce.schema import ObjectSchema, build_schema
from sandbox.salesforce.soql import ParentPath, SoqlQuery

Clock = Callable[[], datetime]
UPDATED_WINDOW = timedelta(days=30)  # getUpdated: start no more than 30 days back
DELETED_WINDOW = timedelta(days=15)  # getDeleted: delete log kept 15 days


def utc_ms(moment: datetime) -> datetime:
    """A tz-aware UTC datetime truncated to the millisecond, Salesforce's stamp precision."""
    if moment.tzinfo is None:
        raise ValueError("sandbox clock must return tz-aware datetimes")
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def format_value(value: Any) -> Any:
    """JSON form of a field value: datetimes as `2026-11-20T15:00:00.000+0000`, dates ISO."""
    if isinstance(value, datetime):  # stored values are UTC, so the offset is always +00:00
        return value.isoformat(timespec="milliseconds")[:23] + "+0000"
    if isinstance(value, date):
        return value.isoformat()
    return value


class ChangeBus(Protocol):
    def publish(
        self, entity: str, change_type: str, record: Record, changed: list[str]
    ) -> None: ...
    def mark(self) -> int: ...
    def retract(self, mark: int) -> None: ...


@dataclass(slots=True)
class DeletedEntry:
    sobject: str
    id: str
    deleted_at: datetime


@dataclass
class SalesforceOrg:
    """All records of the emulated org. Callers hold `lock` around multi-step changes."""

    clock: Clock
    handoff_fields: bool = True
    schema: dict[str, ObjectSchema] = field(init=False)
    records: dict[str, dict[str, Record]] = field(init=False)
    deleted_log: list[DeletedEntry] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    api_user_id: str = field(init=False)
    created_at: datetime = field(init=False)
    indexes: StampIndexes = field(default_factory=StampIndexes)
    # Change Data Capture (sandbox/salesforce/change_events.py), told of each change while the
    # change holds `lock`
    change_bus: ChangeBus | None = None
    _sequence: int = 0

    def __post_init__(self) -> None:
        self.schema = build_schema(handoff_fields=self.handoff_fields)
        self.records = {name: {} for name in self.schema}
        self.created_at = utc_ms(self.clock()) - timedelta(days=365)
        self.api_user_id = derived_id("User", "__integration__")

    def now(self) -> datetime:
        return utc_ms(self.clock())

    # -- records -------------------------------------------------------------------------------
    def new_id(self, sobject: str) -> str:
        with self.lock:
            while True:
                self._sequence += 1
                candidate = sequential_id(sobject, self._sequence)
                if candidate not in self.records[sobject]:
                    return candidate

    def insert(
        self, sobject: str, values: Record, *, at: datetime, record_id: str | None = None
    ) -> Record:
        """Store a record as given (no validation), filling Id, audit fields and defaults."""
        spec = self.schema[sobject]
        record: Record = {f.name: None for f in spec.fields.values()}
        for f in spec.fields.values():
            if f.type == "boolean":
                record[f.name] = False
            if f.default is not None:
                record[f.name] = f.default
        record.update(values)
        record["Id"] = record_id or values.get("Id") or self.new_id(sobject)
        user = values.get("CreatedById") or self.api_user_id
        for name, value in (
            ("CreatedDate", at),
            ("LastModifiedDate", at),
            ("SystemModstamp", at),
            ("CreatedById", user),
            ("LastModifiedById", user),
        ):
            if values.get(name) is None:
                record[name] = value
        self.derive(sobject, record)
        with self.lock:
            self.records[sobject][record["Id"]] = record
            self.indexes.added(sobject, record)
            self.changed(sobject, "CREATE", record, [k for k, v in record.items() if v is not None])
        return record

    def changed(self, sobject: str, kind: str, record: Record, names: list[str]) -> None:
        """Tell the change event bus (if any) about a committed change to a record."""
        if self.change_bus is not None:
            self.change_bus.publish(sobject, kind, record, names)

    def derive(self, sobject: str, record: Record) -> None:
        """Read-only fields computed from others (Name, IsClosed, HasResponded, ...)."""
        if sobject in ("Lead", "Contact", "User"):
            parts = (record.get("FirstName"), record.get("LastName"))
            record["Name"] = " ".join(p for p in parts if p)
        elif sobject == "Task":
            record["IsClosed"] = record.get("Status") == "Completed"
            record["IsHighPriority"] = record.get("Priority") == "High"
        elif sobject == "CampaignMember":
            record["HasResponded"] = record.get("Status") in ("Attended", "Responded")
            record["LeadOrContactId"] = record.get("ContactId") or record.get("LeadId")

    def touch(self, record: Record, at: datetime, *, user: bool = True) -> None:
        """Stamp a change: SystemModstamp always, LastModifiedDate/ById for user changes."""
        sobject = prefix_object(record["Id"]) or ""
        self.indexes.changed(sobject)  # its lookup fields may have moved
        names = ("SystemModstamp", "LastModifiedDate") if user else ("SystemModstamp",)
        for name in names:
            old, record[name] = record[name], at
            self.indexes.moved(sobject, name, record["Id"], old, at)
        if user:
            record["LastModifiedById"] = self.api_user_id

    def find(self, record_id: str) -> tuple[str, Record] | None:
        """The (sObject, record) for a 15- or 18-character id, deleted ones included."""
        full = normalize(record_id)
        sobject = prefix_object(full) if full else None
        if full is None or sobject is None or sobject not in self.records:
            return None
        record = self.records[sobject].get(full)
        return (sobject, record) if record is not None else None

    def get(self, sobject: str, record_id: str) -> Record | None:
        full = normalize(record_id)
        return self.records[sobject].get(full) if full else None

    def live(self, sobject: str) -> Iterator[Record]:
        return (r for r in self.records[sobject].values() if not r.get("IsDeleted"))

    def mark_deleted(self, sobject: str, record: Record, at: datetime) -> None:
        record["IsDeleted"] = True
        self.touch(record, at)
        self.deleted_log.append(DeletedEntry(sobject, record["Id"], at))
        self.changed(sobject, "DELETE", record, [])

    # -- reads ---------------------------------------------------------------------------------
    def run_query(
        self, query: SoqlQuery, *, include_deleted: bool, api_path: str
    ) -> tuple[int, list[Record]]:
        """(totalSize, JSON-ready records with `attributes {type, url}`) for a parsed query."""
        with self.lock:
            pool, in_order = candidates(query, self.records[query.sobject], self.indexes)
            wanted = None if query.limit is None else query.offset + query.limit
            rows = []
            for r in pool:
                if (include_deleted or not r.get("IsDeleted")) and (
                    query.where is None or query.where(r)
                ):
                    rows.append(r)
                    if in_order and wanted is not None and len(rows) >= wanted:
                        break
            if query.order and not in_order:
                rows = order_records(rows, query.order, query.exact_order)
            end = None if query.limit is None else query.offset + query.limit
            rows = rows[query.offset : end]
            if query.count_only:
                return len(rows), []
            sobject, obj = query.sobject, self.schema[query.sobject]
            temporal = {
                n
                for n in query.fields
                if n not in query.parents and obj.fields[n.lower()].type in ("datetime", "date")
            }
            url = f"{api_path}/sobjects/{sobject}/"
            out = []
            for r in rows:
                item: Record = {"attributes": {"type": sobject, "url": url + r["Id"]}}
                for n in query.fields:
                    path = query.parents.get(n)
                    if path is not None:
                        self._parent_value(item, r, path, api_path)
                    else:
                        item[n] = format_value(r.get(n)) if n in temporal else r.get(n)
                out.append(item)
            return len(rows), out

    def _parent_value(self, item: Record, row: Record, path: ParentPath, api_path: str) -> None:
        """Nest a parent field as the REST API does: `"Account": {"attributes": {...},
        "OwnerId": ...}`, or `"Account": null` when the lookup is empty."""
        container, current = item, row
        for reference, relationship, sobject in path.hops:
            parent_id = current.get(reference)
            parent = self.records[sobject].get(parent_id) if parent_id else None
            if parent is None or parent.get("IsDeleted"):
                container.setdefault(relationship, None)
                return
            nested = container.get(relationship)
            if nested is None:
                nested = container[relationship] = {
                    "attributes": {
                        "type": sobject,
                        "url": f"{api_path}/sobjects/{sobject}/{parent_id}",
                    }
                }
            container, current = nested, parent
        container[path.field.name] = format_value(current.get(path.field.name))

    def updated_ids(self, sobject: str, start: datetime, end: datetime) -> dict[str, Any]:
        """getUpdated: ids changed in [start, end] (REST API "Get Updated", 30-day window)."""
        self._check_window(start, end, UPDATED_WINDOW)
        with self.lock:
            ids = [r["Id"] for r in self.live(sobject) if start <= r["SystemModstamp"] <= end]
        latest = min(end, self.now()).replace(second=0, microsecond=0)
        return {"ids": ids, "latestDateCovered": format_value(latest)}

    def deleted_ids(self, sobject: str, start: datetime, end: datetime) -> dict[str, Any]:
        """getDeleted: the delete log in [start, end] (REST API "Get Deleted", 15-day window)."""
        self._check_window(start, end, DELETED_WINDOW)
        with self.lock:
            entries = [
                {"id": e.id, "deletedDate": format_value(e.deleted_at)}
                for e in self.deleted_log
                if e.sobject == sobject and start <= e.deleted_at <= end
            ]
        earliest = max(self.created_at, self.now() - DELETED_WINDOW)
        latest = min(end, self.now()).replace(second=0, microsecond=0)
        return {
            "deletedRecords": entries,
            "earliestDateAvailable": format_value(earliest),
            "latestDateCovered": format_value(latest),
        }

    def _check_window(self, start: datetime, end: datetime, window: timedelta) -> None:
        if end < start:
            raise ApiError(400, "INVALID_REPLICATION_DATE", "EndDate can not be before StartDate")
        if start < self.now() - window:
            days = window.days
            raise ApiError(
                400,
                "INVALID_REPLICATION_DATE",
                f"startDate can not be more than {days} days ago",
            )
