"""Which outbox items are due to be sent, and the writer's chunks of them: whole records,
`size` records a chunk, read a page of keys at a time (sync/apply.py sends them)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import or_, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync.store.key_in import key_in
from sync.store.tables import OutboxItem

KEYS_PAGE = 5000  # due outbox keys read per query (record_chunks)


def _pending(one_person: bool) -> Any:
    """`status = 'pending'`; for one person's writes (the fast path) written so that no index can
    serve it: the status index (status, connection) gives every pending item of the connection
    (~145,000 while a 100,000-contact bulk run's writes wait), and SQLite, which has no
    statistics, took it over the run id and record indexes. `status || ''` leaves them those."""
    status = col(OutboxItem.status)
    return (status.concat("") if one_person else status) == "pending"


def _due(
    now: datetime,
    run_id: str = "",
    final: bool = True,
    record_ids: Collection[str] | None = None,
    one_person: bool = False,
) -> Any:
    """Due now: pending, interrupted (`sending`) or rejected and due for a retry. Not final: only
    this run's pending items. Final: all of them but this run's own unconfirmed sends.
    `record_ids`: one person's pending field writes, whichever run planned them (the fast path:
    a person a bulk run decided a moment ago has their owner in the CRM before their task).
    `one_person`: a run for one person (few items): read by run id, not by status (`_pending`)."""
    if record_ids is not None:
        return (
            _pending(one_person=True)
            & (col(OutboxItem.kind) == "field")
            & key_in(col(OutboxItem.record_id), sorted(record_ids))
        )
    if not final:
        return _pending(one_person) & (col(OutboxItem.run_id) == run_id)
    due = or_(
        col(OutboxItem.status).in_(("pending", "sending")),
        (col(OutboxItem.status) == "rejected") & (col(OutboxItem.next_attempt_at) <= now),
    )
    if run_id:
        due = due & ~((col(OutboxItem.status) == "sending") & (col(OutboxItem.run_id) == run_id))
    return due


def due_items(session: Session, now: datetime, connection: str | None = None) -> list[OutboxItem]:
    """Items to write now: pending, interrupted (`sending`), or rejected and due for a retry."""
    query = select(OutboxItem).where(_due(now))
    if connection is not None:
        query = query.where(OutboxItem.connection == connection)
    return list(session.exec(query.order_by(col(OutboxItem.connection), col(OutboxItem.key))).all())


def record_chunks(
    engine: Engine,
    now: datetime,
    connection: str,
    run_id: str,
    final: bool,
    size: int,
    record_ids: Collection[str] | None = None,
    one_person: bool = False,
) -> Iterator[list[str]]:
    """Keys of the due items of `connection`, grouped by record, `size` records per chunk; when
    not final, the last partial chunk waits for a later call (so every batch call is full).

    Read as the chunks are used, `KEYS_PAGE` rows a query (keyset on the sort order, a session
    each): a final write after a 100,000-contact routing pass has ~100,000 items due, and their
    keys all at once grew the worker by ~12 MB at the run's end. An item planned meanwhile is
    sent now if it sorts after the page in hand, else by the next write (as before: the next)."""
    columns: tuple[Any, ...] = (OutboxItem.object_type, OutboxItem.record_id, OutboxItem.key)
    order = (col(OutboxItem.object_type), col(OutboxItem.record_id), col(OutboxItem.key))
    chunk: list[str] = []
    records = 0
    last: tuple[str, str] | None = None
    after: tuple[str, str, str] | None = None
    while True:
        query = sa_select(*columns).where(
            _due(now, run_id, final, record_ids, one_person),
            col(OutboxItem.connection) == connection,
        )
        if after is not None:
            query = query.where(tuple_(*order) > tuple_(*after))
        with Session(engine) as session:
            page = session.execute(query.order_by(*order).limit(KEYS_PAGE)).all()
        for object_type, record_id, key in page:
            if (object_type, record_id) != last:
                if records == size:
                    yield chunk
                    chunk, records = [], 0
                records += 1
                last = (object_type, record_id)
            chunk.append(key)
        if len(page) < KEYS_PAGE:
            break
        after = tuple(page[-1])
    if chunk and (final or records == size):
        yield chunk
