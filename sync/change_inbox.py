"""The change event inbox's decider: people named by Salesforce change events, decided one at a
time in a thread of their own, beside any scheduled run.

The listener (sync/change_events.py) stores the people each batch of events names in the inbox
(`change_event_inbox`), with the batch's replay id. This thread takes them oldest first, reads each
person from the CRM and decides them on the fast path (sync/fast_decision.py: the person's
decision lock, `handoff sync --only`'s decision, the SLA rungs due by then), its CRM calls at the
front of the rate limiter. A person leaves the inbox once decided (unless a newer event named
them meanwhile); a decision that fails is retried, and after `ATTEMPTS` left to the scheduled sync.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlmodel import Session, col, delete, select

from connectors.ratelimit import fast_lane
from connectors.records import Contact
from sync.fast_decision import decide_contact, read_event_stream
from sync.speed_sla import LadderSteps
from sync.store.tables import ChangeInbox
from sync.store.types import utc_now

if TYPE_CHECKING:
    from sync.pipeline import RunResult
    from sync.runtime import Runtime

log = structlog.get_logger("handoff.cdc")
DRAIN = 200  # inbox rows taken per pass
ATTEMPTS = 3  # a person whose decision fails this often is left to the scheduled sync


class InboxDecider:
    """The thread that decides the people in the inbox."""

    def __init__(self, runtime: Runtime, stopped: threading.Event) -> None:
        self.runtime = runtime
        self._stopped = stopped
        self._wake = threading.Event()
        self._failures: dict[tuple[str, str], int] = {}
        self.ladder = LadderSteps(runtime)  # SLA rungs of the people handed on
        self._stream_read: dict[str, datetime] = {}  # connection -> its event stream's last read
        self._thread = threading.Thread(target=self._loop, name="cdc-decide", daemon=True)
        self.decided = 0

    def start(self) -> None:
        self._wake.set()  # people a previous process left in the inbox
        self._thread.start()

    def wake(self) -> None:
        """New people in the inbox (or stopping)."""
        self._wake.set()

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout=120)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            # woken by new rows; a poll covers failed rows to retry and ladder rungs falling due
            self._wake.wait(0.1 if self.ladder.waiting() else 2.0)
            self._wake.clear()
            if self._stopped.is_set() or not (self.ladder.waiting() or self._waiting()):
                continue
            if self.runtime.writer is not None:
                self.runtime.writer.reassert()
            try:
                self.drain()
            except Exception as exc:  # logged; the rows stay in the inbox for the next pass
                log.error("cdc.drain_failed", error=str(exc), exc_type=type(exc).__name__)
                time.sleep(1.0)

    def _waiting(self) -> bool:
        with Session(self.runtime.engine) as session:
            return session.exec(select(ChangeInbox.record_id).limit(1)).first() is not None

    def drain(self) -> None:
        """Decide the people in the inbox (oldest first); this path's CRM calls take the front
        of the rate limiter."""
        with fast_lane():
            self._drain()
            self.ladder.fire_due()  # SLA rungs falling due (the owner's task)

    def _drain(self) -> None:
        with Session(self.runtime.engine) as session:
            rows = list(
                session.exec(
                    select(ChangeInbox).order_by(col(ChangeInbox.received_at)).limit(DRAIN)
                )
            )
            session.expunge_all()
        for connection in sorted({row.connection for row in rows}):
            # Account Engagement's form fills (a demo request) are a stream, not per person
            read_event_stream(self.runtime, connection, self._stream_read)
        for row in rows:
            if self._stopped.is_set():
                return
            key = (row.connection, row.record_id)
            try:
                self._decide(row)
                done = True
            except Exception as exc:  # logged; retried, then left to the scheduled sync
                self._failures[key] = self._failures.get(key, 0) + 1
                done = self._failures[key] >= ATTEMPTS
                log.warning(
                    "cdc.decision_failed",
                    connection=row.connection,
                    record_id=row.record_id,
                    error=str(exc),
                    left_to_sync=done,
                )
            if done:
                self._failures.pop(key, None)
                self._done(row)

    def _done(self, row: ChangeInbox) -> None:
        """Out of the inbox, unless a newer event named the person meanwhile."""
        with Session(self.runtime.engine) as session:
            session.execute(
                delete(ChangeInbox).where(
                    col(ChangeInbox.connection) == row.connection,
                    col(ChangeInbox.record_id) == row.record_id,
                    col(ChangeInbox.replay_id) == row.replay_id,
                )
            )
            session.commit()

    def _decide(self, row: ChangeInbox) -> None:
        """Read, mirror and decide one person."""
        tick = time.perf_counter()
        connector: Any = self.runtime.connectors[row.connection]
        object_type, record_id = row.object_type, row.record_id
        if object_type == "campaign_member":  # an update that did not name its person
            people = connector.campaign_member_people([record_id])
            if not people:
                return
            object_type, record_id = people[0]
        found = connector.read_contacts(object_type, [record_id])
        if not found:
            log.info("cdc.skipped", connection=row.connection, record_id=row.record_id,
                     why="not found (deleted or converted): left to the scheduled sync")  # fmt: skip
            return
        contact = found[0]

        def read_again() -> Contact | None:
            again = connector.read_contacts(object_type, [record_id])
            return again[0] if again else None

        def decided(fresh: Contact, key: str, result: RunResult) -> None:
            self.decided += 1
            log.info(
                "cdc.decided",
                connection=row.connection,
                record_id=fresh.id,
                person=key,
                run_id=result.run_id,
                change=row.change_type,
                planned=len(result.planned),
                written=len(result.writes.items),
                seconds=round(time.perf_counter() - tick, 2),
                since_change_seconds=round((utc_now() - row.committed_at).total_seconds(), 2),
            )
            for error in result.errors:
                log.warning("cdc.warning", record_id=fresh.id, warning=error)

        decide_contact(self.runtime, self.ladder, row.connection, contact, read_again, decided)
