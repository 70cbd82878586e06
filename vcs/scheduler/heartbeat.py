"""The active scheduler's heartbeat: one row saying who holds the lock and when it last beat."""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

from vcs.context import Context
from vcs.storage.models import SchedulerHeartbeat

# There is one active scheduler, so one row.
ROW_ID = 1


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int

    @classmethod
    def this_process(cls) -> Holder:
        return cls(socket.gethostname(), os.getpid())


def beat(context: Context, holder: Holder, taken_at: dt.datetime) -> None:
    """Record that `holder`, active since `taken_at`, is alive now."""
    with context.database.session() as db:
        row = db.get(SchedulerHeartbeat, ROW_ID)
        if row is None:
            row = SchedulerHeartbeat(id=ROW_ID)
            db.add(row)
        row.host = holder.host[:255]
        row.pid = holder.pid
        row.taken_at = taken_at
        row.beat_at = context.clock.now()


def latest(context: Context) -> SchedulerHeartbeat | None:
    """The last heartbeat any scheduler wrote, or None if none ever ran on this database."""
    with context.database.session() as db:
        return db.get(SchedulerHeartbeat, ROW_ID)


def state(context: Context) -> str:
    """ok (younger than scheduler.heartbeat_max_age_seconds), stale, or missing (none ever)."""
    row = latest(context)
    if row is None:
        return "missing"
    max_age = dt.timedelta(seconds=context.settings.scheduler.heartbeat_max_age_seconds)
    return "ok" if context.clock.now() - row.beat_at < max_age else "stale"
