"""The HubSpot fast path's catch-up: demo requests made while the listener was down.

A webhook delivery is acknowledged only once its events are decided, so a stopped or killed worker
loses nothing: HubSpot delivers again. But only with its retries: up to 10 over about a day, the
first a minute or more after the failure (docs/speed-to-lead.md, "Catching up after a restart").
A form submitted while the worker was down, or whose delivery was in flight when it died, would
wait that long. So when `handoff run` starts, and every `EVERY` seconds after, the fast path asks
HubSpot which contacts converted since it last knew (connectors/hubspot/conversion_search.py: one
CRM search on `recent_conversion_date`, re-anchored so the 10,000-result cap never bites, through
the search limiter's 5 a second, in the fast lane) and feeds them to its own queue as events of
their own. The deciders take them like any webhook event: one decision code path
(sync/fast_decision.py, `handoff sync --only`'s), per-person locks, the ladder's first rung.

**The watermark** (`sync_cursors`, stream `fast-path-decided`, per connection): the newest event
time the fast path has decided with nothing older still queued; it moves only forward (one
statement: `ON CONFLICT ... DO UPDATE ... WHERE value < excluded.value`, safe between replicas),
in the transaction that stores the decided events' keys (`webhook_events`). A store from before
it starts from the last event handled there; a store with neither starts now (the scheduled
sync's cursor covers what came before).

**Exactly once.** A pass reads conversions since the watermark less `OVERLAP` and queues

- every contact whose conversion is after the watermark (decided or not: a decision that died
  before its task is finished now; one that finished finds nothing to change),
- a contact in the overlap only when their state was not decided after that conversion (by the
  fast path, or a scheduled run that began after it),
- no contact already queued (its decision reads the contact as it is then),
- no contact this worker life decided whole (read, decision, rungs due) after the conversion:
  while the queue is behind, the watermark waits for its oldest event, and every pass queued
  again the people decided since (at 100,000 contacts under load, 79 of 279 decisions, each
  planning nothing, while demo requests waited: bench/RESULTS.md, 2026-12-06 10:41).

A caught-up event's key is `catch-up-<conversion ms>/catch-up/<contact>`, stored with the
webhook events handled: a second pass (or a restart) queues the same conversion again only to have
it dropped as a duplicate, and HubSpot's later retry of the lost delivery decides the person once
more with nothing left to change (the planner writes differences only; a rung fires once): one
owner, one task. Periodic passes stop `SETTLE` short of now, leaving the last minute to its own
webhooks; the first pass after a start reads up to now.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import func, select
from sqlmodel import Session, col

from connectors.hubspot.conversions import RECENT, RECENT_DATE
from connectors.hubspot.webhooks import WebhookEvent
from connectors.ratelimit import fast_lane
from sync.cursors import read_cursor
from sync.store.key_in import key_in
from sync.store.tables import PersonRecord, PersonState, SyncCursor, WebhookEventSeen
from sync.store.types import utc_now
from sync.store.upsert import _insert

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from sync.speed import FastPath

log = structlog.get_logger("handoff.speed")
STREAM = "fast-path-decided"
CATCH_UP = "catch-up"
OVERLAP = timedelta(minutes=5)  # deliveries are not in time order; a batch in hand when it died
SETTLE = timedelta(seconds=60)  # a periodic pass leaves the last minute to its webhooks
# a decision (its `as_of`, taken right after its read under the person's lock) at or after a
# conversion read it; HubSpot's clock and ours are taken as agreeing, and a conversion in the
# milliseconds between that read and `as_of` whose delivery was lost too waits for HubSpot's retry
MARGIN = timedelta(0)
EVERY = 120.0  # seconds between periodic passes
OFFER = 100  # events queued at a time (the queue is bounded: a full one is waited on)
_CURSORS: Any = SyncCursor.__table__  # type: ignore[attr-defined]
_CHUNK = 500


def read_watermark(session: Session, connection: str) -> datetime | None:
    """The fast path's watermark; else the last webhook event handled (a store from before)."""
    mark = read_cursor(session, connection, STREAM)
    if mark is not None:
        return mark
    last = session.exec(
        select(func.max(WebhookEventSeen.handled_at)).where(  # type: ignore[call-overload]
            col(WebhookEventSeen.connection) == connection
        )
    ).one()[0]
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return last  # type: ignore[no-any-return]


def advance_watermark(session: Session, connection: str, value: datetime) -> None:
    """Move the watermark to `value` if that is forward (in the session's transaction)."""
    now = utc_now()
    statement = _insert(session)(_CURSORS).values(
        connection=connection, stream=STREAM, value=value, updated_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=["connection", "stream"],
        set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        where=_CURSORS.c.value < statement.excluded.value,
    )
    session.execute(statement)


def catch_up_event(contact_id: str, converted_at: datetime) -> WebhookEvent:
    """A conversion found by the catch-up, as the event a webhook would have brought."""
    ms = int(converted_at.timestamp() * 1000)
    return WebhookEvent(
        event_id=f"{CATCH_UP}-{ms}",
        subscription_type="contact.propertyChange",
        object_id=contact_id,
        occurred_at=converted_at,
        property_name=RECENT_DATE,
        change_source=CATCH_UP,
        subscription_id=CATCH_UP,
    )


