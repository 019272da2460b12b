"""SLA state: clocks, the touches that count against them, and ladder rungs already fired.

A rung is fired at most once per clock by a unique (clock_id, rung) row inserted in the same
transaction as the decision; replicas racing on the same rung see the conflict and emit nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from sync.store.types import UtcDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable))


class SlaClock(SQLModel, table=True):
    """One owner's first-touch window (and follow-up cadence) for one lead."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        Index("ix_sla_clocks_lead", "lead_key"),
        Index("ix_sla_clocks_started", "started_at"),
        Index("ix_sla_clocks_live", "ended_at", "ladder_done", "cadence_done"),
    )

    id: str = Field(primary_key=True)  # deterministic: lead, owner and start
    lead_key: str
    owner_email: str
    lane: str
    stage: str | None = None
    territory: str | None = None
    policy: str
    calendar: str
    started_at: datetime = _ts()
    due_at: datetime = _ts()  # end of the first-touch window
    cadence_due_at: datetime | None = _ts(nullable=True)
    first_touch_at: datetime | None = _ts(nullable=True)
    first_touch_by: str | None = None
    first_touch_seconds: float | None = None  # business time from start to first touch
    ladder_done: bool = False  # every rung has fired (or the clock was touched)
    cadence_done: bool = False  # cadence judged (met or flagged), or no cadence in the policy
    ended_at: datetime | None = _ts(nullable=True)
    end_reason: str | None = None  # reassigned | converted | disqualified | deleted | merged
    context: str = ""  # score reasons and recent activity, for the owner's task


class SlaTouch(SQLModel, table=True):
    """A qualifying touch credited to a clock (a rep's call, email, meeting ...)."""

    __tablename__ = "sla_touches"
    __table_args__ = (UniqueConstraint("clock_id", "touch_key", name="uq_sla_touches_key"),)

    id: int | None = Field(default=None, primary_key=True)
    clock_id: str = Field(foreign_key="sla_clocks.id", index=True)
    touch_key: str
    rep_email: str
    kind: str
    channel: str
    at: datetime = _ts()


class SlaRungFired(SQLModel, table=True):
    """A ladder rung (or the cadence flag) that has fired for a clock: never again."""

    __tablename__ = "sla_rungs_fired"
    __table_args__ = (UniqueConstraint("clock_id", "rung", name="uq_sla_rungs_fired_rung"),)

    id: int | None = Field(default=None, primary_key=True)
    clock_id: str = Field(foreign_key="sla_clocks.id", index=True)
    rung: str  # ladder index ("0", "1", ...) or "cadence"
    action: str
    lane: str
    territory: str | None = None
    owner_email: str
    fired_at: datetime = _ts()
    due_at: datetime = _ts()  # when the rung was due (fired_at may lag by the SLA schedule)
