"""Applying the outbox: the live writer, and the recorder a dry run swaps in for it.

At-least-once with idempotent effects: after a crash anywhere the next run resends what was not
settled. Tasks and webhook posts are marked `sending` (committed) before the call, so a resent
task looks its key up first; a field write is idempotent, so it is only written once, when its
outcome is known (status and attempt together: one row version per item instead of two). A field
write whose outcome is unknown is marked `sending` then, so this run does not send it again.

Items are sent grouped by record (all of a record's fields in one batch input), in chunks of whole
records, so a run costs ceil(records / batch size) write calls. While the run is still deciding,
`write(final=False)` sends only this run's new items and only whole chunks (write-behind); the
run's last `write()` sends everything due, except what this run already tried and could not
confirm (an unknown outcome is retried, with a lookup, by the next run, never twice in one).
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

import structlog
from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlalchemy.engine import Engine, Row
from sqlmodel import Session

from config.connections import Connection
from connectors.base import CrmConnector
from connectors.errors import ConnectorError, FatalError, QuotaExhaustedError
from connectors.records import FieldChange, TaskRequest
from sync.due_items import due_items, record_chunks
from sync.planned_change import PlannedChange
from sync.settle import RetryPolicy, SentChunk, outbox_columns, settle
from sync.store.key_in import key_in
from sync.store.tables import OutboxItem
from sync.webhooks import WEBHOOK_CONNECTION, WebhookSender

log = structlog.get_logger("handoff.apply")

RECORDS_PER_CHUNK = 1000  # whole batches for HubSpot (100) and Salesforce collections (200)
KEYS_PER_QUERY = 500  # outbox keys per IN (...) list
_OUTBOX: Any = OutboxItem.__table__  # type: ignore[attr-defined]
_SEND_COLUMNS = outbox_columns("payload")  # a task's or post's request


@dataclass
class WriteSummary:
    counts: Counter[str] = field(default_factory=Counter)  # applied, unchanged, rejected, dead, ...
    items: list[PlannedChange] = field(default_factory=list)  # what was (or would be) written
    errors: list[str] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)  # connection -> why it stopped
    sink: Callable[[PlannedChange], None] | None = None  # the run's ledger: items go to disk

    def keep(self, change: PlannedChange) -> None:
        """Record what was written: in the run's ledger when it has one, else in `items`."""
        if self.sink is not None:
            self.sink(change)
        else:
            self.items.append(change)

    def add(self, other: WriteSummary) -> None:
        """Fold a later write of the same run into this one."""
        self.counts.update(other.counts)
        self.items += other.items
        self.errors += other.errors
        self.stopped.update(other.stopped)


class OutboxWriter(Protocol):
    sink: Callable[[PlannedChange], None] | None

    def write(
        self, session: Session, now: datetime, *, run_id: str = "", final: bool = True
    ) -> WriteSummary: ...


def to_change(item: OutboxItem | Row[Any]) -> FieldChange:
    # names repeated on every item of a chunk (a handful) are shared, not one copy per row
    return FieldChange(
        connection=sys.intern(item.connection),
        object_type=sys.intern(item.object_type),
        record_id=item.record_id,  # not interned: the interned table grows with the records
        field=sys.intern(item.field),
        value=item.value,
        key=item.key,
        previous=item.previous,
        clear_first=bool(item.payload.get("clear_first")),
    )


def to_task(item: OutboxItem | Row[Any], resend: bool) -> TaskRequest:
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
    """The writer of a dry run: records what would be written (at the run's end), touches no CRM."""

    sink: Callable[[PlannedChange], None] | None = None

    def write(
        self, session: Session, now: datetime, *, run_id: str = "", final: bool = True
    ) -> WriteSummary:
        summary = WriteSummary(sink=self.sink)
        if not final:
            return summary
        for item in due_items(session, now):
            summary.keep(PlannedChange.of(item, settled="would_write"))
            summary.counts["would_write"] += 1
        return summary


