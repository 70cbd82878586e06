"""announcements: what announcements and change notices need

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("announced_revision", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("announced_facts", sa.JSON(), nullable=True))
    # A session announced before this revision was announced as it is now: no notice is owed.
    op.execute("UPDATE sessions SET announced_revision = revision WHERE announced_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("announced_facts")
        batch_op.drop_column("announced_revision")
