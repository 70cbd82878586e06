"""registration per session (issue 16)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 13:30:00

`registrations` holds who comes to a session: members and confirmed visitors, in the room or
online, registered or on the waiting list, or cancelled. `series.registration` and
`sessions.registration` say whether a session takes registrations (a session's own settings
override its series'); both are empty before this revision, so nothing takes registrations.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vcs.storage.models

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("municipality", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("attendance", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("secret", sa.String(length=32), nullable=False),
        sa.Column("created_at", vcs.storage.models.UTCDateTime(), nullable=False),
        sa.Column("asked_at", vcs.storage.models.UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", vcs.storage.models.UTCDateTime(), nullable=True),
        sa.Column("promoted_at", vcs.storage.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_registrations_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_registrations_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrations")),
        sa.UniqueConstraint("session_id", "email", name=op.f("uq_registrations_session_id_email")),
    )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registration", sa.JSON(), nullable=True))
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registration", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Dropping a column rebuilds the table on SQLite, which forgets AUTOINCREMENT unless told
    # (see 0009): session ids must never be reused.
    with op.batch_alter_table(
        "sessions", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("registration")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_column("registration")
    op.drop_table("registrations")
