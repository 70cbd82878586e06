"""Storage on SQLite and PostgreSQL: migrations, the schema they make, UTC round trips."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from vcs.config import database_url
from vcs.storage import migrate
from vcs.storage.db import Database, make_engine
from vcs.storage.models import Base, JobRun


def test_migrating_an_empty_database_reaches_head(any_database_url: str) -> None:
    engine = make_engine(database_url(any_database_url))
    assert migrate.current_revision(engine) is None
    assert not migrate.is_current(engine)
    migrate.upgrade(engine)
    assert migrate.is_current(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"regions", "municipalities", "members", "staff_users", "series", "sessions"} <= tables
    assert {
        "livestreams",
        "digests",
        "digest_items",
        "deliveries",
        "job_runs",
        "audit_log",
    } <= tables
    engine.dispose()


def test_migrations_make_exactly_the_schema_the_models_describe(any_database_url: str) -> None:
    engine = make_engine(database_url(any_database_url))
    migrate.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_downgrade_to_nothing_and_back(any_database_url: str) -> None:
    engine = make_engine(database_url(any_database_url))
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert "sessions" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert migrate.is_current(engine)
    engine.dispose()


def test_times_come_back_aware_and_equal_in_utc(any_database_url: str) -> None:
    engine = make_engine(database_url(any_database_url))
    migrate.upgrade(engine)
    database = Database(engine)
    riga = dt.datetime(2027, 4, 8, 10, 0, tzinfo=ZoneInfo("Europe/Riga"))
    with database.session() as db:
        db.add(JobRun(job="probe", started_at=riga))
    with database.session() as db:
        run = db.scalars(select(JobRun)).one()
        assert run.started_at == riga
        assert run.started_at.tzinfo == dt.UTC
        assert run.started_at.hour == 7
    engine.dispose()


def test_naive_times_are_refused_before_they_reach_the_database(any_database_url: str) -> None:
    engine = make_engine(database_url(any_database_url))
    migrate.upgrade(engine)
    database = Database(engine)
    with pytest.raises(Exception, match="naive datetime"), database.session() as db:
        db.add(JobRun(job="probe", started_at=dt.datetime(2027, 1, 1)))
        db.flush()
    engine.dispose()
