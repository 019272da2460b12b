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
import threading
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

import structlog
from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine, Row
from sqlmodel import Session

from config.connections import Connection
from connectors.base import CrmConnector
from connectors.errors import ConnectorError, FatalError, QuotaExhaustedError
from connectors.records import FieldChange, OutcomeStatus, TaskRequest, WriteOutcome
from sync.crm_values import as_read_back
from sync.due_items import due_items, record_chunks
from sync.echo import Echo, remember_echoes
from sync.planned_change import PlannedChange
from sync.store.key_in import key_in
from sync.store.tables import OutboxItem, WrittenValue
from sync.store.upsert import upsert
from sync.webhooks import WEBHOOK_CONNECTION, WebhookSender

log = structlog.get_logger("handoff.apply")

RECORDS_PER_CHUNK = 1000  # whole batches for HubSpot (100) and Salesforce collections (200)
KEYS_PER_QUERY = 500  # outbox keys per IN (...) list
_OUTBOX: Any = OutboxItem.__table__  # type: ignore[attr-defined]
# what sending and settling an item read: not its run, error or times (a chunk is ~10,000 rows)
_SENT_COLUMNS = tuple(
    _OUTBOX.c[name]
    for name in (
        "key",
        "connection",
        "object_type",
        "record_id",
        "kind",
        "field",
        "value",
        "previous",
        "payload",
        "reason",
        "status",
        "attempts",
    )
)
_SETTLE = (
    update(_OUTBOX)
    .where(_OUTBOX.c.key == bindparam("k"))
    .values(
        status=bindparam("s_status"),
        applied_at=bindparam("s_applied_at"),
        last_error=bindparam("s_error"),
        next_attempt_at=bindparam("s_next"),
        attempts=bindparam("s_attempts"),
    )
)
_Sent = tuple[list[Any], dict[str, int], list[WriteOutcome]]  # a chunk's items, attempts, outcomes
MARKED_FIRST = ("task", "webhook")  # not idempotent: `sending` (committed) before the call


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

    def _send_chunk(self, chunk: list[str], connector: CrmConnector | None, now: datetime) -> _Sent:
        """Read a chunk's items, mark the ones that are not idempotent, send them all: the
        items, their attempts, the outcomes."""
        # Core rows and statements: a chunk is thousands of field items, ORM objects cost more
        # than the CRM call here
        with Session(self.engine) as session:
            connection = session.connection()
            by_key = {
                row.key: row
                for start in range(0, len(chunk), KEYS_PER_QUERY)
                for row in connection.execute(
                    sa_select(*_SENT_COLUMNS).where(
                        key_in(_OUTBOX.c.key, chunk[start : start + KEYS_PER_QUERY])
                    )
                ).all()  # fetched at once: row by row cost more than the query
            }
            items = [by_key[key] for key in chunk if key in by_key]
            interrupted = {i.key for i in items if i.status == "sending"}
            attempts = {i.key: i.attempts + 1 for i in items}
            marked = [i.key for i in items if i.kind in MARKED_FIRST]
            for start in range(0, len(marked), KEYS_PER_QUERY):  # a crash means "look up"
                connection.execute(
                    update(_OUTBOX)
                    .where(key_in(_OUTBOX.c.key, marked[start : start + KEYS_PER_QUERY]))
                    .values(status="sending", attempts=_OUTBOX.c.attempts + 1)
                )
            session.commit()
            fields = [i for i in items if i.kind == "field"]
            tasks = [i for i in items if i.kind == "task"]
            posts = [i for i in items if i.kind == "webhook"]
            outcomes: list[WriteOutcome] = []
            if posts and self.webhook is not None:
                outcomes += self.webhook.post([(i.key, dict(i.payload)) for i in posts])
            if connector is None:  # the webhook pseudo-connection has nothing else
                fields = tasks = []
            if fields and connector is not None:
                outcomes += connector.apply_changes([to_change(i) for i in fields])
            if tasks and connector is not None:
                requests = [to_task(i, i.key in interrupted or attempts[i.key] > 1) for i in tasks]
                outbox_key_of = {r.task_key: i.key for r, i in zip(requests, tasks, strict=True)}
                outcomes += [
                    replace(o, key=outbox_key_of.get(o.key, o.key))
                    for o in connector.create_tasks(requests)
                ]
            return fields + tasks + posts, attempts, outcomes

    def _settle(self, sent: _Sent, now: datetime, summary: WriteSummary) -> None:
        items, attempts, outcomes = sent
        with Session(self.engine) as session:
            self._record(session, items, attempts, outcomes, now, summary)
            session.commit()

    def _record(
        self,
        session: Session,
        items: Sequence[Any],
        attempts: Mapping[str, int],
        outcomes: Sequence[WriteOutcome],
        now: datetime,
        summary: WriteSummary,
    ) -> None:
        """Settle each sent item by its outcome (rows of the outbox table, as sent)."""
        by_key = {o.key: o for o in outcomes}
        written: list[dict[str, object]] = []
        echoes: dict[tuple[str, str], Echo] = {}
        settled: list[dict[str, object]] = []
        settled_items: list[Any] = []
        unknown: list[str] = []  # field writes not marked before the call: `sending` now
        for item in items:
            outcome = by_key.get(item.key)
            if outcome is None or outcome.status is OutcomeStatus.UNKNOWN:
                summary.counts["unknown"] += 1  # stays `sending`: resent (with lookup) next run
                if item.kind not in MARKED_FIRST:
                    unknown.append(item.key)
                continue
            row: dict[str, object] = {
                "k": item.key,
                "s_applied_at": None,
                "s_next": None,
                "s_attempts": attempts[item.key],
            }
            if outcome.ok:
                status = "applied" if outcome.status is OutcomeStatus.APPLIED else "unchanged"
                row.update(s_status=status, s_applied_at=now, s_error=None)
                if item.kind == "field" and outcome.modified_at is not None:
                    echo = echoes.setdefault(
                        (item.connection, item.record_id), Echo(outcome.modified_at)
                    )
                    echo.stamp = max(echo.stamp, outcome.modified_at)
                    echo.fields[item.field] = as_read_back(self.connections, item)
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
                summary.keep(PlannedChange.of(item, settled=status))
            elif attempts[item.key] >= self.max_attempts:
                row.update(s_status="dead", s_error=outcome.error)
            else:
                backoff = self.retry_backoff * (2 ** (attempts[item.key] - 1))
                row.update(s_status="rejected", s_error=outcome.error, s_next=now + backoff)
            summary.counts[str(row["s_status"])] += 1
            settled.append(row)
            settled_items.append(item)
        link = session.connection()
        for start in range(0, len(unknown), KEYS_PER_QUERY):
            link.execute(
                update(_OUTBOX)
                .where(key_in(_OUTBOX.c.key, unknown[start : start + KEYS_PER_QUERY]))
                .values(status="sending", attempts=_OUTBOX.c.attempts + 1)
            )
        for status in ("applied", "unchanged"):  # alike: one UPDATE per 500 keys
            for first in (True, False):  # marked before the call: its attempt is counted
                keys = [
                    row["k"]
                    for row, item in zip(settled, settled_items, strict=True)
                    if row["s_status"] == status and (item.kind in MARKED_FIRST) == first
                ]
                for start in range(0, len(keys), KEYS_PER_QUERY):
                    link.execute(
                        update(_OUTBOX)
                        .where(key_in(_OUTBOX.c.key, keys[start : start + KEYS_PER_QUERY]))
                        .values(
                            status=status,
                            applied_at=now,
                            last_error=None,
                            next_attempt_at=None,
                            attempts=_OUTBOX.c.attempts + (0 if first else 1),
                        )
                    )
        failed = [row for row in settled if row["s_status"] not in ("applied", "unchanged")]
        if failed:  # each with its own error
            link.execute(_SETTLE, failed)
        upsert(session, WrittenValue, written)  # what Handoff last wrote: how drift is told
        remember_echoes(session, echoes)
