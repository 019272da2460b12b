"""Planning CRM changes into the outbox: diff against the CRM, respect drift, never plan twice.

Every item's key is deterministic (connection, object, record, field or task key, and the value
itself as the decision version), so planning the same decision again is a no-op, and a new decision
for the same field supersedes a still-pending older one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from config.connections import Connection
from sync.store.tables import OutboxItem, WrittenValue

OPEN_STATUSES = ("pending", "sending", "rejected")


def outbox_key(*parts: Any) -> str:
    raw = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def same_value(a: Any, b: Any) -> bool:
    """CRM values come back as strings or typed values: compare them as a person would."""
    if a in (None, "") and b in (None, ""):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a).strip() == str(b).strip()


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
    def of(cls, item: OutboxItem) -> PlannedChange:
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
            item.status,
            item.last_error,
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


@dataclass
class OutboxPlanner:
    """Plans field writes and tasks for one run inside the decision transaction."""

    session: Session
    run_id: str
    now: datetime
    connections: dict[str, Connection]
    planned: list[PlannedChange] = field(default_factory=list)
    drifts: list[Drift] = field(default_factory=list)

    def managed(self, connection: str, object_type: str, canonical: str) -> bool:
        mapping = self.connections[connection].objects.get(object_type, {}).get(canonical)
        return bool(mapping and mapping.managed)

    def write_field(
        self,
        connection: str,
        object_type: str,
        record_id: str,
        canonical: str,
        value: Any,
        crm_value: Any,
        reason: str,
        *,
        clear_first: bool = False,
    ) -> OutboxItem | None:
        """Plan `canonical = value` unless the CRM holds it already or a human owns it now."""
        if not self.managed(connection, object_type, canonical) or same_value(value, crm_value):
            return None
        mapping = self.connections[connection].objects[object_type][canonical]
        written = self.session.get(WrittenValue, (connection, record_id, canonical))
        if written is not None and not same_value(written.value, crm_value):
            drift = Drift(
                connection,
                object_type,
                record_id,
                canonical,
                crm_value,
                written.value,
                value,
                mapping.drift,
            )
            self.drifts.append(drift)
            if mapping.drift == "crm_wins":
                return None
        key = outbox_key(connection, object_type, record_id, "field", canonical, value)
        return self._add(
            OutboxItem(
                key=key,
                run_id=self.run_id,
                connection=connection,
                object_type=object_type,
                record_id=record_id,
                kind="field",
                field=canonical,
                value=value,
                previous=crm_value,
                payload={"clear_first": clear_first} if clear_first else {},
                reason=reason,
                created_at=self.now,
            )
        )

    def create_task(
        self,
        connection: str,
        object_type: str,
        record_id: str,
        *,
        task_key: str,
        owner_id: str,
        subject: str,
        body: str,
        due_at: datetime,
        reason: str,
    ) -> OutboxItem | None:
        key = outbox_key(connection, object_type, record_id, "task", task_key)
        payload = {
            "task_key": task_key,
            "owner_id": owner_id,
            "subject": subject,
            "body": body,
            "due_at": due_at.isoformat(),
        }
        return self._add(
            OutboxItem(
                key=key,
                run_id=self.run_id,
                connection=connection,
                object_type=object_type,
                record_id=record_id,
                kind="task",
                field="task",
                value=subject,
                payload=payload,
                reason=reason,
                created_at=self.now,
            )
        )

    def _add(self, item: OutboxItem) -> OutboxItem | None:
        if self.session.get(OutboxItem, item.key) is not None:
            return None  # the same decision is already planned or applied
        if item.kind == "field":
            stale = self.session.exec(
                select(OutboxItem).where(
                    OutboxItem.connection == item.connection,
                    OutboxItem.record_id == item.record_id,
                    OutboxItem.kind == "field",
                    OutboxItem.field == item.field,
                    OutboxItem.status.in_(("pending", "rejected")),  # type: ignore[attr-defined]
                )
            ).all()
            for old in stale:
                old.status = "superseded"
                self.session.add(old)
        self.session.add(item)
        self.planned.append(PlannedChange.of(item))
        return item
