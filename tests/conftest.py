"""Shared test helpers: settings on a temporary SQLite file, a PostgreSQL schema per test."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from vcs.config import Settings, database_url, load_settings
from vcs.context import Context

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# Outside CI a machine without PostgreSQL skips those tests; in CI it must be there.
IN_CI = bool(os.environ.get("CI"))


def isolated_environ(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """VCS_* variables for an isolated installation under tmp_path."""
    environ = {
        "VCS_DATABASE_URL": f"sqlite:///{tmp_path / 'vcs.sqlite3'}",
        "VCS_MAIL_URL": f"file://{tmp_path / 'outbox'}",
        "VCS_SCHEDULER_LOCK_FILE": str(tmp_path / "scheduler.lock"),
    }
    environ.update(overrides)
    return environ


def make_settings(tmp_path: Path, **overrides: str) -> Settings:
    return load_settings(isolated_environ(tmp_path, **overrides))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(database_url(PG_ADMIN_URL))
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except OperationalError as exc:
        return str(exc.orig).strip().splitlines()[0]
    return None


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    problem = _postgres_reachable()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is unreachable in CI: {problem}")
        pytest.skip(
            f"PostgreSQL at {PG_ADMIN_URL} is unreachable ({problem}); start it with make postgres"
        )
    return PG_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(database_url(postgres_admin_url))
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{postgres_admin_url}?options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using it runs on a temporary SQLite file and on a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vcs.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def context(tmp_path: Path) -> Iterator[Context]:
    """A migrated, network-loaded installation on a temporary SQLite file."""
    from vcs.bootstrap import initialise

    ctx = Context.from_settings(make_settings(tmp_path))
    initialise(ctx)
    yield ctx
    ctx.close()
