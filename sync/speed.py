"""Speed to lead: HubSpot webhooks feed a fast path beside the scheduled sync (`handoff run`).

The endpoint (`/webhooks/hubspot/<connection>`: sync/speed_http.py) checks the v3 signature,
queues the batch's events in this bounded queue (full: 429, HubSpot's retries carry the overflow)
and acknowledges the delivery once its events are decided (503 if not within 2 s: HubSpot
delivers it again, so events queued when the worker stops or dies are not lost).

Decider threads (`sync.fast_path_deciders`, 4 by default) drain the queue, each taking the
events of one contact at a time, so different people are decided in parallel (each holding the
person's decision lock; routing decisions in short routing transactions: both safe beside other
deciders). Events already handled (`webhook_events` in the state store) are
dropped; then each contact an event names is read (with its latest form submission, from its
conversion properties: connectors/hubspot/conversions.py; the Forms API's portal-wide read is the
scheduled run's stream alone), mirrored into the store as a pull would, and decided by `handoff sync --only`'s code (sync/only.py: the same decision
stage, its own outbox items written at once): owner, stage, score and SLA clock; then the
person's ladder rungs due by then (sync/speed_sla.py: the owner's task, as a scheduled run would
create it). Its CRM
calls are made in the rate limiter's fast lane (connectors/ratelimit.py): ahead of a bulk run's.

The fast path decides in its own threads, beside a scheduled run (sync/fast_decision.py): it holds
the person's decision lock while it mirrors and decides them, so it waits only when the run is
deciding that very person (the chunk in hand, until its commit); the run, reaching someone the
fast path decided meanwhile, skips them. Routing decisions commit in a short routing transaction
of their own, shared by both (routing/transaction.py). Deletions and merges are left to the
scheduled sync, which reads them with their history; a merge's survivor is decided now.

If the listener is down, HubSpot retries for a day, and the scheduled sync's cursor catches up in
any case: no event is needed for correctness, only for speed. For speed, a worker that starts
again (and every two minutes after) searches for the conversions made since the last event it
decided and queues them as events of their own (sync/catch_up.py): a demo request made while it
was down is routed seconds after it is back, not with HubSpot's retry minutes later.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlmodel import Session, col, select

from connectors.base import ActivityStream, FastLaneSlots
from connectors.errors import ConnectorError
from connectors.hubspot.webhooks import (
    WebhookEvent,
)
from connectors.ratelimit import fast_lane
from connectors.records import Contact
from sync.catch_up import CATCH_UP, CatchUp, advance_watermark
from sync.decision_clock import DecisionClock, decision_clock
from sync.fast_decision import decide_contact
from sync.speed_sla import LadderSteps
from sync.store.key_in import key_in
from sync.store.tables import WebhookEventSeen
from sync.store.types import utc_now
from sync.store.upsert import upsert

if TYPE_CHECKING:
    from sync.cli import Runtime
    from sync.pipeline import RunResult

log = structlog.get_logger("handoff.speed")
DRAIN = 500  # events taken from the queue per pass
KEEP_SEEN = timedelta(days=7)
REMEMBER = 100_000  # handled event keys kept in memory for the endpoint's acknowledgements
Queued = tuple[str, WebhookEvent]  # (connection, event)


class EventQueue:
    """Bounded FIFO of webhook events; a taker gets the events of one contact (those queued
    one after another for it: a delivery's creation and property changes)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: deque[Queued] = deque()
        self._lock = threading.Lock()

    def room(self) -> int:
        with self._lock:
            return self.maxsize - len(self._items)

    def put_all(self, items: list[Queued]) -> None:
        with self._lock:
            self._items.extend(items)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    def take_contact(self, limit: int) -> list[Queued]:
        """The first event, and the ones right after it for the same contact (up to `limit`)."""
        with self._lock:
            if not self._items:
                return []
            first = self._items.popleft()
            batch = [first]
            who = (first[0], first[1].object_id)
            while self._items and len(batch) < limit:
                connection, event = self._items[0]
                if (connection, event.object_id) != who:
                    break
                batch.append(self._items.popleft())
            return batch


class FastPath:
    """The queue of webhook events and the threads that decide their contacts."""

    def __init__(self, runtime: Runtime, *, size: int, deciders: int | None = None) -> None:
        self.runtime = runtime
        self._queue = EventQueue(size)
        # (connection, event key) -> (contact, occurredAt) of the events queued or in hand
        self._queued: dict[tuple[str, str], tuple[str, datetime]] = {}
        self._guard = threading.Lock()
        self._stopped = threading.Event()
        count = deciders or runtime.config.sync.fast_path_deciders
        self._threads = [
            threading.Thread(target=self._loop, name=f"fast-path-{n}", daemon=True)
            for n in range(count)
        ]
        self._reassert = threading.Lock()
        self.decided = 0  # contacts decided (tests, the demo)
        self._handled: OrderedDict[tuple[str, str], None] = OrderedDict()  # recent, for acks
        # (connection, contact) -> when this life's last whole decision of them began (its read,
        # decision and rungs due all done): the catch-up does not queue them again for a
        # conversion before that (sync/catch_up.py)
        self._finished: OrderedDict[tuple[str, str], datetime] = OrderedDict()
        self.ladder = LadderSteps(runtime)  # SLA rungs of the people handed on (sync/speed_sla.py)
        http = runtime.config.http
        self.catch_up = CatchUp(  # conversions made while down (sync/catch_up.py)
            self, list(http.hubspot_webhooks) if http is not None else [], stopped=self._stopped
        )

    # -- the endpoint's side: never blocks ---------------------------------------------------
    def offer(self, connection: str, events: list[WebhookEvent]) -> bool:
        """Queue these events (one already queued is not queued twice); False when full."""
        with self._guard:
            fresh = [e for e in events if (connection, e.key) not in self._queued]
            fresh = list({e.key: e for e in fresh}.values())
            if self._queue.room() < len(fresh):
                return False
            self._queued.update(((connection, e.key), (e.object_id, e.occurred_at)) for e in fresh)
            self._queue.put_all([(connection, event) for event in fresh])
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
                        key_in(col(WebhookEventSeen.event_key), keys),
                    )
                )
            )
        if seen.issuperset(keys):
            self._remember([(connection, e) for e in events])
            return True
        return False

    def finished(self, connection: str) -> dict[str, datetime]:
        """Contact -> when this worker life's last whole decision of them began."""
        with self._guard:
            return {who: at for (c, who), at in self._finished.items() if c == connection}

    def queued_contacts(self, connection: str) -> set[str]:
        """The contacts of this connection with events queued or in hand."""
        with self._guard:
            return {who for (c, _), (who, _) in self._queued.items() if c == connection}

    def advance(self, connection: str, value: datetime) -> None:
        """Move the catch-up watermark towards `value` (sync/catch_up.py)."""
        with Session(self.runtime.engine) as session:
            self._advance(session, connection, value, set())
            session.commit()

    def _advance(self, session: Session, connection: str, value: datetime, done: set[str]) -> None:
        """The watermark to `value`, but short of the oldest event queued or in hand (other than
        the `done` keys): a worker that dies now has those still to decide."""
        with self._guard:
            waiting = [
                at
                for (c, key), (_, at) in self._queued.items()
                if c == connection and key not in done
            ]
        if waiting:
            value = min(value, min(waiting) - timedelta(milliseconds=1))
        advance_watermark(session, connection, value)

    def _remember(self, items: list[Queued]) -> None:
        with self._guard:
            for connection, event in items:
                self._handled[(connection, event.key)] = None
            while len(self._handled) > REMEMBER:
                self._handled.popitem(last=False)

    # -- the fast path's thread ----------------------------------------------------------------
    def start(self) -> None:
        hubspot = {c.name for c in self.runtime.config.connections if c.kind == "hubspot"}
        for name, connector in self.runtime.connectors.items():
            if isinstance(connector, FastLaneSlots):  # this path's calls get their own slots
                connector.keep_fast_lane_slots()
            # form submissions are the scheduled run's stream; a contact read by id tells of its
            # latest (before the first run too: a one-person read of the portal's forms is none)
            if name in hubspot and isinstance(connector, ActivityStream):
                connector.streams_events = True
        for thread in self._threads:
            thread.start()
        if self.catch_up.connections:
            self.catch_up.start()

    def stop(self) -> None:
        """Stop after the contacts in hand; what is still queued is left to the scheduled sync."""
        self._stopped.set()
        deadline = time.monotonic() + 120
        self.catch_up.join(timeout=30)
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _loop(self) -> None:
        """Decide what waits, in this thread, whatever else runs (beside the other deciders)."""
        while not self._stopped.is_set():
            if self._queue.empty() and not self.ladder.waiting():
                time.sleep(0.05)
                continue
            if self.runtime.writer is not None:
                with self._reassert:
                    self.runtime.writer.reassert()
            self._drain_and_decide()

    def _drain_and_decide(self) -> None:
        batch = self._queue.take_contact(DRAIN)  # one contact's events: the others' for others
        try:
            with fast_lane():  # this path's calls take the front of the rate limiter
                if batch:
                    self._decide_batch(batch)
                self.ladder.fire_due()
        except Exception as exc:  # logged; the scheduled sync catches up
            log.error("speed.failed", error=str(exc), exc_type=type(exc).__name__)
        finally:
            with self._guard:
                for connection, event in batch:
                    self._queued.pop((connection, event.key), None)

    def handle(self, batch: list[Queued]) -> None:
        """Decide the contacts these events name, in the caller's thread."""
        with fast_lane():
            self._decide_batch(batch)

    def _decide_batch(self, batch: list[Queued]) -> None:
        """Decide the contacts these events name (each once), then mark the events handled."""
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
        for connection, contacts in sorted(by_connection.items()):
            for contact_id, event in contacts.items():
                if self._stopped.is_set():
                    return  # not marked handled: HubSpot delivers them again
                self._decide(connection, contact_id, event)
        self._mark_handled(fresh)

    def _unseen(self, batch: list[Queued]) -> list[Queued]:
        with Session(self.runtime.engine) as session:
            out: list[Queued] = []
            for connection in sorted({c for c, _ in batch}):
                keys = [e.key for c, e in batch if c == connection]
                seen = set(
                    session.exec(
                        select(WebhookEventSeen.event_key).where(
                            col(WebhookEventSeen.connection) == connection,
                            key_in(col(WebhookEventSeen.event_key), keys),
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
            for connection in sorted({c for c, _ in handled}):
                mine = [e for c, e in handled if c == connection]
                newest = max(e.occurred_at for e in mine)
                self._advance(session, connection, newest, {e.key for e in mine})
            stale = select(WebhookEventSeen).where(
                col(WebhookEventSeen.handled_at) < now - KEEP_SEEN
            )
            for row in session.exec(stale.limit(1000)):
                session.delete(row)
            session.commit()

    def _decide(self, connection: str, contact_id: str, event: WebhookEvent) -> None:
        """Read, mirror and decide one contact (sync/fast_decision.py); log where the decision's
        seconds went (sync/decision_clock.py: the same parts as a change event's)."""
        with decision_clock() as clock:
            self._decide_timed(connection, contact_id, event, clock)

    def _decide_timed(
        self, connection: str, contact_id: str, event: WebhookEvent, clock: DecisionClock
    ) -> None:
        outcome: list[tuple[Contact, str, RunResult, float]] = []
        began = utc_now()

        def decided(fresh: Contact, key: str, result: RunResult) -> None:
            clock.owner_written()
            outcome.append((fresh, key, result, (utc_now() - event.occurred_at).total_seconds()))
            with self._guard:
                self.decided += 1

        contact = self._read(connection, contact_id)
        clock.read()
        try:
            found = contact is not None and decide_contact(
                self.runtime,
                self.ladder,
                connection,
                contact,
                clock.reading_again(lambda: self._read(connection, contact_id)),
                decided,
            )
        except (LookupError, ConnectorError) as exc:
            log.warning("speed.skipped", connection=connection, record_id=contact_id, why=str(exc))
            return
        finally:
            if outcome:
                self._log_decided(connection, event, clock, *outcome[0])
        if not found:
            log.info("speed.skipped", connection=connection, record_id=contact_id, why="not found")
            return
        with self._guard:
            self._finished[(connection, contact_id)] = began
            self._finished.move_to_end((connection, contact_id))
            while len(self._finished) > REMEMBER:
                self._finished.popitem(last=False)

    def _log_decided(
        self,
        connection: str,
        event: WebhookEvent,
        clock: DecisionClock,
        fresh: Contact,
        key: str,
        result: RunResult,
        lag: float,
    ) -> None:
        log.info(
            "speed.decided",
            connection=connection,
            record_id=fresh.id,
            person=key,
            run_id=result.run_id,
            planned=len(result.planned),
            written=len(result.writes.items),
            since_event_seconds=round(lag, 2),
            subscription=event.subscription_type,
            caught_up=event.subscription_id == CATCH_UP,
            **clock.fields(),  # where its seconds went, the owner's task included
        )
        for error in result.errors:
            log.warning("speed.warning", record_id=fresh.id, warning=error)

    def _read(self, connection: str, contact_id: str) -> Contact | None:
        connector = self.runtime.connectors[connection]
        read = getattr(connector, "read_contacts", None)
        if read is None:
            return None
        object_type = next(iter(connector.object_types()), "contact")
        found: list[Contact] = read(object_type, [contact_id])
        return found[0] if found else None
