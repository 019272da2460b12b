"""Planning CRM changes into the outbox: diff against the CRM, respect drift, never plan twice.

Every item's key is deterministic (connection, object, record, field or task key, and the value
itself as the decision version), so planning the same decision again is a no-op, and a new decision
for the same field supersedes a still-pending older one. A value written once and then replaced
(by Handoff's own later write, or a person's edit before sales' verdict) is a new decision when
it is wanted again: its item gets a key of its own (the run's id added).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlmodel import Session

from config.connections import Connection
from sync.crm_values import same_in_crm, same_value
from sync.planned_change import Drift, PlannedChange
from sync.store.key_in import key_in
from sync.store.tables import OutboxItem, WrittenValue
from sync.store.upsert import insert_ignore
from sync.webhooks import WEBHOOK_CONNECTION

_OUTBOX: Any = OutboxItem.__table__  # type: ignore[attr-defined]
_WRITTEN: Any = WrittenValue.__table__  # type: ignore[attr-defined]

OPEN_STATUSES = ("pending", "sending", "rejected")
LANDED_STATUSES = ("applied", "unchanged", "superseded")  # done with: history, not in the way


# one encoder for every key: `json.dumps` with options builds one a call (~5 planned a contact)
_KEY_JSON = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))


def outbox_key(*parts: Any) -> str:
    raw = _KEY_JSON.encode(parts)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass
class OutboxPlanner:
    """Plans field writes and tasks for one run inside the decision transaction."""

    session: Session
    run_id: str
    now: datetime
    connections: dict[str, Connection]
    planned: list[PlannedChange] = field(default_factory=list)
    drifts: list[Drift] = field(default_factory=list)
    _written: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    _items: set[str] = field(default_factory=set)  # keys of stored items of known records
    _landed: set[str] = field(default_factory=set)  # ... of those applied, unchanged, superseded
    _new: dict[str, dict[str, Any]] = field(default_factory=dict)
    _new_by_field: dict[tuple[str, str, str], str] = field(default_factory=dict)
    _open_fields: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    # our latest unconfirmed value per field (pending, in flight, to retry), with its time
    _intended: dict[tuple[str, str, str], tuple[datetime, Any]] = field(default_factory=dict)
    _superseded: list[str] = field(default_factory=list)  # stored items a new decision replaces
    _known: set[tuple[str, str]] = field(default_factory=set)
    _drift_seen: set[tuple[str, str, str]] = field(default_factory=set)
    unmappable: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    refused: str | None = None  # why the last write_field planned nothing it wanted (else None)

    def unmappable_problems(self) -> list[str]:
        return [
            f"{connection}: {n} {object_type}(s) not given {canonical} '{value}': add "
            f"'{value}: <CRM value>' under connections[{connection}].objects.{object_type}."
            f"{canonical}.values in handoff.yaml"
            for (connection, object_type, canonical, value), n in sorted(self.unmappable.items())
        ]

    def prefetch(self, records: Iterable[tuple[str, str]]) -> None:
        """Load what planning needs for these (connection, record id)s in a few queries."""
        wanted = sorted(set(records) - self._known)
        self._known.update(wanted)
        by_connection: dict[str, list[str]] = {}
        for connection, record_id in wanted:
            by_connection.setdefault(connection, []).append(record_id)
        link = self.session.connection()  # plain rows: a record's history grows every run
        for connection, ids in sorted(by_connection.items()):  # (connection, record) indexes
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for record_id, name, value in link.execute(
                    sa_select(_WRITTEN.c.record_id, _WRITTEN.c.field, _WRITTEN.c.value).where(
                        _WRITTEN.c.connection == connection, key_in(_WRITTEN.c.record_id, chunk)
                    )
                ):
                    self._written[(connection, record_id, name)] = value
                for key, record_id, kind, name, status, run_id, value, created in link.execute(
                    sa_select(
                        _OUTBOX.c.key,
                        _OUTBOX.c.record_id,
                        _OUTBOX.c.kind,
                        _OUTBOX.c.field,
                        _OUTBOX.c.status,
                        _OUTBOX.c.run_id,
                        _OUTBOX.c.value,
                        _OUTBOX.c.created_at,
                    ).where(_OUTBOX.c.connection == connection, key_in(_OUTBOX.c.record_id, chunk))
                ):
                    self._items.add(key)
                    if status in LANDED_STATUSES:
                        self._landed.add(key)
                    if kind != "field" or status not in OPEN_STATUSES:
                        continue
                    slot = (connection, record_id, name)
                    # A send of an earlier run left `sending` (killed, or its answer lost) is
                    # replaced by a newer decision like a pending one; this run's own sends are
                    # in the write-behind's hands.
                    if status != "sending" or run_id != self.run_id:
                        self._open_fields.setdefault(slot, []).append(key)
                    if slot not in self._intended or self._intended[slot][0] <= created:
                        self._intended[slot] = (created, value)

    def intended(self, records: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Handoff's own unconfirmed field values (pending, in flight, to retry) of these
        (connection, record id)s: what each record will hold once they land."""
        wanted = set(records)
        self.prefetch(wanted)
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for (connection, record_id, name), (_, value) in self._intended.items():
            if (connection, record_id) in wanted:
                out.setdefault((connection, record_id), {})[name] = value
        return out

    def _ours(self, connection: str, record_id: str, canonical: str, crm_value: Any) -> bool:
        """The CRM holds a value Handoff sent and has not confirmed yet (the answer was lost):
        our own write, not a human's edit."""
        ours = self._intended.get((connection, record_id, canonical))
        return ours is not None and same_value(ours[1], crm_value)

    def _last_written(self, connection: str, record_id: str, canonical: str) -> tuple[bool, Any]:
        if (connection, record_id) not in self._known:
            self.prefetch([(connection, record_id)])
        key = (connection, record_id, canonical)
        return key in self._written, self._written.get(key)

    def refusal(self, connection: str, object_type: str, canonical: str, value: Any) -> str | None:
        """Why this field can never take this value, whatever the CRM holds (None: it can)."""
        if not self.managed(connection, object_type, canonical):
            return f"{canonical} is not managed on {connection} {object_type}"
        mapping = self.connections[connection].objects[object_type][canonical]
        if mapping.values and str(value) not in mapping.values:
            return f"{connection} has no value for {canonical} '{value}'"
        return None

    def managed(self, connection: str, object_type: str, canonical: str) -> bool:
        mapping = self.connections[connection].objects.get(object_type, {}).get(canonical)
        return bool(mapping and mapping.managed)

    def observe(
        self, connection: str, object_type: str, record_id: str, crm_fields: dict[str, Any]
    ) -> None:
        """Report drift on every managed field a human changed since Handoff last wrote it,
        whether or not this run wants to write that field again."""
        mappings = self.connections[connection].objects.get(object_type, {})
        for canonical, mapping in mappings.items():
            if not mapping.managed:
                continue
            has_written, last_written = self._last_written(connection, record_id, canonical)
            crm_value = crm_fields.get(canonical)
            if has_written and not same_in_crm(mapping, last_written, crm_value):
                self._drift(
                    Drift(
                        connection,
                        object_type,
                        record_id,
                        canonical,
                        crm_value,
                        last_written,
                        None,
                        mapping.drift,
                    )
                )

    def _drift(self, drift: Drift) -> None:
        slot = (drift.connection, drift.record_id, drift.field)
        if slot in self._drift_seen:
            if drift.wanted is not None:  # keep the version that knows what Handoff wanted
                self.drifts = [
                    d for d in self.drifts if (d.connection, d.record_id, d.field) != slot
                ]
                self.drifts.append(drift)
            return
        self._drift_seen.add(slot)
        self.drifts.append(drift)

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
        by_sales: bool = False,
    ) -> bool:
        """Plan `canonical = value` unless the CRM holds it already or a human owns it now.
        `by_sales`: the value carries out what a person decided after their own edit (sales'
        rejection with a reason code), so their edit of the field is no reason to hold it."""
        self.refused = None
        why = self.refusal(connection, object_type, canonical, value)
        if why is not None and not self.managed(connection, object_type, canonical):
            self.refused = why
            return False
        mapping = self.connections[connection].objects[object_type][canonical]
        if same_in_crm(mapping, value, crm_value):
            return False
        if why is not None:
            # The config gives this CRM no value for it: a config gap, not a write to retry.
            self.unmappable[(connection, object_type, canonical, str(value))] += 1
            self.refused = why
            return False
        has_written, last_written = self._last_written(connection, record_id, canonical)
        if has_written and not same_in_crm(mapping, last_written, crm_value):
            drift = Drift(
                connection,
                object_type,
                record_id,
                canonical,
                crm_value,
                last_written,
                value,
                mapping.drift,
            )
            self._drift(drift)
            if mapping.drift == "crm_wins" and not by_sales:
                self.refused = f"a person changed {canonical} in {connection} (crm_wins)"
                return False
        key = outbox_key(connection, object_type, record_id, "field", canonical, value)
        if key in self._landed and (by_sales or not same_value(last_written, value)):
            key = outbox_key(key, self.run_id)  # wanted again after it was replaced: anew
        return self._add(
            dict(
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
            )
        )

    def _settled(self, connection: str, record_id: str, canonical: str, value: Any) -> None:
        """The CRM holds the decided value already: an open older write of another value for the
        field would overwrite it once sent, so it is superseded."""
        if (connection, record_id) not in self._known:
            self.prefetch([(connection, record_id)])
        slot = (connection, record_id, canonical)
        ours = self._intended.get(slot)
        if ours is None or same_value(ours[1], value):
            return
        self._superseded += self._open_fields.pop(slot, [])
        del self._intended[slot]

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
    ) -> bool:
        key = outbox_key(connection, object_type, record_id, "task", task_key)
        payload = {
            "task_key": task_key,
            "owner_id": owner_id,
            "subject": subject,
            "body": body,
            "due_at": due_at.isoformat(),
        }
        return self._add(
            dict(
                key=key,
                run_id=self.run_id,
                connection=connection,
                object_type=object_type,
                record_id=record_id,
                kind="task",
                field="task",
                value=subject,
                previous=None,
                payload=payload,
                reason=reason,
            )
        )

    def post_webhook(
        self,
        object_type: str,
        record_id: str,
        *,
        key_seed: str,
        message: dict[str, Any],
        reason: str,
    ) -> bool:
        """A post to `sla.webhook_url` (the message only: the URL is read when sending)."""
        return self._add(
            dict(
                key=outbox_key(WEBHOOK_CONNECTION, key_seed),
                run_id=self.run_id,
                connection=WEBHOOK_CONNECTION,
                object_type=object_type,
                record_id=record_id,
                kind="webhook",
                field="webhook",
                value=message["text"],
                previous=None,
                payload=message,
                reason=reason,
            )
        )

    def _add(self, row: dict[str, Any]) -> bool:
        scope = (row["connection"], row["record_id"])
        if scope not in self._known:
            self.prefetch([scope])
        if row["key"] in self._items or row["key"] in self._new:
            return False  # the same decision is already planned or applied
        if row["kind"] == "field":
            slot = (row["connection"], row["record_id"], row["field"])
            self._superseded += self._open_fields.pop(slot, [])
            earlier = self._new_by_field.pop(slot, None)
            if earlier is not None:  # a later decision in this same run wins
                self._new[earlier]["status"] = "superseded"
            self._new_by_field[slot] = row["key"]
            self._intended[slot] = (self.now, row["value"])
        row.update(status="pending", attempts=0, created_at=self.now)
        self._new[row["key"]] = row
        return True

    def flush(self) -> None:
        """Write this run's new outbox rows (one statement); call before commit or recording."""
        rows = list(self._new.values())
        if rows:
            insert_ignore(self.session, OutboxItem, rows)
        superseded, self._superseded = self._superseded, []
        for start in range(0, len(superseded), 500):
            self.session.connection().execute(
                update(_OUTBOX)
                .where(key_in(_OUTBOX.c.key, superseded[start : start + 500]))
                .values(status="superseded")
            )
        self.planned.extend(PlannedChange.from_row(r) for r in rows if r["status"] == "pending")
        self._new.clear()
        self._new_by_field.clear()
        # what was read for these records is in the store now: read again if a record comes
        # back (memory stays one chunk deep however large the run)
        self._items.clear()
        self._landed.clear()
        self._written.clear()
        self._open_fields.clear()
        self._intended.clear()
        self._known.clear()
