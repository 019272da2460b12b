"""alert incidents and people's retries/drops of outbox items

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 00:30:00

An alert is posted once per incident: the open incident is kept in the store so a restarted
worker does not post it again. `handoff outbox retry|drop` records who acted, when, and the CRM's
reason the item had.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sync.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("opened_at", sync.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sync.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sync.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_open", "incidents", ["kind", "resolved_at"], unique=False)
    op.create_table(
        "outbox_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", sync.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("previous_status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_outbox_actions_outbox_key", "outbox_actions", ["outbox_key"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_actions_outbox_key", table_name="outbox_actions")
    op.drop_table("outbox_actions")
    op.drop_index("ix_incidents_open", table_name="incidents")
    op.drop_table("incidents")
