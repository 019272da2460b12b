"""Operations state kept in the store: alert incidents and what people did to outbox items.

Kept in the store (not in memory) so a restarted worker neither alerts again about an incident it
already reported nor forgets who dropped a dead letter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, text
from sqlmodel import Field, SQLModel

from sync.store.types import UtcDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable))


class Incident(SQLModel, table=True):
    """One alert condition while it holds: opened (and posted) once, resolved when it clears."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_open", "kind", "resolved_at"),
        Index(  # one open incident per kind, whichever replica opened it
            "uq_incidents_open_kind",
            "kind",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str  # run_failed | dead_letters | quota_low:<connection> | sla_breach_rate
    summary: str = ""
    opened_at: datetime = _ts()
    notified_at: datetime | None = _ts(nullable=True)  # the webhook took the alert
    resolved_at: datetime | None = _ts(nullable=True)


class OutboxAction(SQLModel, table=True):
    """A person's retry or drop of an outbox item: who, when, and the CRM's reason it had."""

    __tablename__ = "outbox_actions"

    id: int | None = Field(default=None, primary_key=True)
    outbox_key: str = Field(index=True)
    action: str  # retry | drop
    actor: str
    at: datetime = _ts()
    previous_status: str
    reason: str | None = None  # the item's last error when the action was taken
