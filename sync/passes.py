"""The decide stage of one run: people in chunks as the pull hands them on, routing last.

First pass: everyone is scored and planned, except that people who need an owner are deferred:
only their score fields are planned (written behind the pull like everyone's) and their score is
kept. After the pull: merges and ended records move their SLA clocks, account owners are read
from the complete store, the people the pull did not hand on are decided, and finally the
deferred people are routed in key order, with their kept score (no activity reads, no scoring):
stage, owner, clock and state. So routing never depends on page order, and a run that streams
behind its pull decides exactly what one that waits for it does.

Every chunk is checkpointed (committed; flushed in a dry run) and followed by a write-behind of
whole batches, sent from a thread of its own in a live run; the run's final write sends the rest.

A live run holds the people of each chunk (sync/person_lock.py) while it decides and commits it:
the speed-to-lead fast path decides beside the run, in its own thread, and waits only when its
person is in the chunk in hand. Someone the fast path decided after the run began is skipped when
the run reaches them (`DecisionStage.decided_after`), in its first pass or its routing pass.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session

from config.model import HandoffConfig
from routing.directory import OwnerDirectory
from routing.router import Router
from routing.sla.engine import SlaEngine
from scoring import LifecyclePolicy, ScoringModel
from sync.apply import CrmApplier, WriteSummary
from sync.decide import DecisionStage, DomainEngines
from sync.dirty import dirty_people
from sync.outbox import OutboxPlanner
from sync.people import OwnerBook, account_owners
from sync.person_lock import person_locks
from sync.pull import PullResult
from sync.run_people import RunPeople

if TYPE_CHECKING:
    from sync.pipeline import RunMode, RunResult

log = structlog.get_logger("handoff.decide")
CHECKPOINT_EVERY = 500
DECISION_LOCK = 7220312  # pg advisory lock id: one replica's scheduled run decides at a time


_held = threading.local()  # how deep this thread holds the decision lock


@contextmanager
def decision_lock(engine: Engine) -> Iterator[None]:
    """Serialise scheduled runs' decision stages across replicas (PostgreSQL); the single-runner
    file lock does this on one node. Held on its own connection, so it survives the stage's
    chunk commits and is released if the process dies. Re-entrant in one thread. The fast path
    does not take it: it decides beside a run, one person at a time (sync/person_lock.py)."""
    depth = getattr(_held, "depth", 0)
    if engine.dialect.name != "postgresql" or depth:
        _held.depth = depth + 1
        try:
            yield
        finally:
            _held.depth = depth
        return
    with engine.connect() as connection:
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({DECISION_LOCK})")
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({DECISION_LOCK})")


class DecisionPasses:
    def __init__(
        self,
        config: HandoffConfig,
        domain: tuple[ScoringModel, LifecyclePolicy, SlaEngine],
        session: Session,
        mode: RunMode,
        result: RunResult,
        progress: Callable[[str, int], None] | None = None,
        *,
        decided_after: datetime | None = None,
    ) -> None:
        self.config = config
        self.session = session
        self.mode = mode
        self.result = result
        self.progress = progress
        self.now = result.as_of
        self.planner = OutboxPlanner(
            session, result.run_id, result.as_of, {c.name: c for c in config.connections}
        )
        owners = OwnerBook.load(session)
        scoring, lifecycle, sla = domain
        self.engines = DomainEngines(
            scoring=scoring,
            lifecycle=lifecycle,
            router=Router(config.routing, OwnerDirectory.from_owners(owners.owners, self.now)),
            sla=sla,
            owners=owners,
        )
        # who the run holds (handed on by the pull, deferred for routing): in its ledger
        self.people = RunPeople(result.ledger)
        self.stage = DecisionStage(
            config, self.engines, self.planner, self.people, decided_after=decided_after
        )
        engine = session.get_bind()
        assert isinstance(engine, Engine)
        if not mode.dry_run:  # routing decisions commit on their own, shared with the fast path
            self.engines.routing_engine = engine
        self._hold: Callable[[list[str]], AbstractContextManager[None]] = (
            (lambda keys: nullcontext()) if mode.dry_run else partial(person_locks, engine)
        )
        mode.writer.sink = (
            result.ledger.written.append
        )  # outcomes go to the run's ledger, not memory
        self._writer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-behind")
        self._behind: Future[tuple[WriteSummary, float]] | None = None

    def flush(self) -> None:
        """Write the planned outbox rows, and record them in the run's ledger (the planner keeps
        one chunk's plans at a time)."""
        self.planner.flush()
        self.result.ledger.plan(self.planner.planned)
        self.planner.planned.clear()

    def first(self, keys: list[str]) -> None:
        """Decide these people, deferring the ones who need routing."""
        self._chunks(keys, defer_routing=True)

    def after_pull(self, pulls: Mapping[str, PullResult], full: bool) -> None:
        self._wait_behind()  # the routing pass plans on a settled outbox
        session, engines, people = self.session, self.engines, self.people
        survivors: set[str] = set()
        for pulled in pulls.values():
            for loser, survivor in sorted(pulled.merged.items()):
                engines.sla.merge(session, loser, survivor, self.now)
                survivors.add(survivor)
            for key, why in sorted(pulled.ended_keys.items()):
                engines.sla.stop_clocks(session, key, why, self.now)
        engines.account_owners = (  # the majority-of-people guess is opt-in
            account_owners(
                session, engines.owners, frozenset(self.config.scoring.negative.free_mail.domains)
            )
            if self.config.routing.account_owner_from_contacts
            else {}
        )
        deferred_survivors = people.deferred(survivors)
        self.stage.forget_held(survivors)  # a merge changed them: routed on a fresh score
        tick = time.perf_counter()
        rest: list[str] = []  # a page of dirty people at a time, decided in chunks
        decided = 0
        for page in dirty_people(session, self.now, full):
            handed = people.handed(page)
            rest += [
                key
                for key in page
                if key not in handed or (key in survivors and key not in deferred_survivors)
            ]
            if len(rest) >= CHECKPOINT_EVERY:
                cut = len(rest) - len(rest) % CHECKPOINT_EVERY
                self.first(rest[:cut])
                decided += cut
                rest = rest[cut:]
        self.first(rest)
        decided += len(rest)
        routed = people.deferred_count()
        middle = time.perf_counter()
        timings = self.result.timings
        before = timings.get("decide", 0.0), timings.get("write", 0.0)
        for keys in people.deferred_pages(CHECKPOINT_EVERY):  # in key order
            self._chunks(keys, defer_routing=False)
        people.clear_deferred()
        log.info(
            "decide.after_pull",
            decided=decided,
            routed=routed,
            decided_by_fast_path=self.stage.tally.decided_elsewhere,
            seconds=round(middle - tick, 2),
            routing_seconds=round(time.perf_counter() - middle, 2),
            routing_decide_seconds=round(timings.get("decide", 0.0) - before[0], 2),
            routing_write_seconds=round(timings.get("write", 0.0) - before[1], 2),
        )

    def write(self, final: bool) -> None:
        """The final write, or a write-behind: in a live run that one goes to a thread of its
        own (one at a time: while one is sending, newly decided items wait for the next), so
        deciding goes on while the CRM answers and the rate limiter paces the calls."""
        writer = self.mode.writer
        if not final and isinstance(writer, CrmApplier):
            if self._behind is None or self._behind.done():
                self._settle_behind()
                self._behind = self._writer_thread.submit(
                    contextvars.copy_context().run, self._timed, writer.send, final=False
                )
            return
        self._wait_behind()
        summary, seconds = self._timed(lambda **kw: writer.write(self.session, **kw), final=final)
        self._add_write(summary, seconds)

    def _timed(
        self, send: Callable[..., WriteSummary], *, final: bool
    ) -> tuple[WriteSummary, float]:
        tick = time.perf_counter()
        summary = send(now=self.now, run_id=self.result.run_id, final=final)
        return summary, time.perf_counter() - tick

    def _wait_behind(self) -> None:
        """Commit, then wait for the write-behind in flight: it may need rows (or SQLite's
        write lock) that this session's open transaction holds."""
        if self._behind is not None:
            self.mode.checkpoint(self.session)
            self._settle_behind()

    def _settle_behind(self) -> None:
        """Wait for the write-behind in flight (its error, if any, is raised here)."""
        if self._behind is not None:
            behind, self._behind = self._behind, None
            self._add_write(*behind.result())

    def _add_write(self, summary: WriteSummary, seconds: float) -> None:
        self.result.writes.add(summary)
        self.result.timings["write"] = self.result.timings.get("write", 0.0) + seconds

    def close(self) -> None:
        """Let the writer thread go once its write is done. (A run that got here without its
        final write is failing already: a write-behind's own error is only logged then.)"""
        behind, self._behind = self._behind, None
        if behind is not None and behind.exception() is not None:
            log.error("write.behind_failed", error=str(behind.exception()))
        self._writer_thread.shutdown(wait=True)

    def _chunks(self, keys: list[str], defer_routing: bool) -> None:
        for start in range(0, len(keys), CHECKPOINT_EVERY):
            chunk = keys[start : start + CHECKPOINT_EVERY]
            tick = time.perf_counter()
            if not self.mode.dry_run:  # nothing of ours held while waiting for the fast path
                self.mode.checkpoint(self.session)
            with self._hold(chunk):  # the fast path waits for these people until the commit
                deferred = self.stage.decide_many(chunk, defer_routing=defer_routing)
                flushed = time.perf_counter()
                self.flush()
                self.stage.tally.seconds["plan"] += time.perf_counter() - flushed
                self.mode.checkpoint(self.session)
            self.result.timings["decide"] = self.result.timings.get("decide", 0.0) + (
                time.perf_counter() - tick
            )
            if self.progress:
                self.progress("decide", len(chunk) - len(deferred))
            self.write(final=False)
