"""The assignment ledger and the rotation locks, scoped to the caller's transaction.

- `lock_rotation` returns a territory's rotation row locked until the transaction ends:
  `SELECT ... FOR UPDATE` on PostgreSQL; on SQLite (no row locks) a no-op write first takes the
  database write lock, so a second worker waits instead of reading a stale rotation. Within one
  transaction the row is locked once and then reused, so routing a batch costs one lock per
  territory; its changes are flushed by the ORM before the commit.
- `record` queues an assignment row for the caller's transaction and keeps the per-rep counts
  cached for this transaction up to date. Queued rows are inserted in one statement before the
  session runs any query (`do_orm_execute`) and before it commits, so whoever reads through the
  session sees them; only SQL sent around the session (its raw connection) would not.
- `decided` finds a decision already recorded under its key (lead, moment, purpose): a run killed
  after its decision committed and resumed at the same moment reuses it instead of routing the
  lead again (its one query sends nothing queued: a batch's rows go in one statement at its end), so the ledger, the rotation and the per-rep counts take each decision once (the key
  is unique in the table too: a second row for one decision is never inserted).
- `recorded` tells which of a chunk's decision keys are recorded, in one query: the decider
  holds those people (sync/person_lock.py) and the key names its own moment, so a key absent
  then is absent when the person is routed, and the router skips `decided` for it.
- `latest` reads each lead's last assignment: the owner Handoff decided and the one it overrode.
- `assignments_since` counts a rep's assignments since a moment (capacity), read once per
  transaction and rep, then counted forward in memory. A rep listed in two territories that two
  workers route at the same moment may therefore be over capacity by the few leads in flight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, event, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session, col

from routing.tables import Assignment, RotationState
from sync.store.key_in import key_in

_STATE_KEY = "handoff.routing.transaction"
_HOOKED = "handoff.routing.hooked"
_ASSIGNMENTS: Table = Assignment.__table__  # type: ignore[attr-defined]


@dataclass
class _TransactionState:
    transaction: object
    connection: Connection
    rotations: dict[str, RotationState] = field(default_factory=dict)
    counts: dict[str, dict[datetime, int]] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)

    def write_pending(self) -> None:
        if self.pending:
            rows, self.pending = self.pending, []
            dialect = self.connection.dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            once = insert(_ASSIGNMENTS).on_conflict_do_nothing(index_elements=["decision_key"])
            self.connection.execute(once, rows)  # a decision recorded twice stays one row


def _state(session: Session) -> _TransactionState:
    state: _TransactionState | None = session.info.get(_STATE_KEY)
    transaction = session.get_transaction()
    if state is None or transaction is None or state.transaction is not transaction:
        if _HOOKED not in session.info:
            session.info[_HOOKED] = True
            event.listen(session, "before_commit", _write_pending)
            event.listen(session, "do_orm_execute", _write_pending_before_query)
        connection = session.connection()  # begins the transaction if there is none yet
        state = _TransactionState(session.get_transaction(), connection)
        session.info[_STATE_KEY] = state
    return state


def _write_pending(session: Session) -> None:
    state: _TransactionState | None = session.info.get(_STATE_KEY)
    if state is not None and state.transaction is session.get_transaction():
        state.write_pending()


def _write_pending_before_query(orm_execute_state: ORMExecuteState) -> None:
    _write_pending(orm_execute_state.session)  # type: ignore[arg-type]


def lock_rotation(session: Session, territory: str) -> RotationState:
    """The territory's rotation row, locked until the caller's transaction ends."""
    state = _state(session)
    row = state.rotations.get(territory)
    if row is not None and row in session:
        return row
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(RotationState)
            .where(col(RotationState.territory) == territory)
            .values(turn=col(RotationState.turn))
            .execution_options(synchronize_session=False)
        )
    row = session.get(RotationState, territory, with_for_update=True, populate_existing=True)
    if row is None:
        _create_rotation(session, territory)
        row = session.get(RotationState, territory, with_for_update=True, populate_existing=True)
        assert row is not None
    state.rotations[territory] = row  # also keeps it alive: the identity map holds weak refs
    return row


def _create_rotation(session: Session, territory: str) -> None:
    """Insert the row unless another worker just did (no error either way)."""
    values = {"territory": territory, "turn": 0, "current_weights": {}}
    if session.get_bind().dialect.name == "postgresql":
        session.execute(pg_insert(RotationState).values(**values).on_conflict_do_nothing())
    else:
        session.execute(sqlite_insert(RotationState).values(**values).on_conflict_do_nothing())


def assignments_since(session: Session, email: str, since: datetime) -> int:
    """How many leads `email` was assigned at or after `since` (this transaction included)."""
    per_rep = _state(session).counts.setdefault(email, {})
    count = per_rep.get(since)
    if count is None:
        query = select(func.count()).where(
            col(Assignment.owner_email) == email, col(Assignment.assigned_at) >= since
        )
        count = int(session.execute(query).scalar_one())  # writes pending rows first
        per_rep[since] = count
    return count


def decided(session: Session, decision_key: str) -> Assignment | None:
    """The assignment already recorded for this decision (this transaction's included): one
    queued in this transaction is found where it waits, the others are read through the
    transaction's connection, which neither sends the queued rows nor flushes the session first
    (on PostgreSQL each would be a round trip of its own per decision)."""
    state = _state(session)
    for row in state.pending:
        if row.get("decision_key") == decision_key:
            return Assignment(**row)
    query = select(_ASSIGNMENTS).where(_ASSIGNMENTS.c.decision_key == decision_key).limit(1)
    found = state.connection.execute(query).mappings().first()
    return None if found is None else Assignment(**found)


def recorded(session: Session, decision_keys: list[str]) -> set[str]:
    """Which of these decisions are recorded (committed, or in this transaction), 500 keys a
    query: a decider holding a chunk's people asks once for all of them, not once a person."""
    state: _TransactionState | None = session.info.get(_STATE_KEY)
    found: set[str] = set()
    if state is not None and state.transaction is session.get_transaction():
        wanted = set(decision_keys)  # queued in this transaction, not sent yet
        found.update(k for row in state.pending if (k := row.get("decision_key")) in wanted)
    for start in range(0, len(decision_keys), 500):
        query = select(_ASSIGNMENTS.c.decision_key).where(
            key_in(_ASSIGNMENTS.c.decision_key, decision_keys[start : start + 500])
        )
        found.update(session.execute(query).scalars())
    return found


@dataclass(frozen=True, slots=True)
class LastAssignment:
    owner_email: str
    source_owner_email: str | None  # what the owning CRM held when Handoff decided


def latest(session: Session, lead_keys: list[str]) -> dict[str, LastAssignment]:
    """Each lead's last assignment (by moment, then insertion), a chunk in a few queries."""
    out: dict[str, LastAssignment] = {}
    columns: tuple[Any, ...] = (
        Assignment.lead_key,
        Assignment.owner_email,
        Assignment.source_owner_email,
    )
    for start in range(0, len(lead_keys), 500):
        query = (
            select(*columns)
            .where(key_in(col(Assignment.lead_key), lead_keys[start : start + 500]))
            .order_by(col(Assignment.assigned_at), col(Assignment.id))
        )
        for key, owner, source in session.execute(query):
            out[key] = LastAssignment(owner, source)
    return out


def record(session: Session, **row: Any) -> None:
    """Insert one assignment in the caller's transaction (columns of `Assignment`)."""
    state = _state(session)
    state.pending.append(row)
    assigned_at: datetime = row["assigned_at"]
    per_rep = state.counts.get(row["owner_email"])
    if per_rep:
        for since in per_rep:
            if assigned_at >= since:
                per_rep[since] += 1
