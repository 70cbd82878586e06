"""calendar mirror and bounce reports

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 12:30:00

Issue 19. `calendar_events` holds each session's event in each Google calendar vcs mirrors (the
network's, each region's); `bounce_reports` every message read from the bounce mailbox, so none
counts twice; `deliveries.bounce` / `bounced_at` what came back for a delivery after the relay took
it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vcs.storage.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(length=100), nullable=False),
        sa.Column("calendar_id", sa.String(length=300), nullable=False),
        sa.Column("event_id", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("synced_revision", sa.Integer(), nullable=False),
        sa.Column("synced_hash", sa.String(length=64), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", vcs.storage.models.UTCDateTime(), nullable=True),
        sa.Column("updated_at", vcs.storage.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_calendar_events_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_events")),
        sa.UniqueConstraint(
            "session_id", "calendar_id", name=op.f("uq_calendar_events_session_id_calendar_id")
        ),
    )
    op.create_table(
        "bounce_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(length=250), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("read_at", vcs.storage.models.UTCDateTime(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("diagnostic", sa.Text(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_bounce_reports_delivery_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_bounce_reports_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounce_reports")),
        sa.UniqueConstraint(
            "mailbox", "uid", "recipient", name=op.f("uq_bounce_reports_mailbox_uid_recipient")
        ),
    )
    op.create_index(op.f("ix_bounce_reports_read_at"), "bounce_reports", ["read_at"])
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bounce", sa.String(length=16), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("bounced_at", vcs.storage.models.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("bounced_at")
        batch_op.drop_column("bounce")
    op.drop_index(op.f("ix_bounce_reports_read_at"), table_name="bounce_reports")
    op.drop_table("bounce_reports")
    op.drop_table("calendar_events")
