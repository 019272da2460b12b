"""What a run planned for the CRMs (a detached outbox item) and the drift it found there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """A detached snapshot of an outbox item, safe to keep after its session ends."""

    key: str
    connection: str
    object_type: str
    record_id: str
    kind: str
    field: str
    value: Any
    previous: Any
    reason: str
    status: str
    error: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PlannedChange:
        return cls(
            key=row["key"],
            connection=row["connection"],
            object_type=row["object_type"],
            record_id=row["record_id"],
            kind=row["kind"],
            field=row["field"],
            value=row["value"],
            previous=row["previous"],
            reason=row["reason"],
            status=row["status"],
        )

    @classmethod
    def of(cls, item: Any, settled: str | None = None) -> PlannedChange:
        """A snapshot of an outbox item (ORM object or row); `settled`: its new status, which
        clears its error."""
        return cls(
            item.key,
            item.connection,
            item.object_type,
            item.record_id,
            item.kind,
            item.field,
            item.value,
            item.previous,
            item.reason,
            settled or item.status,
            None if settled else item.last_error,
        )


@dataclass(frozen=True, slots=True)
class Drift:
    """A managed field a human changed in the CRM since Handoff last wrote it."""

    connection: str
    object_type: str
    record_id: str
    field: str
    crm_value: Any
    last_written: Any
    wanted: Any
    policy: str  # crm_wins: left alone; handoff_wins: overwritten
