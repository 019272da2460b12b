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
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from config.model import HandoffConfig
from connectors.base import CrmConnector
from connectors.errors import ConnectorError, QuotaExhaustedError
from routing.directory import OwnerDirectory
from routing.router import Router
from routing.sla.actions import CreateTask, Flag, NotifyManager, Reassign
from routing.sla.engine import SlaEngine
from routing.sla.tables import SlaClock
from scoring import LifecyclePolicy, ScoringModel
from sync.apply import CrmApplier, DryRunRecorder, OutboxWriter, WriteSummary
from sync.decide import DecisionStage, DomainEngines, dirty_people, unmatched_owner_problems
from sync.outbox import Drift, OutboxPlanner, PlannedChange
from sync.people import OwnerBook, account_owners, load_person
from sync.pull import PullResult, PullStage
from sync.store.tables import RunRecord
from sync.store.types import utc_now

log = structlog.get_logger("handoff.pipeline")
CHECKPOINT_EVERY = 500


DECISION_LOCK = 7220312  # pg advisory lock id: one replica decides at a time


@contextmanager
def decision_lock(engine: Engine) -> Iterator[None]:
    """Serialise the decision stage across replicas (PostgreSQL). SQLite's write lock and the
    single-runner file lock already do this on one node. Held on its own connection, so it
    survives the stage's chunk commits and is released if the process dies."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({DECISION_LOCK})")
        try:
            yield
        finally:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({DECISION_LOCK})")


class RunMode:
    """Live: decisions are committed, the outbox is applied to the CRMs."""

    dry_run = False

    def __init__(self, writer: OutboxWriter) -> None:
        self.writer = writer

    def checkpoint(self, session: Session) -> None:
        session.commit()

    def finish(self, session: Session) -> None:
        session.commit()


class DryRunMode(RunMode):
    """Dry run: the same decisions, flushed then rolled back; the writer only records."""

    dry_run = True

    def __init__(self) -> None:
        super().__init__(DryRunRecorder())

    def checkpoint(self, session: Session) -> None:
        session.flush()

    def finish(self, session: Session) -> None:
        session.rollback()


@dataclass
class RunResult:
    run_id: str
    as_of: datetime
    dry_run: bool
    pulls: dict[str, PullResult] = field(default_factory=dict)
    tally: Any = None
    writes: WriteSummary = field(default_factory=WriteSummary)
    planned: list[PlannedChange] = field(default_factory=list)
    drifts: list[Drift] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    api_calls: dict[str, dict[str, int]] = field(default_factory=dict)

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
            )
        )

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
        as_of = as_of or started
        mode = self.mode(dry_run)
        result = RunResult(run_id=self._run_id(as_of, dry_run), as_of=as_of, dry_run=dry_run)
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
        tick = time.perf_counter()
        for name, connector in sorted(self.connectors.items()) if pull else ():
            try:
                if self.stopping.is_set():
                    break
                result.pulls[name] = PullStage(
                    self.engine, connector, full=full, stopping=self.stopping
                ).run(
                    until=started,
                    now=started,
                    progress=(lambda n: progress("pull", n)) if progress else None,
                )
            except QuotaExhaustedError as exc:
                result.errors.append(
                    f"{name}: daily API quota spent; pull resumes next run ({exc})"
                )
            except ConnectorError as exc:
                result.errors.append(f"{name}: pull stopped: {exc}")
        result.timings["pull"] = time.perf_counter() - tick

        tick = time.perf_counter()
        with decision_lock(self.engine), Session(self.engine) as session:
            planner = OutboxPlanner(
                session, result.run_id, as_of, {c.name: c for c in self.config.connections}
            )
            owners = OwnerBook.load(session)
            engines = DomainEngines(
                scoring=self.scoring,
                lifecycle=self.lifecycle,
                router=Router(
                    self.config.routing, OwnerDirectory.from_owners(owners.owners, as_of)
                ),
                sla=self.sla,
                owners=owners,
                account_owners=account_owners(
                    session, owners, frozenset(self.config.scoring.negative.free_mail.domains)
                ),
            )
            stage = DecisionStage(self.config, engines, planner)
            for pulled in result.pulls.values():
                for loser, survivor in sorted(pulled.merged.items()):
                    self.sla.merge(session, loser, survivor, as_of)
                for key, why in sorted(pulled.ended_keys.items()):
                    self.sla.stop_clocks(session, key, why, as_of)
            keys = dirty_people(session, as_of, full)
            for start in range(0, len(keys), CHECKPOINT_EVERY):
                chunk = keys[start : start + CHECKPOINT_EVERY]
                stage.decide_many(chunk)
                planner.flush()
                mode.checkpoint(session)
                if progress:
                    progress("decide", len(chunk))
            result.timings["decide"] = time.perf_counter() - tick
            tick = time.perf_counter()
            self._sla_actions(session, stage, engines)
            planner.flush()
            result.timings["sla"] = time.perf_counter() - tick
            result.tally = stage.tally
            result.planned = list(planner.planned)
            result.drifts = list(planner.drifts)
            tick = time.perf_counter()
            result.writes = mode.writer.write(session, as_of)
            mode.finish(session)
            result.timings["write"] = time.perf_counter() - tick
        result.errors += (
            stage.tally.problems
            + unmatched_owner_problems(stage.tally)
            + planner.unmappable_problems()
            + result.writes.errors
        )
        for name, connector in sorted(self.connectors.items()):
            result.api_calls[name] = dict(sorted(connector.usage.calls.items()))
        self._finish(result)
        structlog.contextvars.unbind_contextvars("run_id", "dry_run")
        return result

    def _sla_actions(self, session: Session, stage: DecisionStage, engines: DomainEngines) -> None:
        planner = stage.planner
        for action in self.sla.evaluate(session, planner.now):
            stage.tally.sla_actions[type(action).__name__] += 1
            person = load_person(session, action.lead_key, self.config, engines.owners)
            if isinstance(action, Flag):
                stage.tally.flags.append(
                    {
                        "person": action.lead_key,
                        "owner": action.owner_email,
                        "flag": action.kind,
                        "detail": action.detail,
                    }
                )
                continue
            if person is None:
                continue
            if isinstance(action, CreateTask | NotifyManager):
                email = (
                    action.owner_email
                    if isinstance(action, CreateTask)
                    else self._manager_of(action.territory) or action.owner_email
                )
                for record in person.write_targets()[:1]:
                    owner_id = engines.owners.id_for(record.connection, email)
                    if owner_id is None:
                        stage.tally.problems.append(
                            f"{record.connection}: SLA task for {email}, who has no user there"
                        )
                        continue
                    planner.create_task(
                        record.connection,
                        record.object_type,
                        record.crm_id,
                        task_key=action.task_key,
                        owner_id=owner_id,
                        subject=action.subject,
                        body=action.body,
                        due_at=action.due_at,
                        reason=f"SLA {action.rung}",
                    )
            elif isinstance(action, Reassign):
                decision = engines.router.escalate(
                    session,
                    person.routing_lead(),
                    planner.now,
                    previous_owner=action.from_email,
                    lane="fast" if action.lane == "fast" else "nurture",
                )
                if decision.owner_email:
                    stage.reassign(person, decision, action.lane)

    def _manager_of(self, territory: str | None) -> str | None:
        for candidate in self.config.routing.territories:
            if candidate.name == territory:
                return candidate.manager
        return None

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
        log.info("run.done", status=result.status, **record_counts(result))


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
