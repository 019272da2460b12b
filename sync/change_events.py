"""Speed to lead on Salesforce: Change Data Capture through the Pub/Sub API feeds the fast path.

With `salesforce.change_events: true` on a connection, `handoff run` subscribes to
`/data/LeadChangeEvent` and `/data/ContactChangeEvent` for the objects the connection maps
(connectors/salesforce/cdc.py) and decides each changed person through `handoff sync --only`'s
code (sync/only.py): the same decision stage a scheduled run uses, one decision code path.

Exactly once across restarts: each batch of events is stored in one transaction, the people its
events name (`change_event_inbox`) together with the batch's replay id (`change_event_streams`).
A restart resubscribes after that replay id, so no event is lost (those before it are in the
inbox) and none is read twice. A person leaves the inbox once decided; a crash between the
decision and that removal decides them once more, which finds nothing left to change (a decision
is idempotent: the planner writes only differences, a task once per key).

Not decided here: deletions (the scheduled sync reads them with merges and their history),
GAP_OVERFLOW (too many changes for events: the scheduled sync's cursor reads them), and updates
that only touch the fields Handoff itself writes (its own writes coming back) or system stamps.

A stored replay id the bus no longer holds (older than its 72-hour retention) cannot be resumed:
the listener warns, forgets it and subscribes from the latest event; the scheduled sync's
cursor covers the gap, as it covers any time the listener was down. A dropped stream reconnects
with exponential backoff (1 s doubling to 60 s); a refused token is logged as an error naming the
fix and retried on the same backoff (an OAuth connection logs in again first).

The people in the inbox are decided by a thread of their own, beside any scheduled run
(sync/change_inbox.py), as the HubSpot webhook path decides its contacts (sync/fast_decision.py):
each holding the person's decision lock, then their SLA rungs due by then (the owner's task).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from sqlmodel import Session

from connectors.errors import ConnectorError
from connectors.salesforce.cdc import (
    TOPICS,
    ChangeBatch,
    ChangeEvent,
    PubSubAuthError,
    PubSubClient,
    ReplayUnavailable,
)
from sync.change_inbox import InboxDecider
from sync.store.activities import person_reads_beside_loads
from sync.store.tables import ChangeInbox, ChangeStream
from sync.store.types import utc_now
from sync.store.upsert import upsert

if TYPE_CHECKING:
    from sync.cli import Runtime

log = structlog.get_logger("handoff.cdc")
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0
SYSTEM_FIELDS = frozenset({"lastmodifieddate", "systemmodstamp", "lastmodifiedbyid"})
LEFT_TO_SYNC = ("DELETE", "GAP_DELETE", "GAP_OVERFLOW")


@dataclass
class Subscription:
    """One connection's topic and where it resumes."""

    connection: str
    object_type: str  # lead, contact
    topic: str
    echo_fields: frozenset[str]  # lower-case: an update touching only these is not news
    client: PubSubClient | None = None
    thread: threading.Thread | None = None
    batches: int = 0


def subscriptions(runtime: Runtime) -> list[Subscription]:
    """A subscription per mapped object of each Salesforce connection with change events on."""
    out: list[Subscription] = []
    for connection in runtime.config.connections:
        settings = connection.salesforce
        if connection.kind != "salesforce" or settings is None or not settings.change_events:
            continue
        connector = runtime.connectors[connection.name]
        for object_type in connector.object_types():
            mapped = connection.objects.get(object_type, {})
            managed = {m.property.lower() for m in mapped.values() if m.managed}
            out.append(
                Subscription(
                    connection.name,
                    object_type,
                    TOPICS[object_type],
                    frozenset(managed | SYSTEM_FIELDS | {"lastactivitydate"}),
                )
            )
        if any(a.source == "CampaignMember" for a in connection.activities):
            # a campaign response (a form fill, a webinar) is behaviour: its person is decided
            out.append(
                Subscription(
                    connection.name, "campaign_member", TOPICS["campaign_member"], SYSTEM_FIELDS
                )
            )
    return out


def _person_type(record_id: str) -> str | None:
    """lead or contact, from a record id's key prefix (00Q Lead, 003 Contact)."""
    return {"00Q": "lead", "003": "contact"}.get(record_id[:3])


