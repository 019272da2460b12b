"""outbox items found by record

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 05:35:00

Planning reads a chunk's earlier outbox items by (connection, record id); without this index
that was a scan of the whole outbox per chunk, which grows with every run.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_record", ["connection", "record_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_record")
