"""The single-runner lock: a PostgreSQL advisory lock, or a file lock on SQLite."""

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

# "The vcs scheduler" in the high half of pg_advisory_lock's 64-bit key space; the low half is
# the schema, because advisory locks are per database and several installations may share one
# database, each in its own schema (as the tests do).
ADVISORY_KEY = zlib.crc32(b"vcs-scheduler")


def advisory_key(schema: str) -> int:
    """The signed 64-bit advisory lock key of the scheduler of the installation in `schema`."""
    key = (ADVISORY_KEY << 32) | zlib.crc32(schema.encode())
    return key - (1 << 64) if key >= 1 << 63 else key


class SchedulerLock(Protocol):
    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process now holds it."""
        ...

    def still_held(self) -> bool:
        """False once the lock is lost (for PostgreSQL: the holding connection died).

        Safe to call from any thread: jobs call it just before they start.
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
        # scheduler would lock a new file by the same name.
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
    network cut) has taken the lock with it, and another scheduler may hold it already.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._key: int | None = None
        # The service's poll and the jobs' checks share the one connection.
        self._mutex = threading.Lock()

    def try_acquire(self) -> bool:
        with self._mutex:
            try:
                connection = self.engine.connect()
            except SQLAlchemyError as exc:
                log.warning("cannot reach the database for the scheduler lock: %s", _first(exc))
                return False
            try:
                schema = connection.execute(text("SELECT current_schema()")).scalar()
                key = advisory_key(str(schema))
                got = connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
                ).scalar()
                connection.commit()
            except SQLAlchemyError as exc:
                log.warning("cannot take the scheduler lock: %s", _first(exc))
                connection.invalidate()
                connection.close()
                return False
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
                log.error("the scheduler lock's connection is gone: %s", _first(exc))
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


def _first(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def lock_for(engine: Engine, lock_file: Path) -> SchedulerLock:
    """The lock that fits the database behind `engine`."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    return FileLock(lock_file)
