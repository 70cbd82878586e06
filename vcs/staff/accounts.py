"""Staff accounts: argon2id password hashes, roles, log-in checks."""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import string
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session as Db

from vcs import audit
from vcs.errors import Problem, VcsError
from vcs.i18n import N_
from vcs.storage.models import StaffUser

# Editors manage series, sessions and digests; admins also members, staff and the audit log.
ROLES = ("editor", "admin")
MIN_PASSWORD_LENGTH = 12

# argon2-cffi's defaults are argon2id with RFC 9106's low-memory profile (64 MiB per hash). A
# hash made with other parameters still verifies, and is replaced at the next log-in.
hasher = PasswordHasher()
# Verified against when no account matches, so an unknown e-mail costs as long as a wrong password.
_DUMMY_HASH = hasher.hash("not a password of anyone")

# Refused as passwords, compared case-folded, also with digits and symbols cut off the end
# ("Parole2026!" is "parole"). Long enough to pass the length rule, yet tried first by anyone.
COMMON_PASSWORDS = frozenset(
    {
        "password", "passwords", "passw0rd", "parole", "paroleparole", "mansparole",
        "manaparole", "qwerty", "qwertyuiop", "asdfghjkl", "zxcvbnm", "qazwsx", "qwertz",
        "iloveyou", "letmein", "welcome", "welcometo", "admin", "administrator", "changeme",
        "changeit", "sunshine", "football", "princess", "dragon", "monkey", "master", "secret",
        "trustno", "superman", "baseball", "starwars", "whatever", "abc", "abcdef",
        "abcdefghijkl", "abcabc", "latvija", "latvia", "riga", "sveiki", "labdien",
        "jaunatne", "jauniesi", "videoconference", "videokonference", "staff", "editor",
    }
)  # fmt: skip
# A password that is a stretch of one of these (either way round) is a keyboard or counting run.
RUNS = (
    "01234567890123456789012345678901234567890",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "1q2w3e4r5t6y7u8i9o0p",
    "abcdefghijklmnopqrstuvwxyz",
)


class AccountError(VcsError):
    """A staff account cannot be created or changed as asked; the message says why."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__([Problem(f"staff.{code}", message, params)])


def normalise_email(email: str) -> str:
    """E-mail addresses compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def may(role: str, needed: str) -> bool:
    """Whether `role` may do what `needed` (editor or admin) may."""
    return ROLES.index(role) >= ROLES.index(needed)


