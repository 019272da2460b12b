"""Applying the outbox: the live writer, and the recorder a dry run swaps in for it.

At-least-once with idempotent effects: items are marked `sending` (committed) before the CRM call,
so after a crash anywhere the next run resends them; field writes are idempotent, and task
creation looks its key up first when an earlier attempt's outcome is unknown.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from connectors.base import CrmConnector
from connectors.errors import ConnectorError, FatalError, QuotaExhaustedError
from connectors.records import FieldChange, OutcomeStatus, TaskRequest, WriteOutcome
from sync.outbox import PlannedChange
from sync.store.tables import OutboxItem, WrittenValue
from sync.store.upsert import upsert

log = structlog.get_logger("handoff.apply")

CHUNK = 1000


@dataclass
class WriteSummary:
    counts: Counter[str] = field(default_factory=Counter)  # applied, unchanged, rejected, dead, ...
    items: list[PlannedChange] = field(default_factory=list)  # what was (or would be) written
    errors: list[str] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)  # connection -> why it stopped


class OutboxWriter(Protocol):
    def write(self, session: Session, now: datetime) -> WriteSummary: ...


def due_items(session: Session, now: datetime, connection: str | None = None) -> list[OutboxItem]:
    """Items to write now: pending, interrupted (`sending`), or rejected and due for a retry."""
    query = select(OutboxItem).where(
        or_(
            col(OutboxItem.status).in_(("pending", "sending")),
            (col(OutboxItem.status) == "rejected") & (col(OutboxItem.next_attempt_at) <= now),
        )
    )
    if connection is not None:
        query = query.where(OutboxItem.connection == connection)
    return list(session.exec(query.order_by(col(OutboxItem.connection), col(OutboxItem.key))).all())


def to_change(item: OutboxItem) -> FieldChange:
    return FieldChange(
        connection=item.connection,
        object_type=item.object_type,
        record_id=item.record_id,
        field=item.field,
        value=item.value,
        key=item.key,
        previous=item.previous,
        clear_first=bool(item.payload.get("clear_first")),
    )


def to_task(item: OutboxItem, resend: bool) -> TaskRequest:
    p = item.payload
    return TaskRequest(
        connection=item.connection,
        object_type=item.object_type,
        record_id=item.record_id,
        owner_id=str(p["owner_id"]),
        subject=str(p["subject"]),
        body=str(p["body"]),
        due_at=datetime.fromisoformat(str(p["due_at"])),
        task_key=str(p["task_key"]),
        resend=resend,
    )


class DryRunRecorder:
    """The writer of a dry run: records what would be written, touches no CRM."""

    def write(self, session: Session, now: datetime) -> WriteSummary:
        summary = WriteSummary()
        for item in due_items(session, now):
            summary.items.append(PlannedChange.of(item))
            summary.counts["would_write"] += 1
        return summary


class CrmApplier:
    """The live writer: applies due outbox items through each connection's connector."""

    def __init__(
        self,
        engine: Engine,
        connectors: Mapping[str, CrmConnector],
        *,
        max_attempts: int = 5,
        retry_backoff: timedelta = timedelta(minutes=10),
        stopping: threading.Event | None = None,
    ) -> None:
        self.stopping = stopping or threading.Event()
        self.engine = engine
        self.connectors = connectors
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff

    def write(self, session: Session, now: datetime) -> WriteSummary:
        session.commit()  # the decisions land before any CRM call
        summary = WriteSummary()
        for name, connector in sorted(self.connectors.items()):
            try:
                self._write_connection(name, connector, now, summary)
            except QuotaExhaustedError as exc:
                summary.stopped[name] = f"daily API quota spent, resumes next run: {exc}"
                log.warning("apply.quota_exhausted", connection=name)
            except FatalError as exc:
                summary.stopped[name] = str(exc)
                summary.errors.append(str(exc))
                log.error("apply.fatal", connection=name, error=str(exc))
            except ConnectorError as exc:  # retries exhausted: the next run resumes
                summary.stopped[name] = f"gave up for this run: {exc}"
                summary.errors.append(str(exc))
                log.warning("apply.interrupted", connection=name, error=str(exc))
        return summary

    def _write_connection(
        self, name: str, connector: CrmConnector, now: datetime, summary: WriteSummary
    ) -> None:
        with Session(self.engine) as session:
            keys = [item.key for item in due_items(session, now, name)]
        for start in range(0, len(keys), CHUNK):
            if self.stopping.is_set():  # leave the rest pending for the next run
                return
            with Session(self.engine) as session:
                chunk = keys[start : start + CHUNK]
                found = session.exec(select(OutboxItem).where(col(OutboxItem.key).in_(chunk))).all()
                by_key = {item.key: item for item in found}
                items = [by_key[key] for key in chunk if key in by_key]
                interrupted = {i.key for i in items if i.status == "sending"}
                for item in items:  # mark before sending: a crash from here on means "resend"
                    item.status = "sending"
                    item.attempts += 1
                    session.add(item)
                session.commit()
                fields = [i for i in items if i.kind == "field"]
                tasks = [i for i in items if i.kind == "task"]
                outcomes: list[WriteOutcome] = []
                if fields:
                    outcomes += connector.apply_changes([to_change(i) for i in fields])
                if tasks:
                    requests = [to_task(i, i.key in interrupted or i.attempts > 1) for i in tasks]
                    outbox_key_of = {
                        r.task_key: i.key for r, i in zip(requests, tasks, strict=True)
                    }
                    outcomes += [
                        replace(o, key=outbox_key_of.get(o.key, o.key))
                        for o in connector.create_tasks(requests)
                    ]
                self._record(session, fields + tasks, outcomes, now, summary)
                session.commit()

    def _record(
        self,
        session: Session,
        items: Sequence[OutboxItem],
        outcomes: Sequence[WriteOutcome],
        now: datetime,
        summary: WriteSummary,
    ) -> None:
        by_key = {o.key: o for o in outcomes}
        written: list[dict[str, object]] = []
        for item in items:
            outcome = by_key.get(item.key)
            if outcome is None or outcome.status is OutcomeStatus.UNKNOWN:
                summary.counts["unknown"] += 1  # stays `sending`: resent (with lookup) next run
                continue
            if outcome.ok:
                item.status = "applied" if outcome.status is OutcomeStatus.APPLIED else "unchanged"
                item.applied_at = now
                item.last_error = None
                if item.kind == "field":
                    written.append(
                        {
                            "connection": item.connection,
                            "record_id": item.record_id,
                            "field": item.field,
                            "value": item.value,
                            "written_at": now,
                        }
                    )
                summary.items.append(PlannedChange.of(item))
            else:
                item.last_error = outcome.error
                if item.attempts >= self.max_attempts:
                    item.status = "dead"
                else:
                    item.status = "rejected"
                    item.next_attempt_at = now + self.retry_backoff * (2 ** (item.attempts - 1))
            summary.counts[item.status] += 1
            session.add(item)
        upsert(session, WrittenValue, written)  # what Handoff last wrote: how drift is told
