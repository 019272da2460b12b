"""Speed to lead: HubSpot webhooks feed a fast path beside the scheduled sync (`handoff run`).

The endpoint (`/webhooks/hubspot/<connection>`: sync/speed_http.py) checks the v3 signature,
queues the batch's events in this bounded queue (full: 429, HubSpot's retries carry the overflow)
and acknowledges the delivery once its events are decided (503 if not within 2 s: HubSpot
delivers it again, so events queued when the worker stops or dies are not lost).

One thread drains the queue: events already handled (`webhook_events` in the state store) are
dropped; the portal's new form submissions are read once for the batch (the Forms API stream the
scheduled run reads, since its cursor); then each contact an event names is read, mirrored into the
store as a pull would, and decided by `handoff sync --only`'s code (sync/only.py: the same decision
stage, its own outbox items written at once): owner, stage, score and SLA clock; then the
person's ladder rungs due by then (sync/speed_sla.py: the owner's task, as a scheduled run would
create it). Its CRM
calls are made in the rate limiter's fast lane (connectors/ratelimit.py): ahead of a bulk run's.

One decision at a time, in one thread at a time: when no job runs, the fast path takes the
worker's one-job-at-a-time gate (`Worker.exclusive`); while a scheduled run holds it, that run
calls `interleave` between its decision chunks (`Pipeline.between_chunks`), so waiting webhooks
are decided in the run's own thread, after its chunk is committed. People the run holds (handed
to it by its pull, or waiting for its routing pass with a kept score) are held back until it
ends. Deletions and merges are left to the scheduled sync, which reads them with their history;
a merge's survivor is decided now.

If the listener is down, HubSpot retries for a day, and the scheduled sync's cursor catches up in
any case: no event is needed for correctness, only for speed.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Container
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlmodel import Session, col, select

from connectors.errors import ConnectorError
from connectors.hubspot.webhooks import (
    WebhookEvent,
)
from connectors.ratelimit import fast_lane
from connectors.records import Contact
from sync.identity import person_key
from sync.pull import _person_row, read_cursor
from sync.speed_sla import LadderSteps
from sync.store.activities import store_activities
from sync.store.tables import PersonRecord, WebhookEventSeen
from sync.store.types import utc_now
from sync.store.upsert import upsert

if TYPE_CHECKING:
    from sync.cli import Runtime

log = structlog.get_logger("handoff.speed")
DRAIN = 500  # events taken from the queue per pass
FORMS_OVERLAP = timedelta(minutes=5)
OWN_OVERLAP = timedelta(seconds=30)  # this path's own reads: submissions index in seconds
KEEP_SEEN = timedelta(days=7)
REMEMBER = 100_000  # handled event keys kept in memory for the endpoint's acknowledgements
Queued = tuple[str, WebhookEvent]  # (connection, event)


class FastPath:
    """The queue of webhook events and the thread that decides their contacts."""

    def __init__(
        self,
        runtime: Runtime,
        exclusive: Callable[[], Any],
        *,
        size: int,
    ) -> None:
        self.runtime = runtime
        self.exclusive = exclusive
        self._queue: queue.Queue[Queued] = queue.Queue(maxsize=size)
        self._queued: set[tuple[str, str]] = set()
        self._guard = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fast-path", daemon=True)
        self.decided = 0  # contacts decided (tests, the demo)
        self._held_back: list[Queued] = []  # events for people a running run holds
        self._forms_read: dict[str, datetime] = {}  # connection -> when its forms were last read
        self._handled: OrderedDict[tuple[str, str], None] = OrderedDict()  # recent, for acks
        self.ladder = LadderSteps(runtime)  # SLA rungs of the people handed on (sync/speed_sla.py)

    # -- the endpoint's side: never blocks ---------------------------------------------------
    def offer(self, connection: str, events: list[WebhookEvent]) -> bool:
        """Queue these events (one already queued is not queued twice); False when full."""
        with self._guard:
            fresh = [e for e in events if (connection, e.key) not in self._queued]
            fresh = list({e.key: e for e in fresh}.values())
            if self._queue.maxsize - self._queue.qsize() < len(fresh):
                return False
            for event in fresh:
                self._queued.add((connection, event.key))
                self._queue.put_nowait((connection, event))
        return True

    def handled(self, connection: str, keys: list[str]) -> bool:
        """Whether every one of these events is decided (or was a duplicate of one that is)."""
        with self._guard:
            return all((connection, key) in self._handled for key in keys)

    def decided_before(self, connection: str, events: list[WebhookEvent]) -> bool:
        """Whether the store holds every one of these events as handled (by any replica)."""
        if not events:
            return True
        keys = [e.key for e in events]
        with Session(self.runtime.engine) as session:
            seen = set(
                session.exec(
                    select(WebhookEventSeen.event_key).where(
                        col(WebhookEventSeen.connection) == connection,
                        col(WebhookEventSeen.event_key).in_(keys),
                    )
                )
            )
        if seen.issuperset(keys):
            self._remember([(connection, e) for e in events])
            return True
        return False

    def _remember(self, items: list[Queued]) -> None:
        with self._guard:
            for connection, event in items:
                self._handled[(connection, event.key)] = None
            while len(self._handled) > REMEMBER:
                self._handled.popitem(last=False)

    # -- the fast path's thread ----------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop after the contact in hand; what is still queued is left to the scheduled sync."""
        self._stopped.set()
        self._thread.join(timeout=120)

    def _loop(self) -> None:
        """Take the worker's gate when events wait; a scheduled run that holds it calls
        `interleave` between its chunks instead."""
        while not self._stopped.is_set():
            if self._queue.empty() and not self._held_back and not self.ladder.waiting():
                time.sleep(0.05)
                continue
            gate = self.exclusive()
            if not gate.acquire(timeout=0.2):
                continue
            try:
                if self.runtime.writer is not None:
                    self.runtime.writer.reassert()
                with self._guard:  # what a run held back is decided now that it is over
                    held, self._held_back = self._held_back, []
                for item in held:
                    self._queue.put(item)
                self._drain_and_decide(frozenset())
            finally:
                gate.release()

    def interleave(self, busy: Container[str]) -> None:
        """Between a scheduled run's chunks, in its thread (it holds the gate): decide what
        waits, except the people that run holds (`busy` person keys): they wait for its end."""
        if not self._queue.empty() or self.ladder.waiting():
            self._drain_and_decide(busy)

    def _drain_and_decide(self, busy: Container[str]) -> None:
        batch: list[Queued] = []
        with contextlib.suppress(queue.Empty):
            while len(batch) < DRAIN:
                batch.append(self._queue.get_nowait())
        try:
            with fast_lane():  # this path's calls take the front of the rate limiter
                if batch:
                    self._decide_batch(batch, busy)
                self.ladder.fire_due(busy)
        except Exception as exc:  # logged; the scheduled sync catches up
            log.error("speed.failed", error=str(exc), exc_type=type(exc).__name__)
        finally:
            with self._guard:
                self._queued.difference_update((c, e.key) for c, e in batch)

    def handle(self, batch: list[Queued]) -> None:
        """Decide the contacts these events name, taking the worker's gate."""
        with self.exclusive(), fast_lane():
            self._decide_batch(batch, frozenset())

    def _decide_batch(self, batch: list[Queued], busy: Container[str]) -> None:
        """Decide the contacts these events name (each once), then mark the events handled;
        events for a person in `busy` are held back, unmarked, for after the run."""
        fresh = self._unseen(batch)
        by_connection: dict[str, dict[str, WebhookEvent]] = {}
        for connection, event in fresh:
            if not event.decides_contact:
                log.info(
                    "speed.left_to_sync",
                    connection=connection,
                    subscription=event.subscription_type,
                    record_id=event.object_id,
                )
                continue
            by_connection.setdefault(connection, {}).setdefault(event.object_id, event)
        held: set[tuple[str, str]] = set()
        for connection, contacts in sorted(by_connection.items()):
            self._forms(connection, min(e.occurred_at for e in contacts.values()))
            for contact_id, event in contacts.items():
                if self._stopped.is_set():
                    return  # not marked handled: the scheduled sync decides them
                if not self._decide(connection, contact_id, event, busy):
                    held.add((connection, contact_id))
        if held:
            back = [(c, e) for c, e in fresh if (c, e.object_id) in held]
            with self._guard:
                self._held_back += back
            log.info("speed.held_for_run", contacts=len(held))
        self._mark_handled([(c, e) for c, e in fresh if (c, e.object_id) not in held])

    def _unseen(self, batch: list[Queued]) -> list[Queued]:
        with Session(self.runtime.engine) as session:
            out: list[Queued] = []
            for connection in sorted({c for c, _ in batch}):
                keys = [e.key for c, e in batch if c == connection]
                seen = set(
                    session.exec(
                        select(WebhookEventSeen.event_key).where(
                            col(WebhookEventSeen.connection) == connection,
                            col(WebhookEventSeen.event_key).in_(keys),
                        )
                    )
                )
                out += [(c, e) for c, e in batch if c == connection and e.key not in seen]
        if len(out) < len(batch):
            log.info("speed.duplicates", skipped=len(batch) - len(out))
            self._remember([item for item in batch if item not in out])
        return out

    def _mark_handled(self, handled: list[Queued]) -> None:
        if not handled:
            return
        self._remember(handled)
        now = utc_now()
        rows = [
            {"connection": c, "event_key": e.key, "handled_at": now}
            for c, e in {(c, e.key): (c, e) for c, e in handled}.values()
        ]
        with Session(self.runtime.engine) as session:
            upsert(session, WebhookEventSeen, rows)
            stale = select(WebhookEventSeen).where(
                col(WebhookEventSeen.handled_at) < now - KEEP_SEEN
            )
            for row in session.exec(stale.limit(1000)):
                session.delete(row)
            session.commit()

    def _forms(self, connection: str, earliest: datetime) -> None:
        read_event_stream(self.runtime, connection, self._forms_read, earliest)

    def _decide(
        self, connection: str, contact_id: str, event: WebhookEvent, busy: Container[str]
    ) -> bool:
        """Read, mirror and decide one contact; False when a running run holds the person."""
        from sync.only import sync_one

        tick = time.perf_counter()
        contact = self._read(connection, contact_id)
        if contact is None:
            log.info("speed.skipped", connection=connection, record_id=contact_id, why="not found")
            return True
        if person_key(contact) in busy:
            return False
        with Session(self.runtime.engine) as session:
            upsert(session, PersonRecord, [_person_row(contact)])
            session.commit()
        try:
            key, result = sync_one(
                self.runtime, f"{connection}:{contact.id}", as_of=None, dry_run=False
            )
        except (LookupError, ConnectorError) as exc:
            log.warning("speed.skipped", connection=connection, record_id=contact_id, why=str(exc))
            return True
        self.decided += 1
        lag = (utc_now() - event.occurred_at).total_seconds()
        log.info(
            "speed.decided",
            connection=connection,
            record_id=contact.id,
            person=key,
            run_id=result.run_id,
            planned=len(result.planned),
            written=len(result.writes.items),
            seconds=round(time.perf_counter() - tick, 2),
            since_event_seconds=round(lag, 2),
            subscription=event.subscription_type,
        )
        for error in result.errors:
            log.warning("speed.warning", record_id=contact.id, warning=error)
        self.ladder.after_handoff(key)  # the rungs due now (the owner's task), as a run would
        return True

    def _read(self, connection: str, contact_id: str) -> Contact | None:
        connector = self.runtime.connectors[connection]
        read = getattr(connector, "read_contacts", None)
        if read is None:
            return None
        object_type = next(iter(connector.object_types()), "contact")
        found: list[Contact] = read(object_type, [contact_id])
        return found[0] if found else None


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
