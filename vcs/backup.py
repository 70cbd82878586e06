"""Backups of an SQLite installation (`vcs backup`, `vcs restore`); PostgreSQL uses pg_dump.

A backup is a consistent copy taken with SQLite's online backup API while the web app and the
scheduler keep running: in WAL mode the copy is one read transaction, which never blocks a
writer. It is written to a temporary file beside the target, checked with `PRAGMA
integrity_check`, and only then renamed to its name, so a backup file either is whole or does
not exist.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shlex
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import URL

from vcs.config import Settings
from vcs.errors import Problem, VcsError
from vcs.i18n import N_
from vcs.storage.locks import FileLock

# The names `vcs backup` gives; `--keep` prunes only files named like this.
BACKUP_NAME = re.compile(r"^vcs-\d{8}-\d{6}\.sqlite3$")


class BackupError(VcsError):
    """A backup or restore that cannot be done: one problem, code `backup.<what>`, in a line
    (the command puts "backup" or "restore" before it)."""

    def __init__(self, code: str, message: str, *where: str, **params: Any) -> None:
        super().__init__([Problem(f"backup.{code}", message, params, where)])


FILE_PROBLEM = N_("%(reason)s")


@dataclass(frozen=True)
class BackupReport:
    path: Path
    size: int
    revision: str | None
    seconds: float
    pruned: tuple[Path, ...] = ()

    def __str__(self) -> str:
        revision = self.revision or "none"
        line = (
            f"backup: {self.path} ({_size(self.size)}, schema {revision}, integrity ok, "
            f"{self.seconds:.1f} s)"
        )
        if self.pruned:
            line += f"; {len(self.pruned)} older backup(s) deleted"
        return line


@dataclass(frozen=True)
class RestoreReport:
    source: Path
    database: Path
    revision: str | None
    safety_copy: Path | None

    def __str__(self) -> str:
        kept = f"; the database before it is in {self.safety_copy}" if self.safety_copy else ""
        return f"restored {self.source} into {self.database} (schema {self.revision}){kept}"


def sqlite_file(settings: Settings) -> Path:
    """The database file of an SQLite installation; BackupError for PostgreSQL."""
    url = settings.database_url
    if url.get_backend_name() != "sqlite":
        command = pg_dump_command(url, stamp(settings))
        if url.password:
            raise BackupError(
                "postgresql",
                N_(
                    "the database is PostgreSQL, which vcs does not copy itself; use pg_dump: "
                    "%(command)s (it reads the password from ~/.pgpass or asks for it)"
                ),
                command=command,
            )
        raise BackupError(
            "postgresql",
            N_(
                "the database is PostgreSQL, which vcs does not copy itself; use pg_dump: "
                "%(command)s"
            ),
            command=command,
        )
    if not url.database or url.database == ":memory:":
        raise BackupError("in-memory", N_("the database is in memory: there is no file to back up"))
    return Path(url.database)


def stamp(settings: Settings, now: dt.datetime | None = None) -> str:
    """A backup's date in its name: local time (`timezone`), like the timer that starts it."""
    return (now or dt.datetime.now(settings.tz)).strftime("%Y%m%d-%H%M%S")


def pg_dump_command(url: URL, stamp: str) -> str:
    """The pg_dump command line for a PostgreSQL URL: host, port, user and database, no password."""
    args = ["pg_dump", "-Fc"]
    # A socket folder may come as ?host=/run/postgresql instead of a host name.
    host = url.host or url.query.get("host")
    if isinstance(host, str) and host:
        args += ["-h", host]
    if url.port:
        args += ["-p", str(url.port)]
    if url.username:
        args += ["-U", url.username]
    args += ["-f", f"vcs-{stamp}.dump", url.database or "postgres"]
    return shlex.join(args)


def default_folder(settings: Settings) -> Path:
    """Where backups go unless named: `backups/` beside the database (var/backups by default)."""
    return sqlite_file(settings).parent / "backups"


def backup(
    settings: Settings,
    output: Path | None = None,
    keep: int | None = None,
    now: dt.datetime | None = None,
) -> BackupReport:
    """Copy the live database to `output` (default: a dated file), check it, prune old ones."""
    source = sqlite_file(settings)
    if not source.is_file():
        raise BackupError(
            "no-database",
            N_("no database at %(path)s: nothing to back up (run `vcs init` first)"),
            path=source,
        )
    name = f"vcs-{stamp(settings, now)}.sqlite3"
    target = (output or default_folder(settings) / name).absolute()
    if target.resolve() == source.resolve():
        raise BackupError(
            "target-is-database",
            N_("%(path)s is the database itself; name another file"),
            path=target,
        )
    started = time.monotonic()
    copy_database(source, target)
    pruned = prune(target.parent, keep, target) if keep is not None else ()
    return BackupReport(
        path=target,
        size=target.stat().st_size,
        revision=schema_revision(target),
        seconds=time.monotonic() - started,
        pruned=pruned,
    )


