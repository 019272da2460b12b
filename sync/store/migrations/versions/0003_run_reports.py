"""each run's report kept in the store

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 23:50:00

A run's report is saved as data before its files are written, so a reports directory that cannot
take them (a full disk) loses nothing: `handoff report` writes them again from the store.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sync.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_reports",
        sa.Column("run_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sync.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("report", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_run_reports_created_at", "run_reports", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_run_reports_created_at", table_name="run_reports")
    op.drop_table("run_reports")
