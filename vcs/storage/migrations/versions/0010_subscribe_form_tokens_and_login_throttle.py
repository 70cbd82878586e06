"""subscribe form tokens and login throttle

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vcs.storage.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_counters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("window_start", vcs.storage.models.UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", vcs.storage.models.UTCDateTime(), nullable=True),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_counters")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_rate_counters_scope_key")),
    )
    with op.batch_alter_table("rate_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rate_counters_window_start"), ["window_start"], unique=False
        )
    op.create_table(
        "used_form_tokens",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", vcs.storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_used_form_tokens")),
    )
    with op.batch_alter_table("used_form_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_used_form_tokens_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("used_form_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_form_tokens_expires_at"))
    op.drop_table("used_form_tokens")
    with op.batch_alter_table("rate_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_counters_window_start"))
    op.drop_table("rate_counters")
