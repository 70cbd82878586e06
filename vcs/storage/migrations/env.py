"""Alembic environment: runs on the connection that vcs.storage.migrate hands over."""

from alembic import context

from vcs.storage.models import Base

# APScheduler's job store creates and owns this table itself.
FOREIGN_TABLES = {"apscheduler_jobs"}


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    return not (type_ == "table" and name in FOREIGN_TABLES)


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_object=include_object,
    render_as_batch=True,  # SQLite can only ALTER a table by copying it
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
