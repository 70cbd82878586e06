"""mail relay pauses and per-recipient failures

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 09:00:00

`mail_relay_pauses` records each time the relay refused us (not a recipient), so the
send-outbox job stays paused between tries. `members.bounced_at` says when the outbox marked a
member bounced; members bounced before this revision get the time of their last permanently
failed delivery, so `vcs members reactivate --bounced-since` finds them too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vcs.storage.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_relay_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("problem", sa.String(length=32), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("relay", sa.String(length=300), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("started_at", vcs.storage.models.UTCDateTime(), nullable=False),
        sa.Column("last_try_at", vcs.storage.models.UTCDateTime(), nullable=False),
        sa.Column("next_try_at", vcs.storage.models.UTCDateTime(), nullable=False),
        sa.Column("ended_at", vcs.storage.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_relay_pauses")),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bounced_at", vcs.storage.models.UTCDateTime(), nullable=True)
        )
    op.execute(
        """
        UPDATE members SET bounced_at = (
            SELECT max(deliveries.claimed_at) FROM deliveries
            WHERE deliveries.member_id = members.id AND deliveries.status = 'failed-permanent'
        )
        WHERE status = 'bounced'
        """
    )


def downgrade() -> None:
    # Dropping a column rebuilds the table on SQLite, which forgets AUTOINCREMENT unless told
    # (see 0009): member ids must never be reused.
    with op.batch_alter_table(
        "members", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("bounced_at")
    op.drop_table("mail_relay_pauses")
