"""What the report needs from the state store, read by the pipeline at the run's end.

The pipeline reads it inside its decision session, after the final write and before the session
commits (live) or rolls back (dry run): so a dry run reports the funnel, scores, SLA clocks and
assignments its decisions would leave, exactly as a live run reports the ones it left.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, column, func, true
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from config.model import HandoffConfig
from routing.sla.engine import SlaEngine
from routing.sla.tables import SlaClock
from routing.tables import Assignment
from sync.ledger_notes import SORTS, DecisionNotes, name_people
from sync.ledger_store import name_records, settle_from
from sync.record_names import Person
from sync.record_names import person_of as _person
from sync.store.key_in import key_in
from sync.store.tables import OutboxItem, PersonRecord, PersonState

if TYPE_CHECKING:
    from sync.pipeline import RunResult

WINDOW = timedelta(days=30)  # SLA clocks and assignments: the last 30 days up to the run
CHUNK = 500  # keys per IN (...) list


@dataclass(frozen=True)
class DeadLetter:
    key: str
    connection: str
    object_type: str
    record_id: str
    field: str
    attempts: int
    last_error: str | None


@dataclass
class StoreView:
    stages: dict[str, int] = field(default_factory=dict)  # person_state.stage -> people
    scores: dict[int, int] = field(default_factory=dict)  # score -> people
    sla: Any = None  # SlaMetrics over [as_of - WINDOW, as_of]
    assigned_window: dict[str, int] = field(default_factory=dict)  # rep -> assignments in WINDOW
    open_leads: dict[str, int] = field(default_factory=dict)  # rep -> running untouched clocks
    dead: list[DeadLetter] = field(default_factory=list)
    # (connection, id) of drifts and dead letters; a change's record is named in the run's ledger
    records: dict[tuple[str, str], Person] = field(default_factory=dict)


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = sorted(set(values))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _named_person(row: Any) -> Person:
    """Who a row of `_named_records()` is."""
    name = f"{row.first_name or ''} {row.last_name or ''}".strip()
    email = str(row.field_email or row.email or "")
    return Person(row.person_key, name, email, str(row.company or ""))


def _named_records() -> Any:
    """PostgreSQL: a record's name, email and company out of its `fields` in one parse of the
    document (`json_to_record`), not the whole document to the worker (about half the time to
    name 200,000 records; each `->>` would parse it again)."""
    named = (
        func.json_to_record(col(PersonRecord.fields))
        .table_valued(
            column("first_name", Text),
            column("last_name", Text),
            column("email", Text),
            column("company", Text),
        )
        .render_derived(name="named", with_types=True)
    )
    return (
        sa_select(
            col(PersonRecord.connection),
            col(PersonRecord.crm_id),
            col(PersonRecord.person_key),
            col(PersonRecord.email),
            named.c.first_name,
            named.c.last_name,
            named.c.email.label("field_email"),
            named.c.company,
        )
        .select_from(PersonRecord)
        .join(named, true())
    )


def read_store(
    session: Session, config: HandoffConfig, sla: SlaEngine, result: RunResult
) -> StoreView:
    """The store as this run leaves it (or, in a dry run, would leave it)."""
    view = StoreView()
    view.stages = {
        str(stage): int(n)
        for stage, n in session.execute(
            sa_select(col(PersonState.stage), func.count()).group_by(col(PersonState.stage))
        )
    }
    view.scores = {
        int(score): int(n)
        for score, n in session.execute(
            sa_select(col(PersonState.score), func.count()).group_by(col(PersonState.score))
        )
    }
    since = result.as_of - WINDOW
    # [since, as_of]: this run's own clocks and rungs count (the engine's window is half-open)
    view.sla = sla.metrics(session, since, result.as_of + timedelta(microseconds=1))
    view.assigned_window = {
        str(email): int(n)
        for email, n in session.execute(
            sa_select(col(Assignment.owner_email), func.count())
            .where(
                col(Assignment.assigned_at) >= since, col(Assignment.assigned_at) <= result.as_of
            )
            .group_by(col(Assignment.owner_email))
        )
    }
    view.open_leads = {
        str(email): int(n)
        for email, n in session.execute(
            sa_select(col(SlaClock.owner_email), func.count())
            .where(col(SlaClock.ended_at).is_(None), col(SlaClock.first_touch_at).is_(None))
            .group_by(col(SlaClock.owner_email))
        )
    }
    view.dead = [  # plain rows: the session commits (expiring its objects) before the report
        DeadLetter(*row)
        for row in session.execute(
            sa_select(
                col(OutboxItem.key),
                col(OutboxItem.connection),
                col(OutboxItem.object_type),
                col(OutboxItem.record_id),
                col(OutboxItem.field),
                col(OutboxItem.attempts),
                col(OutboxItem.last_error),
            )
            .where(col(OutboxItem.status) == "dead")
            .order_by(col(OutboxItem.key))
        )
    ]
    settle_from(result.ledger, session)  # planned, not written: rejected, dead, left pending ...
    if session.get_bind().dialect.name == "postgresql":
        name_records(result.ledger, session, _named_person, _named_records())
    else:  # SQLite parses a document once per json_extract: the whole one, parsed here once
        name_records(result.ledger, session, _person)
    _read_people(session, view, result)
    return view


def _read_people(session: Session, view: StoreView, result: RunResult) -> None:
    """Name, email and company of the drifted and dead records, and of the people in the
    decision rows (assignments, flags, disagreements, duplicates)."""
    records: set[tuple[str, str]] = set()
    records.update((d.connection, d.record_id) for d in result.drifts)
    records.update((d.connection, d.record_id) for d in view.dead)
    by_connection: dict[str, list[str]] = {}
    for connection, record_id in records:
        by_connection.setdefault(connection, []).append(record_id)
    columns: tuple[Any, ...] = (
        PersonRecord.connection,
        PersonRecord.crm_id,
        PersonRecord.person_key,
        PersonRecord.email,
        PersonRecord.fields,
    )
    for connection, ids in sorted(by_connection.items()):
        for chunk in _chunks(ids):
            for row in session.execute(
                sa_select(*columns).where(
                    col(PersonRecord.connection) == connection,
                    key_in(col(PersonRecord.crm_id), chunk),
                )
            ):
                view.records[(row.connection, row.crm_id)] = _person(row)
    tally = result.tally
    if tally is not None:
        for kind, sort in SORTS.items():  # rows kept in memory (not by DecisionPasses): to disk
            rows = getattr(tally, kind)
            if not isinstance(rows, DecisionNotes):
                for row in rows:
                    result.ledger.note(kind, row, sort)
                setattr(tally, kind, DecisionNotes(result.ledger, kind))
    name_people(result.ledger, session, _person)