def copy_database(source: Path, target: Path) -> None:
    """source -> target through the backup API, atomically, refusing a copy that fails the check."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(
            "folder", FILE_PROBLEM, str(target.parent), reason=exc.strerror or str(exc)
        ) from None
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        # Created first, owner-only: a backup holds members' addresses and password hashes.
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        src = _connect(source, "rw")
        try:
            dst = sqlite3.connect(temp)
            try:
                # One step (pages=-1): one read transaction, so the copy is a single
                # snapshot. Copying in steps would restart each time another process writes.
                src.backup(dst, pages=-1)
                # The copy inherits WAL mode from the header; a backup is one file on its own.
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        check_integrity(temp)
        with temp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(temp, target)
        _fsync_folder(target.parent)
    except sqlite3.Error as exc:
        raise BackupError(
            "copy-failed",
            N_("copying %(source)s to %(target)s failed: %(reason)s"),
            source=source,
            target=target,
            reason=str(exc),
        ) from None
    except OSError as exc:
        raise BackupError(
            "file", FILE_PROBLEM, str(target), reason=exc.strerror or str(exc)
        ) from None
    finally:
        # A name the file system refuses (too long) fails here too; the error above says so.
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)


def check_integrity(path: Path) -> None:
    """BackupError unless `PRAGMA integrity_check` finds the file whole."""
    connection = _connect(path, "ro")
    try:
        rows = [row[0] for row in connection.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        raise BackupError(
            "not-sqlite",
            N_("%(path)s is not an SQLite database: %(reason)s"),
            path=path,
            reason=str(exc),
        ) from None
    finally:
        connection.close()
    if rows != ["ok"]:
        raise BackupError(
            "integrity",
            N_("%(path)s failed the integrity check: %(reason)s"),
            path=path,
            reason=rows[0],
        )


def schema_revision(path: Path) -> str | None:
    """The Alembic revision recorded in an SQLite file; None when it has no vcs schema."""
    connection = _connect(path, "ro")
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    finally:
        connection.close()
    return str(row[0]) if row else None


def prune(folder: Path, keep: int, newest: Path) -> tuple[Path, ...]:
    """Delete all but the `keep` newest dated backups in `folder`; `newest` always stays."""
    if keep < 1:
        raise BackupError("keep", N_("--keep must be at least 1"))
    dated = sorted(p for p in folder.iterdir() if BACKUP_NAME.match(p.name) and p != newest)
    doomed = dated[: max(0, len(dated) - (keep - 1))]
    for path in doomed:
        path.unlink(missing_ok=True)
    return tuple(doomed)


def restore(settings: Settings, source: Path, now: dt.datetime | None = None) -> RestoreReport:
    """Replace the live SQLite database with the backup `source`, unless a scheduler is running.

    The current database is backed up first. The copy goes through the backup API into the live
    file, so it never leaves a half-written database and never mixes with a stale WAL file.
    """
    database = sqlite_file(settings)
    source = source.absolute()
    try:
        found = source.is_file()
    except OSError as exc:  # a name the file system refuses (too long)
        raise BackupError(
            "file", FILE_PROBLEM, str(source), reason=exc.strerror or str(exc)
        ) from None
    if not found:
        raise BackupError("no-backup", N_("no backup at %(path)s"), path=source)
    if database.exists() and source.resolve() == database.resolve():
        raise BackupError(
            "source-is-database", N_("%(path)s is the live database itself"), path=source
        )
    check_integrity(source)
    revision = schema_revision(source)
    if revision is None:
        raise BackupError(
            "no-schema",
            N_("%(path)s holds no vcs database (no schema revision)"),
            path=source,
        )
    lock_file = settings.path(settings.scheduler.lock_file)
    lock = FileLock(lock_file)
    if not lock.try_acquire():
        raise BackupError(
            "scheduler-running",
            N_(
                "a scheduler is running (it holds %(lock)s): stop it and the web app first "
                "(systemctl stop vcs-scheduler vcs-web)"
            ),
            lock=lock_file,
        )
    try:
        safety: Path | None = None
        if database.is_file():
            name = f"vcs-before-restore-{stamp(settings, now)}.sqlite3"
            safety = default_folder(settings) / name
            copy_database(database, safety)
        database.parent.mkdir(parents=True, exist_ok=True)
        src = _connect(source, "ro")
        try:
            dst = sqlite3.connect(database, timeout=30)
            try:
                src.backup(dst, pages=-1)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(
            "restore-failed",
            N_("restoring %(source)s into %(database)s failed: %(reason)s"),
            source=source,
            database=database,
            reason=str(exc),
        ) from None
    finally:
        lock.release()
    return RestoreReport(source, database, revision, safety)


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    # A URI with mode=ro/rw never creates a missing file, unlike sqlite3.connect(path).
    return sqlite3.connect(f"file:{quote(str(path))}?mode={mode}", uri=True, timeout=30)


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"
