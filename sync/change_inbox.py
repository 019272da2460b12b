"""The change event inbox's deciders: people named by Salesforce change events, decided in threads
of their own (`sync.fast_path_deciders`), beside any scheduled run.

The listener (sync/change_events.py) stores the people each batch of events names in the inbox
(`change_event_inbox`), with the batch's replay id. Each decider thread claims the oldest person no
other decider holds, reads them from the CRM and decides them on the fast path
(sync/fast_decision.py: the person's decision lock, `handoff sync --only`'s decision, the SLA rungs
due by then), its CRM calls at the front of the rate limiter: different people in parallel, one
person at a time. A person leaves the inbox once decided (unless a newer event named them
meanwhile); a decision that fails is retried, and after `ATTEMPTS` left to the scheduled sync.
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
from sync.decision_clock import DecisionClock, decision_clock
from sync.fast_decision import decide_contact, read_event_stream
from sync.speed_sla import LadderSteps
from sync.store.tables import ChangeInbox
from sync.store.types import utc_now

if TYPE_CHECKING:
    from sync.pipeline import RunResult
    from sync.runtime import Runtime

log = structlog.get_logger("handoff.cdc")
DRAIN = 200  # inbox rows read per pass, to find one nobody holds
ATTEMPTS = 3  # a person whose decision fails this often is left to the scheduled sync
RETRY_AFTER = 1.0  # seconds before a failed decision is tried again
IDLE_WAIT = 2.0  # seconds between looks at an inbox with nothing new (failed rows to retry)


class InboxDecider:
    """The threads that decide the people in the inbox."""

    def __init__(
        self, runtime: Runtime, stopped: threading.Event, deciders: int | None = None
    ) -> None:
        self.runtime = runtime
        self._stopped = stopped
        self._changed = threading.Condition()
        self._generation = 0  # bumped by every wake(): new rows, or stopping
        self._guard = threading.Lock()
        self._claimed: set[tuple[str, str]] = set()  # (connection, record id) being decided
        self._failures: dict[tuple[str, str], int] = {}
        self._resting: dict[tuple[str, str], float] = {}  # failed: not retried before (monotonic)
        self.ladder = LadderSteps(runtime)  # SLA rungs of the people handed on
        self._stream_read: dict[str, datetime] = {}  # connection -> its event stream's last read
        count = deciders or runtime.config.sync.fast_path_deciders
        self._threads = [
            threading.Thread(target=self._loop, name=f"cdc-decide-{n}", daemon=True)
            for n in range(count)
        ]
        self._reassert = threading.Lock()
        self.decided = 0

    def start(self) -> None:
        self.wake()  # people a previous process left in the inbox
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """New people in the inbox (or stopping)."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def join(self) -> None:
        deadline = time.monotonic() + 120
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _loop(self) -> None:
        seen = -1  # the generation this thread last looked at
        while not self._stopped.is_set():
            with self._changed:
                if self._generation == seen:  # nothing new since: wait for news, or a poll
                    # (failed rows to retry; ladder rungs falling due)
                    self._changed.wait(0.1 if self.ladder.waiting() else IDLE_WAIT)
                seen = self._generation
            if self._stopped.is_set():
                return
            if self.runtime.writer is not None:
                with self._reassert:
                    self.runtime.writer.reassert()
            try:
                if self.drain():
                    seen = -1  # more may wait: look again at once
            except Exception as exc:  # logged; the rows stay in the inbox for the next pass
                log.error("cdc.drain_failed", error=str(exc), exc_type=type(exc).__name__)
                time.sleep(1.0)

    def drain(self) -> bool:
        """Decide the oldest person in the inbox nobody else is deciding (and the ladder rungs
        falling due); this path's CRM calls take the front of the rate limiter. Whether a person
        was taken."""
        with fast_lane():
            took = self._drain()
            self.ladder.fire_due()  # SLA rungs falling due (the owner's task)
        return took

    def _drain(self) -> bool:
        with Session(self.runtime.engine) as session:
            rows = list(
                session.exec(
                    select(ChangeInbox).order_by(col(ChangeInbox.received_at)).limit(DRAIN)
                )
            )
            session.expunge_all()
        with self._guard:
            now = time.monotonic()
            row = next(
                (
                    r
                    for r in rows
                    if (r.connection, r.record_id) not in self._claimed
                    and self._resting.get((r.connection, r.record_id), 0.0) <= now
                ),
                None,
            )
            if row is None:
                return False
            key = (row.connection, row.record_id)
            self._claimed.add(key)
        try:
            # Account Engagement's form fills (a demo request) are a stream, not per person
            read_event_stream(self.runtime, row.connection, self._stream_read)
            if self._stopped.is_set():
                return False
            try:
                self._decide(row)
                done = True
            except Exception as exc:  # logged; retried, then left to the scheduled sync
                with self._guard:
                    self._failures[key] = self._failures.get(key, 0) + 1
                    self._resting[key] = time.monotonic() + RETRY_AFTER
                    done = self._failures[key] >= ATTEMPTS
                log.warning(
                    "cdc.decision_failed",
                    connection=row.connection,
                    record_id=row.record_id,
                    error=str(exc),
                    left_to_sync=done,
                )
            if done:
                with self._guard:
                    self._failures.pop(key, None)
                    self._resting.pop(key, None)
                self._done(row)
        finally:
            with self._guard:
                self._claimed.discard(key)
        return True

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
        """Read, mirror and decide one person; log where the decision's seconds went."""
        with decision_clock() as clock:
            self._decide_timed(row, clock)

    def _decide_timed(self, row: ChangeInbox, clock: DecisionClock) -> None:
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
        clock.read()
        outcome: list[tuple[Contact, str, RunResult]] = []

        def read_again() -> Contact | None:
            again = connector.read_contacts(object_type, [record_id])
            return again[0] if again else None

        def decided(fresh: Contact, key: str, result: RunResult) -> None:
            clock.owner_written()
            outcome.append((fresh, key, result))
            with self._guard:
                self.decided += 1

        decide_contact(
            self.runtime, self.ladder, row.connection, found[0], clock.reading_again(read_again),
            decided,
        )  # fmt: skip
        if not outcome:
            return
        fresh, key, result = outcome[0]
        log.info(
            "cdc.decided",
            connection=row.connection,
            record_id=fresh.id,
            person=key,
            run_id=result.run_id,
            change=row.change_type,
            planned=len(result.planned),
            written=len(result.writes.items),
            since_change_seconds=round((utc_now() - row.committed_at).total_seconds(), 2),
            **clock.fields(),  # where its seconds went (sync/decision_clock.py)
        )
        for error in result.errors:
            log.warning("cdc.warning", record_id=fresh.id, warning=error)
