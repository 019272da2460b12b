"""Handoff's own state of each person (`person_state`), as the decide stage reads and saves it.

A chunk's states are read as plain rows and saved with one bulk upsert: the decide stage touches
every person of a run, and ORM objects (construction, instrumented attributes, unit-of-work
flush) cost more than the decision itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from sync.store.key_in import key_in
from sync.store.tables import PersonState
from sync.store.upsert import upsert

_TABLE: Any = PersonState.__table__  # type: ignore[attr-defined]


@dataclass(slots=True)
class StateRow:
    """One `person_state` row (columns and defaults as `PersonState`)."""

    person_key: str
    score: int = 0
    fit: int = 0
    behaviour: int = 0
    mql: bool = False
    fast_lane: bool = False
    disqualified: bool = False
    track: str = "standard"
    summary: str = ""
    reasons: list[dict[str, Any]] = field(default_factory=list)
    model_version: str = ""
    computed_at: datetime | None = None
    source_modified_at: datetime | None = None
    stage: str = "lead"
    stage_changed_at: datetime | None = None
    owner_email: str | None = None
    rejection_code: str | None = None

    def as_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMNS}


COLUMNS = tuple(f.name for f in fields(StateRow))
assert set(COLUMNS) == {c.name for c in _TABLE.columns}, "StateRow must mirror person_state"


def load_states(session: Session, keys: Sequence[str]) -> dict[str, StateRow]:
    """The stored states of these people (people never decided have none)."""
    out: dict[str, StateRow] = {}
    link = session.connection()
    for start in range(0, len(keys), 500):
        query = select(*(_TABLE.c[c] for c in COLUMNS)).where(
            key_in(_TABLE.c.person_key, keys[start : start + 500])
        )
        for row in link.execute(query):
            out[row[0]] = StateRow(*row)
    return out


def save_states(session: Session, states: Iterable[StateRow]) -> None:
    """Insert or update these states in the session's transaction."""
    upsert(session, PersonState, [s.as_row() for s in states])
