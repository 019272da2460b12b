"""`handoff sync --only <email | CRM id>`: the pipeline for one person, nobody else.

Pull: the person's records and activities are read again through their connectors and mirrored
into the store. Decide: the same decision stage a run uses (score, lifecycle, route, SLA clock)
for that person alone, holding their decision lock (sync/person_lock.py), so it may run beside a
scheduled run (the speed-to-lead fast path does). Apply: this run's outbox items, and the field
writes other runs left pending for this person's records (a bulk run that decided them a moment
ago writes in whole chunks: their owner would otherwise reach the CRM after their task); other
people's pending items wait for the next full run. The SLA ladder is not evaluated: it acts for every clock,
so it runs with the next full sync or the worker's SLA check.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from sync.apply import CrmApplier, WriteSummary
from sync.decision_tally import unmatched_owner_problems
from sync.explain.live import pull_person
from sync.explain.lookup import find_person
from sync.owners import owners_for_new_connections
from sync.passes import DecisionPasses
from sync.people import OwnerBook, account_owners
from sync.person_lock import person_locks
from sync.pipeline import RunResult
from sync.store.activities import store_activities
from sync.store.tables import PersonRecord, RunRecord
from sync.store.types import utc_now

if TYPE_CHECKING:
    from sync.runtime import Runtime

CLAIM_ATTEMPTS = 50  # runs started in the same second by one process's deciders, at most


def sync_one(
    runtime: Runtime, who: str, *, as_of: datetime | None, dry_run: bool
) -> tuple[str, RunResult]:
    """Pull, decide and write one person; their person key and the run's result."""
    config, engine, pipeline = runtime.config, runtime.engine, runtime.pipeline
    started = utc_now()
    decided_after = started if as_of is None and not dry_run else None  # see sync/decide.py
    as_of = as_of or started
    with Session(engine) as session:
        key = find_person(session, who)
        owners_for_new_connections(session, runtime.connectors)  # a first sync may not have yet
        person, notes = pull_person(
            session, config, key, OwnerBook.load(session), runtime.connectors
        )
        for record in person.records:  # mirror what the CRM holds now, as a pull would
            row = session.get(PersonRecord, (record.connection, record.crm_id))
            if row is not None:
                row.fields = dict(record.fields)
                session.add(row)
        store_activities(session, person.activities)
        session.commit()
    mode = pipeline.mode(dry_run)
    result = RunResult(
        run_id=claim_run(engine, list(runtime.connectors), as_of, dry_run, started),
        as_of=as_of,
        dry_run=dry_run,
    )
    result.errors += notes
    domain = (pipeline.scoring, pipeline.lifecycle, pipeline.sla)
    with person_locks(engine, [key]), Session(engine) as session:
        passes = DecisionPasses(config, domain, session, mode, result, decided_after=decided_after)
        try:
            engines = passes.engines
            if config.routing.account_owner_from_contacts:  # opt-in, as in a run (passes.py)
                free_mail = frozenset(config.scoring.negative.free_mail.domains)
                engines.account_owners = account_owners(
                    session, engines.owners, free_mail, _domains(person.records)
                )
            passes.stage.decide_many([key], defer_routing=False)
            passes.flush()
            result.tally = passes.stage.tally
            result.drifts = list(passes.planner.drifts)
            if dry_run:
                mode.finish(session)
            else:
                session.commit()  # the decisions land before any CRM call
                records = {record.crm_id for record in person.records}
                result.writes.add(_write_this_run(runtime, mode.writer, result))
                result.writes.add(_write_this_run(runtime, mode.writer, result, records))
        finally:
            passes.close()
    result.errors += (
        result.tally.problems
        + unmatched_owner_problems(result.tally)
        + passes.planner.unmappable_problems()
        + result.writes.errors
    )
    pipeline._finish(result)
    return key, result


def _domains(records: Iterable[Any]) -> list[str]:
    """The company domains of this person's records (their account owner guess reads only
    these domains' people)."""
    found = (record.fields.get("company_domain") for record in records)
    return sorted({str(domain).lower() for domain in found if domain})


def _write_this_run(
    runtime: Runtime, writer: object, result: RunResult, records: set[str] | None = None
) -> WriteSummary:
    """This run's items (a send that is not final writes this run's pending items in full
    chunks; with one record per chunk every chunk is full), or, given `records`, the field writes
    still pending for those records, whichever run planned them."""
    assert isinstance(writer, CrmApplier)
    writer.chunk_records = 1  # this writer only: a worker's bulk run shares the connectors
    return writer.send(
        result.as_of, run_id=result.run_id, final=False, record_ids=records, one_person=True
    )


def claim_run(
    engine: Engine, connections: list[str], as_of: datetime, dry_run: bool, started: datetime
) -> str:
    """Record a new run and give its id: the next free number for its second. Several fast-path
    deciders start runs in the same second: one that finds its number taken meanwhile takes the
    next (two deciders took the same id, and the second's decision failed on the runs table)."""
    for _ in range(CLAIM_ATTEMPTS):
        run_id = _run_id(engine, connections, as_of, dry_run)
        with Session(engine) as session:
            session.add(RunRecord(id=run_id, started_at=started, as_of=as_of, dry_run=dry_run))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                continue
        return run_id
    raise RuntimeError(f"no free run id for {as_of.isoformat()} after {CLAIM_ATTEMPTS} attempts")


def _run_id(engine: Engine, connections: list[str], as_of: datetime, dry_run: bool) -> str:
    scope = "+".join(sorted(connections)) or "store"
    prefix = f"{as_of:%Y%m%dT%H%M%SZ}-{'dry' if dry_run else 'live'}-only-{scope}"
    with Session(engine) as session:
        n = session.exec(
            select(func.count()).select_from(RunRecord).where(col(RunRecord.id).startswith(prefix))
        ).one()
    return f"{prefix}-{n + 1}"


def run_only(runtime: Runtime, who: str, *, dry_run: bool, as_of: datetime | None) -> None:
    """The command: one person's run, what it changed (or would), and its warnings."""
    from config.cli import fail
    from connectors.errors import ConnectorError
    from sync.runtime import err, out

    try:
        key, result = sync_one(runtime, who, as_of=as_of, dry_run=dry_run)
    except (LookupError, ConnectorError) as exc:
        raise fail(str(exc).strip("'\"")) from None
    verb = "would write" if dry_run else "written"
    written = len(result.planned) if dry_run else len(result.writes.items)
    out.print(
        f"run {result.run_id} (only {key}{', dry run' if dry_run else ''}): "
        f"{len(result.planned)} change(s) planned, {written} {verb}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    for change in result.planned:
        what = (
            f"task {change.value!r}"
            if change.kind == "task"
            else f"{change.field} = {change.value!r}"
        )
        out.print(
            f"  {change.connection} {change.object_type} {change.record_id}: {what} ({change.reason})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    for error in result.errors:
        err.print(f"warning: {error}", highlight=False, markup=False, soft_wrap=True)
    runtime.last_status = result.status
