"""One person decided on the speed-to-lead fast path, beside whatever else runs.

Both fast paths (HubSpot webhooks: sync/speed.py; Salesforce change events:
sync/change_inbox.py) read the person from the CRM, then, holding the person's decision lock
(sync/person_lock.py), mirror the record into the store as a pull would, decide them with
`handoff sync --only`'s code (sync/only.py: the decision stage a run uses, one code path) and fire
their SLA rungs due by then (the owner's task: sync/speed_sla.py). A scheduled run deciding the
person's chunk at that moment makes this wait for the chunk's commit; the run, reaching the person
later, skips them (they were decided after it began).

A demo request is a form submission. On Salesforce with Account Engagement the connection's event
stream (its visitor activities) is read first (`read_event_stream`), since the per-person read
leaves those to the stream. On HubSpot the contact's own conversion properties tell of its latest
submission (connectors/hubspot/conversions.py): no Forms API read on this path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlmodel import Session

from connectors.errors import ConnectorError
from connectors.read_once import reads_shared
from connectors.records import Contact
from sync.cursors import read_cursor
from sync.identity import person_key
from sync.person_lock import person_locks
from sync.pull import _person_row
from sync.speed_sla import LadderSteps
from sync.store.activities import store_activities
from sync.store.tables import PersonRecord
from sync.store.types import utc_now
from sync.store.upsert import upsert

if TYPE_CHECKING:
    from sync.pipeline import RunResult
    from sync.runtime import Runtime

log = structlog.get_logger("handoff.speed")
FORMS_OVERLAP = timedelta(minutes=5)
OWN_OVERLAP = timedelta(seconds=30)  # this path's own reads: submissions index in seconds
# A read of the stream that began after a batch's earliest event found that batch's submissions
# (the CRM takes the form before it sends the event): the fast path's deciders skip their own read
# then. One read per decision (8+ Forms API calls: one per form) with several deciders spent the
# fast lane's slots of the rate limiter on re-reading the same submissions.
SETTLED = timedelta(0)
_stream_locks: dict[str, threading.Lock] = {}
_stream_locks_guard = threading.Lock()


def decide_contact(
    runtime: Runtime,
    ladder: LadderSteps,
    connection: str,
    contact: Contact,
    read_again: Callable[[], Contact | None],
    decided: Callable[[Contact, str, RunResult], None],
) -> bool:
    """Decide this person (read from the CRM: `contact`), tell `decided` (the record, the person
    key, the decision's run), then fire their rungs due; False when gone from the CRM meanwhile.

    The person is read again once their lock is held: a scheduled run may have decided them in
    between (its writes landing in the CRM after the first read), and a decision on the older
    read would take its settled owner for none and route them again."""
    from sync.only import sync_one

    with person_locks(runtime.engine, [person_key(contact)]):
        with reads_shared():  # this read serves the one-person pull's (connectors/read_once.py)
            fresh = read_again()
            if fresh is None:
                return False
            with Session(runtime.engine) as session:
                upsert(session, PersonRecord, [_person_row(fresh)], versioned_by="modified_at")
                session.commit()
            key, result = sync_one(runtime, f"{connection}:{fresh.id}", as_of=None, dry_run=False)
        decided(fresh, key, result)
        ladder.after_handoff(key)  # the rungs due now (the owner's task), as a run would
    return True


def read_event_stream(
    runtime: Runtime,
    connection: str,
    last_read: dict[str, datetime],
    earliest: datetime | None = None,
) -> None:
    """The connection's streamed events (HubSpot form submissions, Account Engagement visitor
    activities) since the scheduled run's cursor, stored: a demo request is a form submission,
    and the per-person read leaves these to the stream. `last_read`: connection -> when this
    path last read it (the cursor moves only with scheduled runs). `earliest`: the batch's
    earliest event; nothing older is read (it is other people's, the scheduled sync's: a first
    run has no cursor, and one webhook must not read the portal's whole form history)."""
    connector = runtime.connectors[connection]
    stream = getattr(connector, "pull_event_stream", None)
    if stream is None:
        return
    with _stream_lock(connection):  # one read at a time; the deciders waiting use its result
        last = last_read.get(connection)
        if earliest is not None and last is not None and last >= earliest + SETTLED:
            return  # a read that began after these events settled has stored them
        _read_stream(runtime, connection, stream, last_read, earliest)


def _stream_lock(connection: str) -> threading.Lock:
    with _stream_locks_guard:
        return _stream_locks.setdefault(connection, threading.Lock())


def _read_stream(
    runtime: Runtime,
    connection: str,
    stream: Callable[[datetime | None], Iterable[Any]],
    last_read: dict[str, datetime],
    earliest: datetime | None,
) -> None:
    with Session(runtime.engine) as session:
        cursor = read_cursor(session, connection, "events")
    # from the later of the scheduled run's cursor (with the run's overlap; it moves only with
    # scheduled runs, an hour apart maybe), this path's last read and the batch's earliest event
    # (with a short one: re-reading five minutes of submissions for every batch made each batch
    # read every form submitted meanwhile again)
    # (HubSpot's Forms API: a caller without `earliest` keeps the run's overlap throughout)
    own = OWN_OVERLAP if earliest is not None else FORMS_OVERLAP
    marks = [m - own for m in (last_read.get(connection), earliest) if m is not None]
    if cursor is not None:
        marks.append(cursor - FORMS_OVERLAP)
    since = max(marks) if marks else None
    started = utc_now()
    try:
        found = list(stream(since))
    except ConnectorError as exc:
        log.warning("speed.forms_unread", connection=connection, error=str(exc))
        return
    last_read[connection] = started
    with Session(runtime.engine) as session:
        store_activities(session, found)
        session.commit()
