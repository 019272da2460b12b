"""One run: pull -> decide (score, lifecycle, route, SLA) -> plan -> write, with a run record.

A dry run is this same pipeline with two parts swapped (`RunMode`): decisions are flushed and rolled
back instead of committed, and the outbox writer is a recorder instead of the CRM applier.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from config.model import HandoffConfig
from connectors.base import CrmConnector
from routing.sla.engine import SlaEngine
from routing.sla.tables import SlaClock
from scoring import LifecyclePolicy, ScoringModel
from sync.apply import CrmApplier, DryRunRecorder, OutboxWriter, WriteSummary
from sync.decision_tally import unmatched_owner_problems
from sync.escalation import RUNG_WAIT, plan_sla_actions
from sync.feed import PullFeed
from sync.ledger import LedgerView, RunLedger
from sync.passes import CHECKPOINT_EVERY, DecisionPasses, decision_lock
from sync.planned_change import Drift, PlannedChange
from sync.process_memory import released_while_running
from sync.pull import PullResult
from sync.report.change_row import RecordLinks
from sync.report.early_rows import EarlyRows
from sync.report.render import csv_values
from sync.report.snapshot import read_store
from sync.run_people import RunPeople
from sync.store.statistics import StatisticsRefresher
from sync.store.tables import RunRecord
from sync.store.types import utc_now
from sync.webhooks import WebhookSender

log = structlog.get_logger("handoff.pipeline")


class RunMode:
    """Live: decisions are committed, the outbox is applied to the CRMs."""

    dry_run = False
    streams = True  # decide behind the pull, as its pages land

    def __init__(self, writer: OutboxWriter) -> None:
        self.writer = writer

    def checkpoint(self, session: Session) -> None:
        session.commit()

    def finish(self, session: Session) -> None:
        session.commit()


class DryRunMode(RunMode):
    """Dry run: the same decisions, flushed then rolled back; the writer only records."""

    dry_run = True
    streams = False  # its one open transaction would hold the store's write lock against the pull

    def __init__(self) -> None:
        super().__init__(DryRunRecorder())

    def checkpoint(self, session: Session) -> None:
        session.flush()

    def finish(self, session: Session) -> None:
        session.rollback()


@dataclass
class RunResult:
    """One run's outcome. Its planned changes and write outcomes live in its ledger on disk
    (`planned` and `writes.items` read them back on demand): the run holds counts, not rows."""

    run_id: str
    as_of: datetime
    dry_run: bool
    pulls: dict[str, PullResult] = field(default_factory=dict)
    tally: Any = None
    ledger: RunLedger = field(default_factory=RunLedger, repr=False)
    writes: WriteSummary = field(init=False)
    planned: LedgerView | list[PlannedChange] = field(init=False)
    drifts: list[Drift] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # sources a connection could not read (its CRM tier, its scopes): the run still counts
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    api_calls: dict[str, dict[str, int]] = field(default_factory=dict)  # this run's only
    store: Any = None  # the report's view of the store as the run leaves it (sync.report.snapshot)

    def __post_init__(self) -> None:
        self.planned = self.ledger.planned
        self.writes = WriteSummary(items=self.ledger.written)  # type: ignore[arg-type]

    @property
    def status(self) -> str:
        return "ok" if not self.errors else "partial"


class Pipeline:
    def __init__(
        self,
        config: HandoffConfig,
        engine: Engine,
        connectors: Mapping[str, CrmConnector],
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self.engine = engine
        self.connectors = dict(connectors)
        self.clock = clock
        self.scoring = ScoringModel.from_config(config.scoring)
        self.lifecycle = LifecyclePolicy.from_config(config.lifecycle)
        self.sla = SlaEngine(config.sla)
        self.stopping = threading.Event()  # set on SIGTERM: finish the batch in flight, then stop

    def mode(self, dry_run: bool) -> RunMode:
        if dry_run:
            return DryRunMode()
        return RunMode(
            CrmApplier(
                self.engine,
                self.connectors,
                max_attempts=self.config.sync.max_attempts,
                retry_backoff=self.config.sync.retry_backoff,
                stopping=self.stopping,
                webhook=WebhookSender(url) if (url := self.config.sla.webhook_url) else None,
                connections={c.name: c for c in self.config.connections},
            )
        )

    def _sla_step(
        self,
        session: Session,
        passes: DecisionPasses,
        mode: RunMode,
        as_of: datetime,
        *,
        live: bool,
    ) -> None:
        """The ladder rungs due: at the run's moment (a replay, a dry run), or, live, at the
        present; and a short live run waits (at most RUNG_WAIT, holding nothing) for a rung of
        its handoffs (clocks started at its moment) falling due that soon: a fast lane's "task
        the owner at once" a moment after the handoff is not left to the next SLA check."""
        engines = passes.engines
        now = self.clock() if live else as_of
        plan_sla_actions(session, self.config, passes.stage, engines, now=now)
        passes.flush()
        if not live or now - as_of > RUNG_WAIT:  # a long run's quick rungs are past: fired
            return
        due = self.sla.next_rung_due(session, started_since=as_of)
        if due is not None and due - self.clock() <= RUNG_WAIT:
            mode.checkpoint(session)
            self.stopping.wait(max(0.0, (due - self.clock()).total_seconds()))
            plan_sla_actions(session, self.config, passes.stage, engines, now=self.clock())
            passes.flush()

    def run(
        self,
        *,
        as_of: datetime | None = None,
        dry_run: bool = False,
        full: bool = False,
        pull: bool = True,
        progress: Callable[[str, int], None] | None = None,
    ) -> RunResult:
        """One run. `pull=False` decides from the store alone (the minutely SLA check)."""
        started = self.clock()
        # a live run at the present: people the fast path decides beside it after this moment
        # are not decided again by it (sync/decide.py); a replay at a given moment decides all
        decided_after = started if as_of is None and not dry_run else None
        as_of = as_of or started
        mode = self.mode(dry_run)
        result = RunResult(run_id=self._run_id(as_of, dry_run), as_of=as_of, dry_run=dry_run)
        result.ledger.early = EarlyRows(  # written changes' report rows, made as they land
            result.ledger.directory, RecordLinks(self.config), csv_values
        )
        calls_before = {n: dict(c.usage.calls) for n, c in self.connectors.items()}
        structlog.contextvars.bind_contextvars(run_id=result.run_id, dry_run=dry_run)
        with Session(self.engine) as session:
            session.add(
                RunRecord(
                    id=result.run_id,
                    started_at=started,
                    as_of=as_of,
                    dry_run=dry_run,
                    worker=f"{socket.gethostname()}:{os.getpid()}",
                )
            )
            session.commit()
        feed = PullFeed(
            self.engine,
            self.connectors if pull else {},
            until=started,
            now=started,
            full=full,
            stopping=self.stopping,
            progress=progress,
            stream=mode.streams,
            people=RunPeople(result.ledger),
        )
        domain = (self.scoring, self.lifecycle, self.sla)
        tick = time.perf_counter()
        statistics = StatisticsRefresher(self.engine)  # ANALYZE beside the decide stage
        with (
            released_while_running(),
            feed,
            ExitStack() as held,
            Session(self.engine) as session,
            _statistics_timed(statistics, result),
        ):

            def begin() -> DecisionPasses:
                held.enter_context(decision_lock(self.engine))
                passes = DecisionPasses(
                    self.config,
                    domain,
                    session,
                    mode,
                    result,
                    progress,
                    decided_after=decided_after,
                )
                held.callback(passes.close)
                return passes

            passes: DecisionPasses | None = None
            feed.start()
            for chunk in feed.ready(CHECKPOINT_EVERY):  # while the pull runs
                passes = passes or begin()
                passes.first(chunk)
                statistics.request()  # the store grows: tables past the threshold analysed
            result.timings["pull"] = time.perf_counter() - tick
            result.pulls, result.errors = feed.results, feed.errors
            result.warnings = sorted(set(feed.warnings))
            passes = passes or begin()
            statistics.request()  # the store just grew: plan on what it holds now
            passes.after_pull(result.pulls, full)
            statistics.request()  # and again after the routing pass's plans
            tick = time.perf_counter()
            self._sla_step(session, passes, mode, as_of, live=decided_after is not None)
            result.timings["sla"] = time.perf_counter() - tick
            stage, planner = passes.stage, passes.planner
            result.tally = stage.tally
            result.timings |= {f"decide.{k}": v for k, v in sorted(stage.tally.seconds.items())}
            result.drifts = list(planner.drifts)
            tick = time.perf_counter()
            passes.write(final=True)
            log.info("write.final", seconds=round(time.perf_counter() - tick, 2))
            tick = time.perf_counter()
            result.store = read_store(session, self.config, self.sla, result)
            result.timings["report_view"] = time.perf_counter() - tick
            mode.finish(session)
        result.errors += (
            stage.tally.problems
            + unmatched_owner_problems(stage.tally)
            + planner.unmappable_problems()
            + result.writes.errors
        )
        for name, connector in sorted(self.connectors.items()):  # a worker's connectors live on
            before = calls_before.get(name, {})
            result.api_calls[name] = {
                endpoint: n - before.get(endpoint, 0)
                for endpoint, n in sorted(connector.usage.calls.items())
                if n > before.get(endpoint, 0)
            }
        self._finish(result)
        structlog.contextvars.unbind_contextvars("run_id", "dry_run")
        return result

    def _run_id(self, as_of: datetime, dry_run: bool) -> str:
        scope = "+".join(sorted(self.connectors)) or "store"
        prefix = f"{as_of:%Y%m%dT%H%M%SZ}-{'dry' if dry_run else 'live'}-{scope}"
        with Session(self.engine) as session:
            n = session.exec(
                select(func.count())
                .select_from(RunRecord)
                .where(col(RunRecord.id).startswith(prefix))
            ).one()
        return f"{prefix}-{n + 1}"

    def _finish(self, result: RunResult) -> None:
        with Session(self.engine) as session:
            record = session.get_one(RunRecord, result.run_id)
            record.finished_at = self.clock()
            record.status = result.status
            record.counts = {
                "people_pulled": sum(p.people for p in result.pulls.values()),
                "activities_pulled": sum(p.activities for p in result.pulls.values()),
                "scored": result.tally.scored if result.tally else 0,
                "planned": len(result.planned),
                **{f"write_{k}": v for k, v in sorted(result.writes.counts.items())},
            }
            record.timings = {k: round(v, 4) for k, v in result.timings.items()}
            record.api_calls = result.api_calls
            record.errors = result.errors
            session.add(record)
            session.commit()
        for warning in result.warnings:
            log.warning("run.warning", warning=warning)
        log.info("run.done", status=result.status, **record_counts(result))


@contextmanager
def _statistics_timed(statistics: StatisticsRefresher, result: RunResult) -> Iterator[None]:
    """The run's background ANALYZE: waited for as the run's block ends (after its final write),
    its seconds in the run's timings (`statistics`: analysing, beside the run; `statistics_wait`:
    what the run waited for it at its end)."""
    try:
        yield
    finally:
        tick = time.perf_counter()
        statistics.close()
        result.timings["statistics"] = statistics.seconds
        result.timings["statistics_wait"] = time.perf_counter() - tick


def open_leads_by_owner(session: Session) -> dict[str, int]:
    """Leads handed to each rep and not touched yet (running SLA clocks): capacity input."""
    rows = session.exec(
        select(SlaClock.owner_email, func.count())
        .where(col(SlaClock.ended_at).is_(None), col(SlaClock.first_touch_at).is_(None))
        .group_by(SlaClock.owner_email)
    ).all()
    return {email: int(n) for email, n in rows}


def record_counts(result: RunResult) -> dict[str, int]:
    return {
        "planned": len(result.planned),
        "written": len(result.writes.items),
        "errors": len(result.errors),
    }