def decided_at(engine: Engine, connection: str, ids: Sequence[str]) -> dict[str, datetime]:
    """contact id -> when their person's state was last decided (people never decided: absent)."""
    out: dict[str, datetime] = {}
    with Session(engine) as session:
        for start in range(0, len(ids), _CHUNK):
            rows = session.exec(
                select(PersonRecord.crm_id, PersonState.computed_at)  # type: ignore[call-overload]
                .join(PersonState, PersonState.person_key == PersonRecord.person_key)
                .where(
                    PersonRecord.connection == connection,
                    key_in(PersonRecord.crm_id, ids[start : start + _CHUNK]),  # type: ignore[attr-defined]
                )
            )
            for crm_id, computed in rows:
                if computed is not None:
                    out[str(crm_id)] = computed
    return out


def to_decide(
    found: Iterable[tuple[str, datetime]],
    mark: datetime,
    decided: dict[str, datetime],
    queued: set[str],
    finished: dict[str, datetime] | None = None,
) -> list[tuple[str, datetime]]:
    """The conversions a pass queues (the module's "Exactly once"). `finished`: contact -> when
    this worker life's last whole decision of them began (after a conversion: nothing left)."""
    out = []
    for contact_id, at in found:
        if contact_id in queued:
            continue
        began = (finished or {}).get(contact_id)
        if began is not None and began >= at + MARGIN:
            continue
        when = decided.get(contact_id)
        if at <= mark and when is not None and when >= at + MARGIN:
            continue
        out.append((contact_id, at))
    return out


class CatchUp:
    """The catch-up passes of a worker's life, in a thread of their own."""

    def __init__(
        self,
        fast: FastPath,
        connections: Sequence[str],
        *,
        every: float = EVERY,
        stopped: threading.Event,
    ) -> None:
        self.fast = fast
        self.connections = list(connections)
        self.every = every
        self._stopped = stopped
        self._marks: dict[str, datetime | None] = {}
        self._thread = threading.Thread(target=self._loop, name="catch-up", daemon=True)
        self.passes = 0

    def start(self) -> None:
        """Read the watermarks now (before any delivery moves them), then pass in the thread."""
        with Session(self.fast.runtime.engine) as session:
            for connection in self.connections:
                self._marks[connection] = read_watermark(session, connection)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        settle = timedelta(0)  # the first pass: everything up to now
        while not self._stopped.is_set():
            for connection in self.connections:
                try:
                    with fast_lane():  # the fast path's own calls: the front of the limiter
                        self.run_pass(connection, settle)
                except Exception as exc:  # logged; webhooks' retries and the scheduled sync
                    log.warning(
                        "catch_up.failed",
                        connection=connection,
                        error=str(exc),
                        exc_type=type(exc).__name__,
                    )
            self.passes += 1
            settle = SETTLE
            if self._stopped.wait(self.every):
                return

    def run_pass(self, connection: str, settle: timedelta) -> int:
        """One pass over the connection's recent conversions; how many were queued."""
        connector = self.fast.runtime.connectors.get(connection)
        search: Callable[..., Iterable[tuple[str, datetime]]] | None = getattr(
            connector, "converted_between", None
        )
        if search is None:
            return 0
        engine = self.fast.runtime.engine
        now = utc_now()
        if connection in self._marks:
            mark = self._marks.pop(connection)  # the first pass: the mark read at the start
        else:
            with Session(engine) as session:
                mark = read_watermark(session, connection)
        if mark is None:  # nothing decided here yet: from now on
            with Session(engine) as session:
                advance_watermark(session, connection, now)
                session.commit()
            log.info("catch_up.started", connection=connection, since=now.isoformat())
            return 0
        since, until = max(mark - OVERLAP, now - RECENT), now - settle
        if until < since:
            return 0
        tick = time.perf_counter()
        found = list(search(since, until))
        decided = decided_at(engine, connection, [contact_id for contact_id, _ in found])
        todo = to_decide(
            found, mark, decided, self.fast.queued_contacts(connection),
            self.fast.finished(connection),
        )  # fmt: skip
        queued = self._offer(connection, [catch_up_event(c, at) for c, at in todo])
        if not todo:  # read through: nothing older is missing, but for what the search index
            # had not taken yet ("a few moments" behind writes): a minute short of now at most
            self.fast.advance(connection, min(until, now - SETTLE))
        log.info(
            "catch_up.pass",
            connection=connection,
            since=since.isoformat(),
            until=until.isoformat(),
            found=len(found),
            queued=queued,
            seconds=round(time.perf_counter() - tick, 2),
        )
        return queued

    def _offer(self, connection: str, events: list[WebhookEvent]) -> int:
        """Queue these events, waiting while the queue is full; how many were queued."""
        queued = 0
        for start in range(0, len(events), OFFER):
            chunk = events[start : start + OFFER]
            while not self.fast.offer(connection, chunk):
                if self._stopped.wait(1.0):
                    return queued
            queued += len(chunk)
        return queued
