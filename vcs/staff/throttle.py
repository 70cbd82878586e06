"""Log-in throttling per account and per client address, kept in the database so that every
web worker sees the same count.

`max_failures` failed log-ins within `window` lock the account (or the address) until
`lockout` after the failure that set the lock. Attempts refused by a lock are not counted again,
so nobody can keep a lock going for ever by hammering it. A successful log-in clears the count
of its account, but not of its address: one known password must not reset the budget for
guessing others from the same place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session as Db

from vcs.config import StaffSettings
from vcs.storage.models import LoginAttempt

# Attempts are kept this long, then deleted; longer than any window worth configuring.
KEEP = dt.timedelta(days=1)


@dataclass(frozen=True)
class Limits:
    max_failures: int
    window: dt.timedelta
    lockout: dt.timedelta

    @classmethod
    def from_settings(cls, staff: StaffSettings) -> Limits:
        return cls(
            staff.login_max_failures,
            dt.timedelta(minutes=staff.login_window_minutes),
            dt.timedelta(minutes=staff.login_lockout_minutes),
        )


def locked_until(
    db: Db, email: str, address: str, now: dt.datetime, limits: Limits
) -> dt.datetime | None:
    """When the lock on this account or address lifts, or None when log-in may be tried."""
    ends = [
        end
        for end in (
            _lock_end(_recent_failures(db, LoginAttempt.email == email, now, True), limits),
            _lock_end(_recent_failures(db, LoginAttempt.address == address, now, False), limits),
        )
        if end is not None and end > now
    ]
    return max(ends) if ends else None


def record(db: Db, email: str, address: str, success: bool, now: dt.datetime) -> None:
    """Count one attempt that was actually checked (not one refused by a lock)."""
    db.add(LoginAttempt(at=now, email=email, address=address[:64], success=success))
    db.execute(delete(LoginAttempt).where(LoginAttempt.at < now - KEEP))
    db.flush()


def _recent_failures(
    db: Db, matches: ColumnElement[bool], now: dt.datetime, since_success: bool
) -> list[dt.datetime]:
    rows = db.execute(
        select(LoginAttempt.at, LoginAttempt.success)
        .where(matches, LoginAttempt.at > now - KEEP)
        .order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc())
    ).all()
    failures = []
    for at, success in rows:
        if success:
            if since_success:
                break
            continue
        failures.append(at)
    return failures


def _lock_end(failures_newest_first: list[dt.datetime], limits: Limits) -> dt.datetime | None:
    """The newest `max_failures` failures inside one window set a lock from the newest of them."""
    if len(failures_newest_first) < limits.max_failures:
        return None
    newest = failures_newest_first[0]
    oldest = failures_newest_first[limits.max_failures - 1]
    if newest - oldest > limits.window:
        return None
    return newest + limits.lockout
