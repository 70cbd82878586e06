"""`vcs backup` and `vcs restore` on SQLite, from the shell; the refusal on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from tests.conftest import isolated_environ, make_settings
from tests.integration.test_sessions_cli import series_toml, write_file
from vcs import backup as backups
from vcs.storage import migrate
from vcs.storage.locks import FileLock

# -- factories ---------------------------------------------------------------------------------


def vcs(tmp_path: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """Run `vcs ARGS` on the installation under tmp_path."""
    env = {
        "PATH": "/usr/bin:/bin",
        **isolated_environ(tmp_path, VCS_SESSIONS_HORIZON_DAYS="800"),
        **environ,
    }
    return subprocess.run(
        [sys.executable, "-m", "vcs", *args], env=env, capture_output=True, text=True, check=False
    )


def ok(tmp_path: Path, *args: str, **environ: str) -> str:
    result = vcs(tmp_path, *args, **environ)
    assert result.returncode == 0, result.stderr
    return result.stdout


def installed(tmp_path: Path) -> Path:
    """`vcs init` and a series with its sessions; the database file."""
    ok(tmp_path, "init")
    ok(tmp_path, "series", "import", str(write_file(tmp_path, series_toml())))
    return tmp_path / "vcs.sqlite3"


def backup_path(stdout: str) -> Path:
    """The file named by `vcs backup`'s summary line: `backup: PATH (...)`."""
    assert stdout.startswith("backup: "), stdout
    return Path(stdout.removeprefix("backup: ").split(" (", 1)[0])


def first_session_status(tmp_path: Path, database: Path) -> str:
    listing = ok(tmp_path, "sessions", "list", VCS_DATABASE_URL=f"sqlite:///{database}")
    return "cancelled" if "[cancelled]" in listing.splitlines()[0] else "scheduled"


# -- backup --------------------------------------------------------------------------------------


