"""webhook events the fast path has handled

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 00:40:00

HubSpot redelivers a webhook batch after a timeout or an error answer; the fast path records each
event it handled so a redelivery changes nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sync.store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("connection", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("event_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("handled_at", sync.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection", "event_key"),
    )
    op.create_index("ix_webhook_events_handled_at", "webhook_events", ["handled_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_webhook_events_handled_at", table_name="webhook_events")
    op.drop_table("webhook_events")