class ChangeEventListener:
    """The subscriptions' threads, storing what they receive in the inbox for its decider."""

    def __init__(
        self,
        runtime: Runtime,
        subscriptions: list[Subscription],
        *,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        self.runtime = runtime
        self.subscriptions = subscriptions
        self.backoff_max = backoff_max
        self._stopped = threading.Event()
        self.inbox = InboxDecider(runtime, self._stopped)

    @property
    def decided(self) -> int:
        """People decided from change events so far (the demo, tests)."""
        return self.inbox.decided

    # -- life ------------------------------------------------------------------------------------
    def start(self) -> None:
        for sub in self.subscriptions:
            sub.client = self.runtime.connectors[sub.connection].change_events()  # type: ignore[attr-defined]
            sub.thread = threading.Thread(
                target=self._listen, args=(sub,), name=f"cdc-{sub.topic}", daemon=True
            )
            sub.thread.start()
        self.inbox.start()  # and people a previous process left in the inbox

    def stop(self) -> None:
        """Stop listening and deciding; what is in the inbox waits for the next start."""
        self._stopped.set()
        self.inbox.wake()
        for sub in self.subscriptions:
            if sub.client is not None:
                sub.client.cancel()
        for sub in self.subscriptions:
            if sub.thread is not None:
                sub.thread.join(timeout=30)
            if sub.client is not None:
                sub.client.close()
        self.inbox.join()

    # -- listening -----------------------------------------------------------------------------
    def _listen(self, sub: Subscription) -> None:
        assert sub.client is not None
        delay = BACKOFF_FIRST
        while not self._stopped.is_set():
            replay = self._stored_replay(sub)
            log.info(
                "cdc.subscribing",
                connection=sub.connection,
                topic=sub.topic,
                resume="after the stored replay id" if replay else "latest",
            )
            try:
                for batch in sub.client.subscribe(sub.topic, replay):
                    delay = BACKOFF_FIRST
                    self._store(sub, batch)
                    if self._stopped.is_set():
                        return
                if self._stopped.is_set():
                    return
                log.warning("cdc.stream_ended", connection=sub.connection, topic=sub.topic)
            except ReplayUnavailable as exc:
                log.warning(
                    "cdc.replay_expired",
                    connection=sub.connection,
                    topic=sub.topic,
                    error=str(exc),
                    fallback="changes since then are read by the scheduled sync from its "
                    "cursor; subscribing from the latest event",
                )
                self._forget_replay(sub)
                continue
            except PubSubAuthError as exc:
                log.error("cdc.auth_refused", connection=sub.connection, error=str(exc))
                tokens = getattr(self.runtime.connectors[sub.connection], "tokens", None)
                if tokens is not None and tokens.can_refresh:
                    tokens.token = ""  # log in again before the next attempt
            except ConnectorError as exc:
                log.warning(
                    "cdc.disconnected",
                    connection=sub.connection,
                    topic=sub.topic,
                    error=str(exc),
                    retry_in_seconds=delay,
                )
            except Exception as exc:  # never let the listener die: the sync still catches up
                log.error(
                    "cdc.failed", topic=sub.topic, error=str(exc), exc_type=type(exc).__name__
                )
            if self._stopped.wait(delay):
                return
            delay = min(delay * 2, self.backoff_max)

    def _stored_replay(self, sub: Subscription) -> bytes | None:
        with Session(self.runtime.engine) as session:
            row = session.get(ChangeStream, (sub.connection, sub.topic))
        return bytes.fromhex(row.replay_id) if row is not None and row.replay_id else None

    def _forget_replay(self, sub: Subscription) -> None:
        with Session(self.runtime.engine) as session:
            row = session.get(ChangeStream, (sub.connection, sub.topic))
            if row is not None:
                session.delete(row)
                session.commit()

    def _news(self, sub: Subscription, event: ChangeEvent) -> bool:
        """Whether this event asks for a decision now."""
        if event.change_type in LEFT_TO_SYNC:
            log.info(
                "cdc.left_to_sync",
                connection=sub.connection,
                change=event.change_type,
                records=len(event.record_ids),
            )
            return False
        if event.change_type == "UPDATE" and event.changed_fields:
            changed = {name.lower() for name in event.changed_fields}
            if changed <= sub.echo_fields:
                return False  # Handoff's own writes coming back, or only stamps moved
        return True

    def _store(self, sub: Subscription, batch: ChangeBatch) -> None:
        """The people these events name and the batch's replay id, in one transaction."""
        sub.batches += 1
        now = utc_now()
        rows: dict[str, dict[str, Any]] = {}
        for event in batch.events:
            entity = "campaign_member" if event.entity == "CampaignMember" else event.entity.lower()
            if entity != sub.object_type or not self._news(sub, event):
                continue
            named = [(sub.object_type, r) for r in event.record_ids]
            if sub.object_type == "campaign_member":  # its person, when the event names them
                people = [(_person_type(p), p) for p in event.person_ids]
                named = [(t, p) for t, p in people if t is not None] or named
            for object_type, record_id in named:
                rows[record_id] = {
                    "connection": sub.connection,
                    "record_id": record_id,
                    "object_type": object_type,
                    "change_type": event.change_type,
                    "replay_id": event.replay_id.hex(),
                    "committed_at": event.committed_at,
                    "received_at": now,
                }
        replay = batch.latest_replay_id or (batch.events[-1].replay_id if batch.events else b"")
        if not replay:
            return
        with Session(self.runtime.engine) as session:
            if rows:
                upsert(session, ChangeInbox, list(rows.values()))
            upsert(
                session,
                ChangeStream,
                [
                    {
                        "connection": sub.connection,
                        "topic": sub.topic,
                        "replay_id": replay.hex(),
                        "updated_at": now,
                    }
                ],
            )
            session.commit()
        if batch.events:
            log.info(
                "cdc.received",
                connection=sub.connection,
                topic=sub.topic,
                events=len(batch.events),
                to_decide=len(rows),
            )
        if rows:
            self.inbox.wake()


@contextlib.contextmanager
def listening(runtime: Runtime) -> Iterator[ChangeEventListener | None]:
    """The change event listener for this worker's life (none when no connection asks)."""
    subs = subscriptions(runtime)
    if not subs:
        yield None
        return
    listener = ChangeEventListener(runtime, subs)
    with person_reads_beside_loads(runtime.engine):  # a first sync's loads keep the person index
        listener.start()
        try:
            yield listener
        finally:
            listener.stop()
