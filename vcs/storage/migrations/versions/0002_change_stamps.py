"""change stamps: one counter that every write to what feeds show raises

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:35:54.533163
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamps = op.create_table(
        "change_stamps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_stamps")),
    )
    # The one row the stamp lives in; writers only ever UPDATE it.
    op.bulk_insert(stamps, [{"id": 1, "value": 0}])


def downgrade() -> None:
    op.drop_table("change_stamps")
