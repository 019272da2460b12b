"""Outcomes already in the store, as calibration samples: what became SQL, what was won."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from scoring import CalibrationSample
from sync.store.tables import PersonState

ACCEPTED = frozenset({"sql", "opportunity", "customer"})
REJECTED = frozenset({"recycled", "disqualified"})


def calibration_samples(engine: Engine) -> list[CalibrationSample]:
    """One sample per decided person: the rules that scored them, their score and MQL verdict,
    whether sales accepted them (reached SQL) or rejected them, and whether they were won."""
    samples = []
    with Session(engine) as session:
        for state in session.exec(select(PersonState).order_by(PersonState.person_key)):
            signals = frozenset(
                str(r["rule_id"]) for r in state.reasons if int(r.get("points", 0)) > 0
            )
            sql = True if state.stage in ACCEPTED else False if state.stage in REJECTED else None
            won = True if state.stage == "customer" else None
            samples.append(CalibrationSample(signals, state.score, state.mql, sql, won))
    return samples
