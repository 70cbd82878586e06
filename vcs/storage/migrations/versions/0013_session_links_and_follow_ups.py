"""sessions as run (issue 14): per-session links, follow-ups

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 12:30:00

`sessions.watch_url` and `sessions.join_url` are staff's own links for one session (the public
livestream; the members-only meeting room), `series.join_url` a series' default meeting room.
`sessions.followed_up_at` says when the follow-up with the recording was queued; sessions that
already had a recording before this revision count as followed up, so an upgrade sends no
follow-ups for old sessions.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vcs.storage.models

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("join_url", sa.String(length=500), server_default="", nullable=False)
        )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("watch_url", sa.String(length=500), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("join_url", sa.String(length=500), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("followed_up_at", vcs.storage.models.UTCDateTime(), nullable=True)
        )
    op.execute("UPDATE sessions SET followed_up_at = updated_at WHERE recording_url != ''")


def downgrade() -> None:
    # Dropping a column rebuilds the table on SQLite, which forgets AUTOINCREMENT unless told
    # (see 0009): session ids must never be reused.
    with op.batch_alter_table(
        "sessions", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("followed_up_at")
        batch_op.drop_column("join_url")
        batch_op.drop_column("watch_url")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_column("join_url")