def check_password(password: str, email: str = "") -> None:
    """Refuse a password that is short or among the first anyone would guess; AccountError."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            "password_short",
            N_("the password must be at least %(n)s characters long"),
            n=MIN_PASSWORD_LENGTH,
        )
    folded = password.casefold()
    if any(folded == (folded[:size] * len(folded))[: len(folded)] for size in range(1, 5)):
        raise AccountError(
            "password_repeated",
            N_("the password must not be one character, or a few, repeated"),
        )
    stem = folded.rstrip(string.digits + string.punctuation + " ")
    if (
        folded in COMMON_PASSWORDS
        or stem in COMMON_PASSWORDS
        or any(folded in run or folded in run[::-1] for run in RUNS)
    ):
        raise AccountError(
            "password_common", N_("the password is one of the most common ones; choose another")
        )
    email = normalise_email(email)
    local = email.partition("@")[0]
    if email and (folded in (email, local) or stem in (email, local)):
        raise AccountError(
            "password_email", N_("the password must not be the e-mail address or a part of it")
        )


def find(db: Db, email: str) -> StaffUser | None:
    return db.scalars(select(StaffUser).where(StaffUser.email == normalise_email(email))).first()


def create(db: Db, email: str, password: str, role: str, actor: str, name: str = "") -> StaffUser:
    """A new staff account; the password is stored only as an argon2id hash."""
    email = normalise_email(email)
    if "@" not in email or " " in email:
        raise AccountError("not_email", N_("not an e-mail address: %(email)r"), email=email)
    if role not in ROLES:
        raise AccountError(
            "role",
            N_("role must be one of %(roles)s, not %(role)r"),
            roles=", ".join(ROLES),
            role=role,
        )
    check_password(password, email)
    if find(db, email) is not None:
        raise AccountError("exists", N_("a staff account %(email)s exists already"), email=email)
    user = StaffUser(email=email, name=name.strip(), role=role, password_hash=hasher.hash(password))
    db.add(user)
    db.flush()
    audit.record(db, actor, "create", "staff_user", user.id, after=_public(user))
    return user


def set_password(db: Db, user: StaffUser, password: str, actor: str) -> None:
    """A new password; log-ins made with the old one end."""
    check_password(password, user.email)
    user.password_hash = hasher.hash(password)
    user.session_epoch += 1
    audit.record(db, actor, "password", "staff_user", user.id)
    db.flush()


def disable(db: Db, email: str, actor: str) -> StaffUser:
    """Stop an account from logging in; its open sessions end at their next request."""
    user = find(db, email)
    if user is None:
        raise AccountError(
            "unknown", N_("no staff account %(email)s"), email=normalise_email(email)
        )
    before = _public(user)
    user.active = False
    user.session_epoch += 1
    audit.record(db, actor, "disable", "staff_user", user.id, before=before, after=_public(user))
    db.flush()
    return user


def all_accounts(db: Db) -> Sequence[StaffUser]:
    return db.scalars(select(StaffUser).order_by(func.lower(StaffUser.email))).all()


def verify(db: Db, email: str, password: str, now: dt.datetime) -> StaffUser | None:
    """The active account with this e-mail and password, else None (whatever the reason).

    Checks in the calling thread; the web app checks through `HASHING` instead (see there).
    """
    user, stored = candidate(db, email)
    check = check_hash(stored, password)
    return logged_in(db, user, check, now) if user is not None else None


def candidate(db: Db, email: str) -> tuple[StaffUser | None, str]:
    """The active account of an e-mail (or None) and the hash to check a password against.

    Without an account the hash is a dummy, so an unknown e-mail costs as long as a wrong password.
    """
    user = find(db, email)
    if user is None or not user.active:
        return None, _DUMMY_HASH
    return user, user.password_hash


@dataclass(frozen=True)
class Check:
    """What checking a password against a hash found: whether it matched, and a better hash."""

    matched: bool
    new_hash: str | None = None


def check_hash(stored: str, password: str) -> Check:
    """Check a password (no database involved: this is the 64 MiB, CPU-bound part)."""
    try:
        hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Check(False)
    # A hash made with older parameters is replaced while the password is at hand.
    return Check(True, hasher.hash(password) if hasher.check_needs_rehash(stored) else None)


def logged_in(db: Db, user: StaffUser, check: Check, now: dt.datetime) -> StaffUser | None:
    """The account if the check matched and it is still active; its hash renewed if needed."""
    if not check.matched or not user.active:
        return None
    if check.new_hash is not None:
        user.password_hash = check.new_hash
    user.last_login_at = now
    db.flush()
    return user


T = TypeVar("T")


class HashSlots:
    """At most `size` argon2 computations at once in this process; the others wait their turn.

    Each one holds 64 MiB while it runs, so a burst of log-ins that all reached the hash at once
    would take the thread pool times 64 MiB. The work runs in threads of its own, `size` of
    them, so waiting log-ins hold no thread, no database connection and no memory, and the
    event loop is never blocked. `peak` is the most that ever ran at once (for tests).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._size = 0
        self.running = 0
        self.peak = 0

    def _executor(self, size: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None or self._size != size:
                if self._pool is not None:
                    self._pool.shutdown(wait=False)
                self._pool = ThreadPoolExecutor(size, thread_name_prefix="vcs-argon2")
                self._size = size
            return self._pool

    def _counted(self, work: Callable[[], T]) -> T:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return work()
        finally:
            with self._lock:
                self.running -= 1

    async def run(self, size: int, work: Callable[[], T]) -> T:
        """Run `work` in one of the `size` hashing threads, waiting (not failing) for a turn."""
        context = contextvars.copy_context()  # the request id for log lines
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor(max(1, size)), context.run, self._counted, work
        )


HASHING = HashSlots()


def _public(user: StaffUser) -> dict[str, Any]:
    """What the audit log keeps of an account: never the hash."""
    return {"email": user.email, "name": user.name, "role": user.role, "active": user.active}
