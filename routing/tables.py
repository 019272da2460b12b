"""State-store tables for routing: the persisted rotation per territory and every assignment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from sync.store.types import UtcDateTime


class RotationState(SQLModel, table=True):
    """The smooth weighted round robin of one territory; locked while a lead is assigned."""

    __tablename__ = "routing_rotation"

    territory: str = Field(primary_key=True, max_length=200)
    turn: int = Field(default=0, description="round-robin assignments made so far (the last slot)")
    current_weights: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    updated_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class Assignment(SQLModel, table=True):
    """One routing decision that gave a lead an owner, with its reason."""

    __tablename__ = "routing_assignment"
    __table_args__ = (
        UniqueConstraint("territory", "turn", name="uq_routing_assignment_slot"),
        Index("ix_routing_assignment_owner_at", "owner_email", "assigned_at"),
        Index("uq_routing_assignment_decision", "decision_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    lead_key: str = Field(index=True, max_length=300)
    owner_email: str = Field(max_length=320)
    previous_owner_email: str | None = Field(default=None, max_length=320)
    rule: str = Field(max_length=32)
    territory: str | None = Field(default=None, max_length=200)
    turn: int | None = Field(default=None, description="round-robin slot in the territory")
    lane: str = Field(max_length=16)
    reason: str
    assigned_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    decision_key: str | None = Field(
        default=None,
        max_length=64,
        description="one routing decision (lead, moment, purpose): recorded once however often "
        "a killed run is resumed",
    )
    source_owner_email: str | None = Field(
        default=None,
        max_length=320,
        description="the owner the owning CRM held when Handoff decided: while it still holds "
        "that one, Handoff's decision stands (a record whose owner Handoff cannot write)",
    )
