"""The change stamp: raised in the same transaction as any write to what pages and feeds show."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, event, select, update
from sqlalchemy.orm import Session as Db

from vcs.storage.models import (
    ChangeStamp,
    Livestream,
    Member,
    MemberRegion,
    MemberSeries,
    Municipality,
    Region,
    Series,
    Session,
)

TRACKED = (Session, Series, Livestream, Member, MemberSeries, MemberRegion, Region, Municipality)
STAMP_ID = 1


# Commits in this process that raised the stamp: a StampWatch that trusts its last look for a
# moment still sees this process's own writes at once.
_local_commits = [0]


@event.listens_for(Db, "after_flush")
def _raise_stamp(db: Db, _flush_context: Any) -> None:
    # In after_flush the session still lists what this flush wrote.
    touched = (*db.new, *db.dirty, *db.deleted)
    if any(isinstance(obj, TRACKED) for obj in touched):
        db.connection().execute(
            update(ChangeStamp)
            .where(ChangeStamp.id == STAMP_ID)
            .values(value=ChangeStamp.value + 1)
        )
        db.info["stamp_raised"] = True


@event.listens_for(Db, "after_commit")
def _count_local_commit(db: Db) -> None:
    if db.info.pop("stamp_raised", False):
        _local_commits[0] += 1


@event.listens_for(Db, "after_rollback")
def _forget_rolled_back(db: Db) -> None:
    db.info.pop("stamp_raised", None)


def current_stamp(connection: Connection) -> int:
    """The stamp as this connection sees it; 0 before the first write."""
    value = connection.execute(select(ChangeStamp.value).where(ChangeStamp.id == STAMP_ID)).scalar()
    return int(value or 0)


class StampWatch:
    """The change stamp, read from the database at most once per `recheck` seconds, and again at
    once after any commit in this process that raised it.

    Every page and feed request asks for the stamp; reading it each time makes that one query
    the whole cost of a cached response. Writes by other processes (the scheduler, other web
    workers) are seen within `recheck` seconds.
    """

    def __init__(
        self,
        engine: Engine,
        recheck: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.recheck = recheck
        self.monotonic = monotonic
        self._seen: tuple[int, float, int] | None = None  # (local commits, when, stamp)

    def known(self) -> int | None:
        """The stamp if it needs no look at the database now, else None (then call value())."""
        seen = self._seen
        fresh = seen is not None and seen[0] == _local_commits[0]
        if fresh and seen is not None and self.monotonic() - seen[1] < self.recheck:
            return seen[2]
        return None

    def value(self) -> int:
        commits, now = _local_commits[0], self.monotonic()
        seen = self._seen
        if seen is not None and seen[0] == commits and now - seen[1] < self.recheck:
            return seen[2]
        with self.engine.connect() as connection:
            stamp = current_stamp(connection)
        self._seen = (commits, now, stamp)
        return stamp
