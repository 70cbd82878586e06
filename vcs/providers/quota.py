"""API units spent per provider and quota day, so a job stops before the provider stops it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from vcs.clock import Clock
from vcs.providers.provider import QuotaExceeded
from vcs.storage.db import Database
from vcs.storage.models import QuotaUsage

# YouTube's quota day starts at midnight Pacific time.
QUOTA_TZ = ZoneInfo("America/Los_Angeles")


def quota_day(now: dt.datetime) -> dt.date:
    return now.astimezone(QUOTA_TZ).date()


def next_reset(now: dt.datetime) -> dt.datetime:
    """The next midnight Pacific time, in UTC."""
    tomorrow = quota_day(now) + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(), QUOTA_TZ).astimezone(dt.UTC)


class DatabaseMeter:
    """Units kept in the quota_usage table, committed at once so a failed job still counts them."""

    def __init__(self, database: Database, clock: Clock, provider: str, daily_limit: int) -> None:
        self.database = database
        self.clock = clock
        self.provider = provider
        self.daily_limit = daily_limit
        self.spent_here = 0

    def used_today(self) -> int:
        with self.database.session() as db:
            row = db.get(QuotaUsage, (self.provider, quota_day(self.clock.now())))
            return row.units if row else 0

    def spend(self, units: int) -> None:
        now = self.clock.now()
        day = quota_day(now)
        with self.database.session() as db:
            query = select(QuotaUsage).where(
                QuotaUsage.provider == self.provider, QuotaUsage.day == day
            )
            row = db.scalars(query.with_for_update()).first()
            if row is None:
                row = QuotaUsage(provider=self.provider, day=day, units=0)
                db.add(row)
            if row.units + units > self.daily_limit:
                raise QuotaExceeded(
                    f"{self.provider}: {row.units} of {self.daily_limit} API units spent today; "
                    f"{units} more would pass the daily quota",
                    retry_after=next_reset(now) - now,
                )
            row.units += units
        self.spent_here += units


class MemoryMeter:
    """Units counted in memory: for tests and one-off commands."""

    def __init__(self, daily_limit: int = 10_000) -> None:
        self.daily_limit = daily_limit
        self.spent_here = 0

    def spend(self, units: int) -> None:
        if self.spent_here + units > self.daily_limit:
            raise QuotaExceeded(f"{self.spent_here} of {self.daily_limit} API units spent")
        self.spent_here += units
