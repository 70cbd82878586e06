"""outbox: what the mail sender needs beyond the deliveries table of 0001

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 18:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vcs.storage.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claimed_at", vcs.storage.models.UTCDateTime(), nullable=True)
        )
        # Deliveries already there (none were ever sent) get an empty message.
        batch_op.add_column(
            sa.Column("raw_message", sa.LargeBinary(), nullable=False, server_default=sa.text("''"))
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("raw_message")
        batch_op.drop_column("claimed_at")
