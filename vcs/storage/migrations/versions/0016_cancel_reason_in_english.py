"""Latvian-first staff area (issue 15): a cancellation reason in English

Revision ID: 0016
Revises: 0014
Create Date: 2026-11-29 12:30:00

`sessions.cancel_reason_en` is the reason English readers see (pages, feeds and e-mails in
English); empty, they read the Latvian `cancel_reason`, as before this revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cancel_reason_en", sa.Text(), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("cancel_reason_en")