class CrmApplier:
    """The live writer: applies due outbox items through each connection's connector."""

    sink: Callable[[PlannedChange], None] | None = None

    def __init__(
        self,
        engine: Engine,
        connectors: Mapping[str, CrmConnector],
        *,
        max_attempts: int = 5,
        retry_backoff: timedelta = timedelta(minutes=10),
        stopping: threading.Event | None = None,
        webhook: WebhookSender | None = None,
        connections: Mapping[str, Connection] | None = None,
    ) -> None:
        self.webhook = webhook
        self.connections = connections or {}  # field mappings: how our writes read back
        self.stopping = stopping or threading.Event()
        self.engine = engine
        self.connectors = connectors
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.chunk_records: int | None = None  # records per write chunk; None: the connector's
        self.stopped: set[str] = set()

    def write(
        self, session: Session, now: datetime, *, run_id: str = "", final: bool = True
    ) -> WriteSummary:
        session.commit()  # the decisions land before any CRM call
        return self.send(now, run_id=run_id, final=final)

    def send(
        self,
        now: datetime,
        *,
        run_id: str = "",
        final: bool = True,
        record_ids: Collection[str] | None = None,
        one_person: bool = False,
    ) -> WriteSummary:
        """Apply the due outbox items (committed ones: every step has its own session, so this
        may run in a thread of its own while decisions go on); `record_ids`, `one_person`: see
        `_due` (sync/due_items.py)."""
        summary = WriteSummary(sink=self.sink)
        targets: list[tuple[str, CrmConnector | None]] = sorted(self.connectors.items())
        if final and self.webhook is not None:
            targets.append((WEBHOOK_CONNECTION, None))  # escalation posts, after the CRM writes
        for name, connector in targets:
            if name in self.stopped:  # quota spent or fatal earlier in this run
                continue
            try:
                self._write_connection(
                    name, connector, now, summary, run_id, final, record_ids, one_person
                )
            except QuotaExhaustedError as exc:
                self.stopped.add(name)
                summary.stopped[name] = f"daily API quota spent, resumes next run: {exc}"
                log.warning("apply.quota_exhausted", connection=name)
            except FatalError as exc:
                self.stopped.add(name)
                summary.stopped[name] = str(exc)
                summary.errors.append(str(exc))
                log.error("apply.fatal", connection=name, error=str(exc))
            except ConnectorError as exc:  # retries exhausted: the next run resumes
                self.stopped.add(name)
                summary.stopped[name] = f"gave up for this run: {exc}"
                summary.errors.append(str(exc))
                log.warning("apply.interrupted", connection=name, error=str(exc))
        return summary

    def _write_connection(
        self,
        name: str,
        connector: CrmConnector | None,
        now: datetime,
        summary: WriteSummary,
        run_id: str,
        final: bool,
        record_ids: Collection[str] | None = None,
        one_person: bool = False,
    ) -> None:
        size = self.chunk_records or int(
            getattr(connector, "write_chunk_records", RECORDS_PER_CHUNK)
        )
        # a chunk's outcomes are settled in the store on a thread of their own while the next
        # chunk is read and sent: the settling (the store's round trips) and the CRM's answers
        # overlap. One chunk settles at a time; all have settled when this returns.
        settled: Future[None] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-settle") as settler:
            try:
                for chunk in record_chunks(
                    self.engine, now, name, run_id, final, size, record_ids, one_person
                ):
                    if self.stopping.is_set():  # leave the rest pending for the next run
                        return
                    sent = self._send_chunk(chunk, connector, now)
                    if settled is not None:
                        settled.result()
                    settled = settler.submit(
                        contextvars.copy_context().run, partial(self._settle, sent, now, summary)
                    )
            finally:
                if settled is not None:
                    settled.result()

    def _send_chunk(
        self, chunk: list[str], connector: CrmConnector | None, now: datetime
    ) -> SentChunk:
        """Read a chunk's items, mark the ones that are not idempotent, send them all: the keys
        sent and their outcomes. Rows are read a page of keys at a time and let go once their
        requests are made (settling reads them again, sync/settle.py): a chunk's rows all at
        once were ~8 MB more than its requests."""
        changes: list[FieldChange] = []
        tasks: list[tuple[str, str, TaskRequest]] = []  # key, record, request
        posts: list[tuple[str, str, dict[str, Any]]] = []
        # Core rows and statements: a chunk is thousands of field items, ORM objects cost more
        # than the CRM call here
        with Session(self.engine) as session:
            connection = session.connection()
            for start in range(0, len(chunk), KEYS_PER_QUERY):
                keys = chunk[start : start + KEYS_PER_QUERY]
                by_key = {
                    row.key: row
                    for row in connection.execute(
                        sa_select(*_SEND_COLUMNS).where(key_in(_OUTBOX.c.key, keys))
                    ).all()  # fetched at once: row by row cost more than the query
                }
                for i in (by_key[key] for key in keys if key in by_key):
                    if i.kind == "webhook":
                        posts.append((i.key, i.record_id, dict(i.payload)))
                    elif connector is None:  # the webhook pseudo-connection has nothing else
                        continue
                    elif i.kind == "field":
                        changes.append(to_change(i))
                    else:  # resent: looked up first (a crash may have made it)
                        resend = i.status == "sending" or i.attempts > 0
                        tasks.append((i.key, i.record_id, to_task(i, resend)))
            marked = [key for key, _, _ in tasks] + [key for key, _, _ in posts]
            for start in range(0, len(marked), KEYS_PER_QUERY):  # a crash means "look up"
                connection.execute(
                    update(_OUTBOX)
                    .where(key_in(_OUTBOX.c.key, marked[start : start + KEYS_PER_QUERY]))
                    .values(status="sending", attempts=_OUTBOX.c.attempts + 1)
                )
            session.commit()
        sent = SentChunk()  # settled in this order: fields, tasks, posts
        for change in changes:
            sent.add(change.key, change.record_id)
        for key, record_id, _ in (*tasks, *posts):
            sent.add(key, record_id)
        if posts and self.webhook is not None:
            sent.outcomes += self.webhook.post([(key, payload) for key, _, payload in posts])
        if changes and connector is not None:
            sent.outcomes += connector.apply_changes(changes)
        if tasks and connector is not None:
            outbox_key_of = {r.task_key: key for key, _, r in tasks}
            sent.outcomes += [
                replace(o, key=outbox_key_of.get(o.key, o.key))
                for o in connector.create_tasks([r for _, _, r in tasks])
            ]
        return sent

    def _settle(self, sent: SentChunk, now: datetime, summary: WriteSummary) -> None:
        settle(
            self.engine,
            sent,
            now,
            summary,
            RetryPolicy(self.max_attempts, self.retry_backoff),
            self.connections,
        )
