"""sessions as run (issue 14): series-file overrides and extra dates

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 12:30:00

`series.overrides` keeps a series file's `[[series.sessions]]` tables (one date's place, topic,
time, speakers or cancellation, and extra dates outside the rule) as the file says them, so the
hourly materialize applies them to sessions it makes later and `vcs series export` writes them
back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("overrides", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_column("overrides")
