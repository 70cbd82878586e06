"""livestream faults and quota: backoff per broadcast, provider health, units spent per day

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:38:33.606884
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vcs.storage.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_health",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("fix_command", sa.String(length=200), nullable=False),
        sa.Column("since", vcs.storage.models.UTCDateTime(), nullable=True),
        sa.Column("until", vcs.storage.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_provider_health")),
    )
    op.create_table(
        "quota_usage",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("provider", "day", name=op.f("pk_quota_usage")),
    )
    with op.batch_alter_table("livestreams", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_attempt_at", vcs.storage.models.UTCDateTime(), nullable=True)
        )
        # Rows already there get an empty object.
        batch_op.add_column(
            sa.Column("details", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("livestreams", schema=None) as batch_op:
        batch_op.drop_column("details")
        batch_op.drop_column("next_attempt_at")

    op.drop_table("quota_usage")
    op.drop_table("provider_health")
