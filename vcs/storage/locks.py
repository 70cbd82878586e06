"""Single-runner locks: a PostgreSQL advisory lock, or a file lock beside an SQLite database.

Three things run once per installation at a time: the scheduler, the mail sender, and a restore
(which needs the scheduler stopped). On PostgreSQL each holds an advisory lock whose key names
what is locked and the installation's schema: advisory locks are per database, and several
installations may share one database, each in its own schema (as the tests do). On SQLite each
holds flock(2) on a file.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import zlib
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

# What is locked: the high half of the advisory key.
SCHEDULER = "vcs-scheduler"
MAIL_SENDER = "vcs-mail-sender"


def advisory_key(name: str, schema: str) -> int:
    """The signed 64-bit pg_advisory_lock key of lock `name` of the installation in `schema`."""
    key = (zlib.crc32(name.encode()) << 32) | zlib.crc32(schema.encode())
    return key - (1 << 64) if key >= 1 << 63 else key


class Lock(Protocol):
    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process now holds it."""
        ...

    def still_held(self) -> bool:
        """False once the lock is lost (for PostgreSQL: the holding connection died).

        Safe to call from any thread: the scheduler's jobs call it just before they start.
        """
        ...

    def release(self) -> None: ...


class FileLock:
    """flock(2) on a file: the kernel frees it when the holding process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh
        return True

    def still_held(self) -> bool:
        fh = self._fh
        if fh is None:
            return False
        # A lock file deleted (or replaced) under us no longer keeps anyone out: the next
        # runner would lock a new file by the same name.
        try:
            return os.fstat(fh.fileno()).st_ino == os.stat(self.path).st_ino
        except (OSError, ValueError):
            return False

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


class AdvisoryLock:
    """pg_try_advisory_lock on a connection of its own; the server frees it when that dies.

    The lock belongs to the server session, so whoever holds it must keep checking that its
    connection is alive: a connection killed by the server (pg_terminate_backend, a restart, a
    network cut) has taken the lock with it, and another runner may hold it already.
    """

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self._connection: Connection | None = None
        self._key: int | None = None
        # The scheduler's poll and its jobs' checks share the one connection.
        self._mutex = threading.Lock()

    def try_acquire(self) -> bool:
        """Take the lock if it is free; a database that cannot be asked raises SQLAlchemyError."""
        with self._mutex:
            connection = self.engine.connect()
            try:
                schema = connection.execute(text("SELECT current_schema()")).scalar()
                key = advisory_key(self.name, str(schema))
                got = connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
                ).scalar()
                connection.commit()
            except SQLAlchemyError:
                connection.invalidate()
                connection.close()
                raise
            if not got:
                connection.close()
                return False
            self._connection = connection
            self._key = key
            return True

    def still_held(self) -> bool:
        with self._mutex:
            if self._connection is None:
                return False
            try:
                self._connection.execute(text("SELECT 1"))
                self._connection.commit()
            except SQLAlchemyError as exc:
                log.error("the %s lock's connection is gone: %s", self.name, first_line(exc))
                # Never back into the pool: the session, and with it the lock, is gone.
                self._connection.invalidate()
                self._connection.close()
                self._connection = None
                return False
            return True

    def release(self) -> None:
        with self._mutex:
            connection, self._connection = self._connection, None
            if connection is None:
                return
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
                connection.commit()
            except SQLAlchemyError:
                # Unsure whether the unlock happened: end the session, which surely ends it.
                connection.invalidate()
            finally:
                connection.close()


def lock_for(engine: Engine, name: str, lock_file: Path) -> Lock:
    """The lock `name` that fits the database behind `engine`: advisory, or on `lock_file`."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, name)
    return FileLock(lock_file)


def first_line(exc: BaseException) -> str:
    """The first line of a database error, for a log line."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
