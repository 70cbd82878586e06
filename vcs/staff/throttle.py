"""Log-in throttling per account and client address, and per client address, kept in the
database so that every web worker sees the same count.

Two limits, each over failed log-ins within `window`, each locking for `lockout` after the
failure that reached it:

- `per_account`: failures for one account *from one client address*. Someone guessing from
  their address cannot lock the account's owner out: her log-in from elsewhere is another pair.
- `per_address`: failures from one client address over all accounts, so that one place cannot
  guess a few passwords for every account.

There is no limit per account alone: any such limit is one that strangers can use to lock the
owner out, which is exactly what must not happen. Guessing from many addresses at once stays
slow: each address gets `per_account` guesses per window, every guess costs an argon2 hash,
and the passwords it would have to find are long and not common (see accounts.check_password).

An attempt is counted *before* its password is checked: `admit()` writes it and commits, and only
then counts. Of attempts racing each other, the n-th to commit sees the n-1 before it, so at most
`per_account` of any burst get to the (costly) hash. An attempt refused by a lock is not counted
at all, so nobody can keep a lock going for ever by hammering it; refused attempts go to the
audit log as one entry per key and window with their count, not a row each. A success clears the
failures of its account and address, but not of the address: one known password must not reset
the budget for guessing others from the same place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import Session as Db

from vcs import ratelimit
from vcs.config import StaffSettings
from vcs.storage.db import Database
from vcs.storage.models import AuditEntry, LoginAttempt

# Attempts are kept this long, then deleted; longer than any window worth configuring.
KEEP = dt.timedelta(days=1)
REFUSED_ACTION = "login-throttled"


@dataclass(frozen=True)
class Limits:
    per_account: int
    per_address: int
    window: dt.timedelta
    lockout: dt.timedelta

    @classmethod
    def from_settings(cls, staff: StaffSettings) -> Limits:
        return cls(
            staff.login_max_failures,
            staff.login_max_failures_per_address,
            dt.timedelta(minutes=staff.login_window_minutes),
            dt.timedelta(minutes=staff.login_lockout_minutes),
        )


@dataclass(frozen=True)
class Admission:
    """The answer of `admit()`: the attempt to check, or when the lock that refused it lifts."""

    attempt_id: int | None
    locked_until: dt.datetime | None


def admit(
    database: Database, email: str, address: str, now: dt.datetime, limits: Limits
) -> Admission:
    """Count this attempt, then decide whether its password may be checked at all."""
    address = ratelimit.client_key(address)
    with database.session() as db:
        attempt = LoginAttempt(at=now, email=email, address=address, success=False)
        db.add(attempt)
    # Committed: every attempt that counts from now on sees this one, as a failure until it
    # proves right.
    with database.session() as db:
        pair = _lock_end(
            _recent_failures(
                db,
                (LoginAttempt.email == email) & (LoginAttempt.address == address),
                attempt.id,
                now,
            ),
            limits.per_account,
            limits,
            now,
        )
        anywhere = _lock_end(
            _recent_failures(
                db, LoginAttempt.address == address, attempt.id, now, since_success=False
            ),
            limits.per_address,
            limits,
            now,
        )
        if pair is None and anywhere is None:
            return Admission(attempt.id, None)
        db.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt.id))
        # Under the narrower lock when both hold: it names the account as well.
        if pair is not None:
            where = {"email": email, "address": address}
            _count_refused(db, "account", f"{email} {address}", email, where, now, limits)
        else:
            _count_refused(db, "address", address, address, {"address": address}, now, limits)
        return Admission(None, max(end for end in (pair, anywhere) if end is not None))


def record(db: Db, attempt_id: int, success: bool, now: dt.datetime) -> None:
    """The outcome of an admitted attempt (it already counts as a failure)."""
    if success:
        db.execute(update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(success=True))
    db.execute(delete(LoginAttempt).where(LoginAttempt.at < now - KEEP))
    db.flush()


def _recent_failures(
    db: Db, matches: ColumnElement[bool], own_id: int, now: dt.datetime, since_success: bool = True
) -> list[dt.datetime]:
    """Failures (and attempts still being checked), newest first, not counting our own."""
    rows = db.execute(
        select(LoginAttempt.at, LoginAttempt.success)
        .where(matches, LoginAttempt.id != own_id, LoginAttempt.at > now - KEEP)
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


def _lock_end(
    failures_newest_first: list[dt.datetime], limit: int, limits: Limits, now: dt.datetime
) -> dt.datetime | None:
    """The newest `limit` failures inside one window lock from the newest of them."""
    if len(failures_newest_first) < limit:
        return None
    newest = failures_newest_first[0]
    oldest = failures_newest_first[limit - 1]
    if newest - oldest > limits.window:
        return None
    end = newest + limits.lockout
    return end if end > now else None


def _count_refused(
    db: Db,
    scope: str,
    key: str,
    actor: str,
    where: dict[str, str],
    now: dt.datetime,
    limits: Limits,
) -> None:
    """One audit entry per key and lockout-long window, its count raised by each refusal."""
    tally = ratelimit.counter(db, f"login-refused-{scope}", key, now, limits.lockout)
    tally.count += 1
    # Requests read the clock before they queue for the lock: the last may not be the latest.
    tally.last_at = max(now, tally.last_at or now)
    after = {
        **where,
        "limit": scope,
        "count": tally.count,
        "first": tally.window_start.isoformat(),
        "last": tally.last_at.isoformat(),
    }
    entry = db.get(AuditEntry, int(tally.ref)) if tally.ref else None
    if entry is None:
        entry = AuditEntry(
            actor=actor, action=REFUSED_ACTION, entity="staff_user", entity_id="", after=after
        )
        db.add(entry)
        db.flush()
        tally.ref = str(entry.id)
    else:
        entry.after = after
    db.flush()
