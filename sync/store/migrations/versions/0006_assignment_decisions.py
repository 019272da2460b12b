"""each routing decision recorded once, with the owner it overrode

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 00:00:00

`decision_key` identifies one routing decision (lead, moment, purpose): a run killed after its
decision committed and resumed at the same moment finds it and routes nobody twice.
`source_owner_email` is the owner the owning CRM held when Handoff decided: a record whose owner
Handoff cannot write keeps Handoff's decision until someone changes that owner.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("routing_assignment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("decision_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "source_owner_email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True
            )
        )
        batch_op.create_index("uq_routing_assignment_decision", ["decision_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("routing_assignment", schema=None) as batch_op:
        batch_op.drop_index("uq_routing_assignment_decision")
        batch_op.drop_column("source_owner_email")
        batch_op.drop_column("decision_key")
