"""Salesforce change events: the subscription's replay id and the people waiting for a decision

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 03:30:00

The Pub/Sub API listener stores the replay id of a batch of change events in the same transaction
as the people those events name (the inbox); the fast path decides each and removes it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sync.store.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_event_streams",
        sa.Column("connection", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("replay_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("updated_at", sync.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection", "topic"),
    )
    op.create_table(
        "change_event_inbox",
        sa.Column("connection", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("object_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("change_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("replay_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("committed_at", sync.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("received_at", sync.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection", "record_id"),
    )
    op.create_index(
        "ix_change_event_inbox_received_at", "change_event_inbox", ["received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_change_event_inbox_received_at", table_name="change_event_inbox")
    op.drop_table("change_event_inbox")
    op.drop_table("change_event_streams")