def test_backup_while_another_connection_writes_is_whole_and_opens_with_vcs(
    tmp_path: Path,
) -> None:
    database = installed(tmp_path)
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        connection = sqlite3.connect(database, timeout=30)
        connection.execute("CREATE TABLE probe (n INTEGER PRIMARY KEY, pad TEXT)")
        connection.commit()
        n = 0
        while not stop.is_set():
            n += 1
            connection.execute("INSERT INTO probe VALUES (?, ?)", (n, "x" * 2000))
            connection.commit()
            written.append(n)
        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 200:
            stop.wait(0.01)
        before = len(written)
        copies = [
            backup_path(ok(tmp_path, "backup", "-o", str(tmp_path / f"b{i}.sqlite3")))
            for i in range(3)
        ]
        during = len(written) - before
    finally:
        stop.set()
        thread.join()

    for copy in copies:
        backups.check_integrity(copy)
        with sqlite3.connect(copy) as connection:
            rows = [n for (n,) in connection.execute("SELECT n FROM probe ORDER BY n")]
            (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
        # One snapshot: every insert up to some point, none missing in between.
        assert rows == list(range(1, len(rows) + 1))
        assert mode == "delete"
        assert not Path(f"{copy}-wal").exists()
        assert "jaunatnes-lietu-videokonferences" in ok(
            tmp_path, "sessions", "list", VCS_DATABASE_URL=f"sqlite:///{copy}"
        )
    assert during > 0, "the writer wrote nothing while the backups ran"


def test_backup_names_a_dated_file_beside_the_database_and_reports_the_check(
    tmp_path: Path,
) -> None:
    installed(tmp_path)

    out = ok(tmp_path, "backup")

    path = backup_path(out)
    assert path.parent == tmp_path / "backups"
    assert backups.BACKUP_NAME.match(path.name)
    assert f"schema {migrate.head_revision()}, integrity ok" in out
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_keep_deletes_all_but_the_newest_dated_backups(tmp_path: Path) -> None:
    installed(tmp_path)
    settings = make_settings(tmp_path)
    start = dt.datetime(2027, 1, 1, 2, 30)
    for day in range(4):
        backups.backup(settings, now=start + dt.timedelta(days=day))
    folder = tmp_path / "backups"
    (folder / "keep-me.sqlite3").write_bytes(b"")

    report = backups.backup(settings, keep=2, now=start + dt.timedelta(days=4))

    assert len(report.pruned) == 3
    assert sorted(p.name for p in folder.iterdir()) == [
        "keep-me.sqlite3",
        "vcs-20270104-023000.sqlite3",
        "vcs-20270105-023000.sqlite3",
    ]


def test_backup_before_init_says_there_is_nothing_to_back_up(tmp_path: Path) -> None:
    result = vcs(tmp_path, "backup")

    assert result.returncode == 1
    assert result.stderr.startswith("vcs: backup: no database at ")
    assert "run `vcs init` first" in result.stderr


def test_backup_on_postgresql_refuses_with_the_pg_dump_command_and_no_password(
    tmp_path: Path,
) -> None:
    url = "postgresql://vcs:s3cret-Pa55@db.example.lv:5433/vcs_prod"

    result = vcs(tmp_path, "backup", VCS_DATABASE_URL=url)

    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "use pg_dump: pg_dump -Fc -h db.example.lv -p 5433 -U vcs -f vcs-" in result.stderr
    assert ".dump vcs_prod" in result.stderr
    assert "s3cret" not in result.stderr


def test_pg_dump_command_takes_a_socket_folder_from_the_query() -> None:
    from vcs.config import database_url

    url = database_url("postgresql://vcs@/vcs?host=/run/postgresql")

    command = backups.pg_dump_command(url, "20270101-023000")

    assert command == "pg_dump -Fc -h /run/postgresql -U vcs -f vcs-20270101-023000.dump vcs"


def test_integrity_check_refuses_a_damaged_file(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)

    with pytest.raises(backups.BackupError):
        backups.check_integrity(damaged)


# -- restore -------------------------------------------------------------------------------------


def test_restore_round_trip_brings_back_the_backup_and_keeps_the_replaced_database(
    tmp_path: Path,
) -> None:
    database = installed(tmp_path)
    backup = backup_path(ok(tmp_path, "backup"))
    ok(tmp_path, "sessions", "cancel", "1", "--reason", "Slimība")
    assert first_session_status(tmp_path, database) == "cancelled"

    out = ok(tmp_path, "restore", str(backup))

    assert out.startswith(f"restored {backup} into {database} (schema {migrate.head_revision()})")
    assert "run `vcs init`" not in out
    assert first_session_status(tmp_path, database) == "scheduled"
    (safety,) = (tmp_path / "backups").glob("vcs-before-restore-*.sqlite3")
    assert first_session_status(tmp_path, safety) == "cancelled"
    backups.check_integrity(database)


def test_restore_of_an_older_schema_asks_for_init_which_migrates_it(tmp_path: Path) -> None:
    installed(tmp_path)
    old = backup_path(ok(tmp_path, "backup"))
    engine = create_engine(f"sqlite:///{old}")
    migrate.downgrade(engine, "-1")
    engine.dispose()

    out = ok(tmp_path, "restore", str(old))

    assert "the backup has an older schema: run `vcs init` to migrate it" in out
    assert vcs(tmp_path, "sessions", "list").returncode == 1
    ok(tmp_path, "init")
    assert "jaunatnes-lietu-videokonferences" in ok(tmp_path, "sessions", "list")


def test_restore_refuses_while_a_scheduler_holds_the_lock(tmp_path: Path) -> None:
    database = installed(tmp_path)
    backup = backup_path(ok(tmp_path, "backup"))
    ok(tmp_path, "sessions", "cancel", "1", "--reason", "Slimība")
    lock = FileLock(tmp_path / "scheduler.lock")
    assert lock.try_acquire()
    try:
        result = vcs(tmp_path, "restore", str(backup))
    finally:
        lock.release()

    assert result.returncode == 1
    assert result.stderr.startswith("vcs: restore: a scheduler is running")
    assert first_session_status(tmp_path, database) == "cancelled"


def test_restore_refuses_a_file_that_is_not_a_vcs_database(tmp_path: Path) -> None:
    installed(tmp_path)
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    connection.close()

    result = vcs(tmp_path, "restore", str(other))

    assert result.returncode == 1
    assert "holds no vcs database" in result.stderr
