"""The single-runner lock: a PostgreSQL advisory lock, or a file lock on SQLite."""

from __future__ import annotations

import fcntl
import os
import zlib
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

# One key for "the vcs scheduler" in pg_advisory_lock's 64-bit space.
ADVISORY_KEY = zlib.crc32(b"vcs-scheduler")


class SchedulerLock(Protocol):
    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process now holds it."""
        ...

    def still_held(self) -> bool:
        """False once the lock is lost (for PostgreSQL: the holding connection died)."""
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
        return self._fh is not None

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


class AdvisoryLock:
    """pg_try_advisory_lock on a connection of its own; the server frees it when that dies."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        connection = self.engine.connect()
        try:
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
            ).scalar()
            connection.commit()
        except SQLAlchemyError:
            connection.close()
            return False
        if not got:
            connection.close()
            return False
        self._connection = connection
        return True

    def still_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except SQLAlchemyError:
            self._connection.invalidate()
            self._connection = None
            return False
        return True

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY}
                )
                self._connection.commit()
            except SQLAlchemyError:
                pass
            finally:
                self._connection.close()
                self._connection = None


def lock_for(engine: Engine, lock_file: Path) -> SchedulerLock:
    """The lock that fits the database behind `engine`."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    return FileLock(lock_file)
