"""Starting first-touch clocks at handoff, a chunk of leads at a time.

`start_clocks` does what one `SlaEngine.start_clock` call per lead would, in order, with one query
for the chunk's leads and one multi-row insert: a clock already started for the same lead, owner
and moment is kept (idempotent); so is an open clock of the same owner and lane whose first touch
is still owed (the same handoff, decided again: by the fast path and a scheduled run a moment
apart, say; a new clock would reset its due time and task the owner twice); otherwise the lead's
open clocks end as `reassigned` and the new clock starts, unless no policy watches the lane. A
lead started twice in one chunk ends its first new clock like any other open one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col

from routing.sla.actions import stable_key
from routing.sla.tables import SlaClock
from sync.store.key_in import key_in

if TYPE_CHECKING:
    from routing.sla.engine import SlaEngine

_CLOCKS: Any = SlaClock.__table__  # type: ignore[attr-defined]
QUERY_CHUNK = 500  # lead keys per IN (...) list


@dataclass(frozen=True, slots=True)
class ClockStart:
    """One handoff: `owner_email` now owns `lead_key` from `started_at`."""

    lead_key: str
    owner_email: str
    lane: str
    started_at: datetime
    territory: str | None = None
    stage: str | None = None
    context: tuple[str, ...] = ()

    @property
    def owner(self) -> str:
        return self.owner_email.strip().lower()

    @property
    def clock_id(self) -> str:
        return stable_key("sla-clock", self.lead_key, self.owner, self.started_at.isoformat())


def start_clocks(engine: SlaEngine, session: Session, starts: Sequence[ClockStart]) -> list[str]:
    """Start these clocks in order; the ids of the clocks that now run for them (new or kept).

    A start whose lane no policy watches ends the lead's open clocks and returns no id."""
    for start in starts:
        if start.started_at.tzinfo is None:
            raise ValueError(f"started_at {start.started_at!r} is naive: pass a tz-aware datetime")
    leads = sorted({s.lead_key for s in starts})
    ids = {s.clock_id for s in starts}
    existing: set[str] = set()
    open_by_lead: dict[str, list[Any]] = {}  # ORM clocks and new rows (dicts), oldest first
    for begin in range(0, len(leads), QUERY_CHUNK):
        query = (
            select(SlaClock)
            .where(key_in(col(SlaClock.lead_key), leads[begin : begin + QUERY_CHUNK]))
            .where(col(SlaClock.ended_at).is_(None) | col(SlaClock.id).in_(ids))
            .order_by(col(SlaClock.started_at), col(SlaClock.id))
        )
        for clock in session.scalars(query):
            if clock.id in ids:
                existing.add(clock.id)
            if clock.ended_at is None:
                open_by_lead.setdefault(clock.lead_key, []).append(clock)
    rows: list[dict[str, Any]] = []
    running: list[str] = []
    for start in starts:
        clock_id = start.clock_id
        if clock_id in existing:
            running.append(clock_id)
            continue
        owed = _owed_by(open_by_lead.get(start.lead_key, []), start)
        if owed is not None:
            running.append(owed)
            continue
        at = start.started_at.astimezone(UTC)
        for clock in open_by_lead.pop(start.lead_key, []):
            _end(clock, at)
        row = _new_clock(engine, start, clock_id, at)
        if row is not None:
            rows.append(row)
            existing.add(clock_id)
            open_by_lead[start.lead_key] = [row]
            running.append(clock_id)
    if rows:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert(_CLOCKS).on_conflict_do_nothing(), rows)
    return running


def _owed_by(clocks: list[Any], start: ClockStart) -> str | None:
    """The id of the open clock this start hands on again: the same owner, in the same lane,
    still owing the first touch (None: the start is a new handoff)."""
    for clock in clocks:
        value = clock.get if isinstance(clock, dict) else partial(getattr, clock)
        if (
            value("owner_email") == start.owner
            and value("lane") == start.lane
            and value("first_touch_at") is None
        ):
            return str(value("id"))
    return None


def _end(clock: Any, at: datetime) -> None:
    """A new owner took over: the running clock ends as reassigned."""
    started = clock["started_at"] if isinstance(clock, dict) else clock.started_at
    values = {"ended_at": max(at, started), "end_reason": "reassigned", "cadence_done": True}
    if isinstance(clock, dict):
        clock.update(values)
    else:
        for name, value in values.items():
            setattr(clock, name, value)


def _new_clock(
    engine: SlaEngine, start: ClockStart, clock_id: str, at: datetime
) -> dict[str, Any] | None:
    found = engine.config.policy_for(start.lane, start.stage)
    if found is None:  # e.g. moved to a lane without an SLA: the old clock still ends
        return None
    policy_name, policy = found
    owner = start.owner
    calendar_name = engine.config.calendar_for(policy, owner_email=owner, territory=start.territory)
    calendar = engine.calendars[calendar_name]
    cadence = policy.cadence
    return {
        "id": clock_id,
        "lead_key": start.lead_key,
        "owner_email": owner,
        "lane": start.lane,
        "stage": start.stage,
        "territory": start.territory,
        "policy": policy_name,
        "calendar": calendar_name,
        "started_at": at,
        "due_at": calendar.add(at, policy.first_touch),
        "cadence_due_at": (
            calendar.add(at, cadence.span(calendar.business_day)) if cadence else None
        ),
        "cadence_done": cadence is None,
        "first_touch_at": None,
        "first_touch_by": None,
        "first_touch_seconds": None,
        "ladder_done": False,
        "ended_at": None,
        "end_reason": None,
        "context": "\n".join(line.strip() for line in start.context if line.strip()),
    }
