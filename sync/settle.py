"""Settling a sent chunk: each item's outcome into the outbox, what landed into the store's
mirror of the CRM (`written_value`, the echo of our write) and into the run's ledger.

A chunk settles on a thread of its own while the writer reads and sends the next one
(sync/apply.py). It keeps only the sent keys and the CRM's outcomes; the items are read again
from the outbox a slice of whole records at a time. Holding the sent rows instead (~10,000 rows,
~8 MB a chunk of 2,000 HubSpot records) put two chunks of rows in memory at once. An item's
key names its value (sync/outbox.py `outbox_key`), so what is read again is what was sent;
only its status and attempts can have moved: a task or webhook post was marked `sending`, its
attempt counted, before its call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from config.connections import Connection
from connectors.records import OutcomeStatus, WriteOutcome
from sync.crm_values import as_read_back
from sync.echo import Echo, remember_echoes
from sync.planned_change import PlannedChange
from sync.store.key_in import key_in
from sync.store.tables import OutboxItem, WrittenValue
from sync.store.upsert import upsert

if TYPE_CHECKING:
    from sync.apply import WriteSummary

MARKED_FIRST = ("task", "webhook")  # not idempotent: `sending` (committed) before the call
SLICE_ITEMS = 500  # items read back a query (whole records: a slice ends where a record does)
_OUTBOX: Any = OutboxItem.__table__  # type: ignore[attr-defined]
# what sending and settling an item read (not its run, error or times: a chunk is ~10,000 rows)
_ITEM = (
    "key",
    "connection",
    "object_type",
    "record_id",
    "kind",
    "field",
    "value",
    "previous",
    "status",
    "attempts",
)


def outbox_columns(*extra: str) -> tuple[Any, ...]:
    """An outbox item's columns as the writer reads them, and `extra`."""
    return tuple(_OUTBOX.c[name] for name in (*_ITEM, *extra))


_SETTLE_COLUMNS = outbox_columns("reason")  # the ledger keeps it
_FAILED = (
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


@dataclass
class SentChunk:
    """What a chunk's send leaves for its settling: keys in the order sent (a record's items
    together), each key's record, and the CRM's outcomes."""

    keys: list[str] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    outcomes: list[WriteOutcome] = field(default_factory=list)

    def add(self, key: str, record_id: str) -> None:
        self.keys.append(key)
        self.records.append(record_id)

    def slices(self) -> list[list[str]]:
        """The keys in runs of about `SLICE_ITEMS`, never splitting a record's items."""
        out: list[list[str]] = []
        start = 0
        while start < len(self.keys):
            end = min(start + SLICE_ITEMS, len(self.keys))
            while end < len(self.keys) and self.records[end] == self.records[end - 1]:
                end += 1
            out.append(self.keys[start:end])
            start = end
        return out


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff: timedelta  # doubled at each attempt

    def attempts_after(self, kind: str, stored: int) -> int:
        """An item's attempts once this send counts: a marked item's is counted already."""
        return stored if kind in MARKED_FIRST else stored + 1


def settle(
    engine: Engine,
    sent: SentChunk,
    now: datetime,
    summary: WriteSummary,
    policy: RetryPolicy,
    connections: Mapping[str, Connection],
) -> None:
    """Settle each sent item by its outcome, a slice of whole records at a time, in one
    transaction."""
    by_key = {o.key: o for o in sent.outcomes}
    with Session(engine) as session:
        link = session.connection()
        for keys in sent.slices():
            found = {
                row.key: row
                for row in link.execute(
                    sa_select(*_SETTLE_COLUMNS).where(key_in(_OUTBOX.c.key, keys))
                ).all()
            }
            rows = [found[key] for key in keys if key in found]
            _settle_slice(session, rows, by_key, now, summary, policy, connections)
        session.commit()


def _settle_slice(
    session: Session,
    items: Sequence[Any],
    by_key: Mapping[str, WriteOutcome],
    now: datetime,
    summary: WriteSummary,
    policy: RetryPolicy,
    connections: Mapping[str, Connection],
) -> None:
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
        attempts = policy.attempts_after(item.kind, item.attempts)
        row: dict[str, object] = {
            "k": item.key,
            "s_applied_at": None,
            "s_next": None,
            "s_attempts": attempts,
        }
        if outcome.ok:
            status = "applied" if outcome.status is OutcomeStatus.APPLIED else "unchanged"
            row.update(s_status=status, s_applied_at=now, s_error=None)
            if item.kind == "field" and outcome.modified_at is not None:
                echo = echoes.setdefault(
                    (item.connection, item.record_id), Echo(outcome.modified_at)
                )
                echo.stamp = max(echo.stamp, outcome.modified_at)
                echo.fields[item.field] = as_read_back(connections, item)
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
        elif attempts >= policy.max_attempts:
            row.update(s_status="dead", s_error=outcome.error)
        else:
            backoff = policy.backoff * (2 ** (attempts - 1))
            row.update(s_status="rejected", s_error=outcome.error, s_next=now + backoff)
        summary.counts[str(row["s_status"])] += 1
        settled.append(row)
        settled_items.append(item)
    link = session.connection()
    if unknown:
        link.execute(
            update(_OUTBOX)
            .where(key_in(_OUTBOX.c.key, unknown))
            .values(status="sending", attempts=_OUTBOX.c.attempts + 1)
        )
    for status in ("applied", "unchanged"):  # alike: one UPDATE a slice
        for first in (True, False):  # marked before the call: its attempt is counted
            keys = [
                row["k"]
                for row, item in zip(settled, settled_items, strict=True)
                if row["s_status"] == status and (item.kind in MARKED_FIRST) == first
            ]
            if keys:
                link.execute(
                    update(_OUTBOX)
                    .where(key_in(_OUTBOX.c.key, keys))
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
        link.execute(_FAILED, failed)
    upsert(session, WrittenValue, written)  # what Handoff last wrote: how drift is told
    remember_echoes(session, echoes)
