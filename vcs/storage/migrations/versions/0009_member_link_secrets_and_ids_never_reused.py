"""member link secrets and ids never reused

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 09:00:00

`members.link_secret` binds every member link to the member (each existing member gets a fresh
random one, so links sent before this revision stop working); `members.status_changes` makes
confirmation links single-use. On SQLite the tables whose ids are in links, cookies and outbox
references get AUTOINCREMENT, so an id is never given again: SQLite otherwise reuses the id of
the newest row once it is deleted. Their counters start above every id the audit log names, so
ids freed before this revision are not given again either. PostgreSQL sequences never go back,
so there only the columns are added.

SQLite does not report AUTOINCREMENT when a table is read back, so a later migration that copies
one of NEVER_REUSED (any batch operation SQLite cannot do in place) must pass
`table_kwargs={"sqlite_autoincrement": True}` or lose it; tests/integration/test_member_links.py
checks the schema at head.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Table -> the entity name its rows have in the audit log.
NEVER_REUSED = {
    "members": "member",
    "staff_users": "staff_user",
    "sessions": "session",
    "digests": "digest",
}


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        _require_foreign_keys_off(bind)
    with op.batch_alter_table("members") as batch_op:
        batch_op.add_column(sa.Column("link_secret", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("status_changes", sa.Integer(), server_default="0", nullable=False)
        )
    members = sa.table("members", sa.column("id", sa.Integer), sa.column("link_secret"))
    ids = bind.execute(sa.select(members.c.id)).scalars().all()
    if ids:
        bind.execute(
            sa.update(members)
            .where(members.c.id == sa.bindparam("member_id"))
            .values(link_secret=sa.bindparam("secret")),
            [{"member_id": i, "secret": secrets.token_urlsafe(16)} for i in ids],
        )
    with op.batch_alter_table(
        "members", recreate="always" if sqlite else "auto", table_kwargs=_autoincrement(sqlite)
    ) as batch_op:
        batch_op.alter_column("link_secret", existing_type=sa.String(length=32), nullable=False)
    if not sqlite:
        return
    for table in NEVER_REUSED:
        if table != "members":
            with op.batch_alter_table(table, recreate="always", table_kwargs=_autoincrement(True)):
                pass
    for table, entity in NEVER_REUSED.items():
        _skip_ids_seen_in_the_audit_log(bind, table, entity)


def downgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        _require_foreign_keys_off(bind)
    with op.batch_alter_table(
        "members", recreate="always" if sqlite else "auto", table_kwargs=_autoincrement(False)
    ) as batch_op:
        batch_op.drop_column("status_changes")
        batch_op.drop_column("link_secret")
    if sqlite:
        for table in NEVER_REUSED:
            if table != "members":
                with op.batch_alter_table(
                    table, recreate="always", table_kwargs=_autoincrement(False)
                ):
                    pass


def _autoincrement(on: bool) -> dict[str, bool]:
    return {"sqlite_autoincrement": on}


def _require_foreign_keys_off(bind: sa.Connection) -> None:
    # Copying a table with foreign keys on would cascade to the rows that refer to it.
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "run migrations through vcs.storage.migrate (vcs init): it turns off "
            "SQLite's foreign keys while tables are copied"
        )


def _skip_ids_seen_in_the_audit_log(bind: sa.Connection, table: str, entity: str) -> None:
    """Start AUTOINCREMENT above every id the audit log names, also of rows deleted before."""
    audit = sa.table("audit_log", sa.column("entity"), sa.column("entity_id"))
    named = bind.execute(
        sa.select(audit.c.entity_id).where(audit.c.entity == entity).distinct()
    ).scalars()
    highest = max((int(value) for value in named if str(value).isdigit()), default=0)
    if highest == 0:
        return
    # The copy above left a row only if the table has rows; sqlite_sequence is SQLite's own.
    bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = ? AND seq < ?", (table, highest))
    bind.exec_driver_sql(
        "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? "
        "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
        (table, highest, table),
    )
