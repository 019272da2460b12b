"""The fast path's outbox reads touch only its person's items (sync/only.py `_write_this_run`).

A fast-path decision ends by sending its own run's items, then the field writes other runs left
pending for the person's records. While a bulk run's writes wait, the outbox holds ~145,000
pending items of the connection; read through the status index (status, connection), as SQLite
chose with no statistics, each of those two reads went through all of them. The reads now go by
the run id and record indexes (EXPLAIN QUERY PLAN on SQLite), and send the same items as before:
the run's own, and the bulk run's pending field write for the person; nobody else's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from connectors.records import FieldChange, OutcomeStatus, TaskRequest, WriteOutcome
from sync.apply import CrmApplier
from sync.only import _write_this_run
from sync.pipeline import RunResult
from sync.store.tables import OutboxItem

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PERSON = "p-1"  # the person's contact record
FAST_RUN = "20261206T120000Z-live-only-hubspot-1"


class Recorder:
    """A connector that takes every write and remembers what it was sent, in order."""

    write_chunk_records = 100

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []  # (kind, record id, field or task key)

    def apply_changes(self, changes: Sequence[FieldChange]) -> Sequence[WriteOutcome]:
        self.sent += [("field", c.record_id, c.field) for c in changes]
        return [WriteOutcome(c.key, OutcomeStatus.APPLIED) for c in changes]

    def create_tasks(self, tasks: Sequence[TaskRequest]) -> Sequence[WriteOutcome]:
        self.sent += [("task", t.record_id, t.task_key) for t in tasks]
        return [WriteOutcome(t.task_key, OutcomeStatus.APPLIED) for t in tasks]


def _item(key: str, run_id: str, record_id: str, kind: str = "field", **kw: Any) -> OutboxItem:
    payload = (
        {
            "owner_id": "o-1",
            "subject": "Call",
            "body": "",
            "due_at": NOW.isoformat(),
            "task_key": key,
        }
        if kind == "task"
        else {}
    )
    return OutboxItem(
        key=key,
        run_id=run_id,
        connection="hubspot",
        object_type="contact",
        record_id=record_id,
        kind=kind,
        field=kw.get("field", "hubspot_owner_id" if kind == "field" else ""),
        value="o-1",
        payload=payload,
        created_at=NOW,
    )


def _seed(engine: Engine) -> None:
    with Session(engine) as session:
        for n in range(300):  # the bulk run's writes, waiting for their chunk
            session.add(_item(f"bulk-{n:03d}", "bulk", f"c-{n:03d}"))
        session.add(_item("bulk-owner", "bulk", PERSON))  # decided by the bulk run, not sent
        session.add(_item("bulk-task", "bulk", PERSON, kind="task"))  # the bulk run's own
        session.add(_item("fast-score", FAST_RUN, PERSON, field="handoff_score"))
        session.add(_item("fast-task", FAST_RUN, PERSON, kind="task"))
        session.commit()


def test_the_fast_path_reads_only_its_persons_outbox_items(engine: Engine) -> None:
    _seed(engine)
    crm = Recorder()
    writer = CrmApplier(engine, {"hubspot": crm})  # type: ignore[dict-item]
    reads: list[tuple[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "ORDER BY" in statement:
            reads.append((statement, params))  # the due-key reads (sync/apply.py record_chunks)

    event.listen(engine, "before_cursor_execute", remember)
    try:
        result = RunResult(run_id=FAST_RUN, as_of=NOW, dry_run=False)
        sent = _write_this_run(None, writer, result)  # type: ignore[arg-type]
        sent.add(_write_this_run(None, writer, result, {PERSON}))  # type: ignore[arg-type]
    finally:
        event.remove(engine, "before_cursor_execute", remember)

    # the same writes as before: the run's own, then the person's pending field write
    assert crm.sent == [
        ("field", PERSON, "handoff_score"),
        ("task", PERSON, "fast-task"),
        ("field", PERSON, "hubspot_owner_id"),
    ]
    assert sent.counts["applied"] == 3
    with Session(engine) as session:
        pending = session.exec(select(OutboxItem.key).where(OutboxItem.status == "pending")).all()
    assert sorted(pending) == sorted([*(f"bulk-{n:03d}" for n in range(300)), "bulk-task"])

    assert len(reads) == 2  # one page each
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL plans by its statistics; SQLite has none and took the status index
    with engine.connect() as conn:
        for statement, params in reads:
            plan = " ".join(
                str(row[-1])
                for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            )
            assert "ix_outbox_status" not in plan, plan
            assert "ix_outbox_run_id (run_id=?)" in plan or (
                "ix_outbox_record (connection=? AND record_id=?)" in plan
            ), plan
