"""the rejection code Handoff has carried out, per person

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 01:40:00

Sales' rejection code stays on the record after Handoff recycled or disqualified the lead. Once
the lead moves on (re-opened after the cooldown, or taken back by a rep) that old code must not
recycle it again: `person_state.rejection_code` keeps the code already carried out while the
record still carries it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rejection_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("person_state", schema=None) as batch_op:
        batch_op.drop_column("rejection_code")
