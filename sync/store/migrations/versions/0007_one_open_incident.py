"""one open incident per kind

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 01:00:00

Replicas check alerts after their own jobs: a partial unique index lets one of them open an
incident (and post its alert); the others see it open and post nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("resolved_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "uq_incidents_open_kind",
        "incidents",
        ["kind"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("uq_incidents_open_kind", table_name="incidents")
