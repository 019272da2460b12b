"""a saved report's change rows in parts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 00:40:00

A run's report is saved with the first 500 rows of each list (changes, flags, assignments ...);
the rest go to `run_report_rows` in compressed parts, so saving or reading a report of millions of changes never holds them all.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_report_rows",
        sa.Column("run_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("list", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "list", "part"),
    )


def downgrade() -> None:
    op.drop_table("run_report_rows")
