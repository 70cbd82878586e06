"""Staff accounts: argon2id password hashes, roles, log-in checks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session as Db

from vcs import audit
from vcs.storage.models import StaffUser

# Editors manage series, sessions and digests; admins also members, staff and the audit log.
ROLES = ("editor", "admin")
MIN_PASSWORD_LENGTH = 12

# argon2-cffi's defaults are argon2id with RFC 9106's low-memory profile. A hash made with other
# parameters still verifies, and is replaced at the next log-in (see verify()).
hasher = PasswordHasher()
# Verified against when no account matches, so an unknown e-mail costs as long as a wrong password.
_DUMMY_HASH = hasher.hash("not a password of anyone")


class AccountError(ValueError):
    """A staff account cannot be created or changed as asked; the message says why."""


def normalise_email(email: str) -> str:
    """E-mail addresses compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def may(role: str, needed: str) -> bool:
    """Whether `role` may do what `needed` (editor or admin) may."""
    return ROLES.index(role) >= ROLES.index(needed)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")


def find(db: Db, email: str) -> StaffUser | None:
    return db.scalars(select(StaffUser).where(StaffUser.email == normalise_email(email))).first()


def create(db: Db, email: str, password: str, role: str, actor: str, name: str = "") -> StaffUser:
    """A new staff account; the password is stored only as an argon2id hash."""
    email = normalise_email(email)
    if "@" not in email or " " in email:
        raise AccountError(f"not an e-mail address: {email!r}")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    check_password(password)
    if find(db, email) is not None:
        raise AccountError(f"a staff account {email} exists already")
    user = StaffUser(email=email, name=name.strip(), role=role, password_hash=hasher.hash(password))
    db.add(user)
    db.flush()
    audit.record(db, actor, "create", "staff_user", user.id, after=_public(user))
    return user


def set_password(db: Db, user: StaffUser, password: str, actor: str) -> None:
    """A new password; log-ins made with the old one end."""
    check_password(password)
    user.password_hash = hasher.hash(password)
    user.session_epoch += 1
    audit.record(db, actor, "password", "staff_user", user.id)
    db.flush()


def disable(db: Db, email: str, actor: str) -> StaffUser:
    """Stop an account from logging in; its open sessions end at their next request."""
    user = find(db, email)
    if user is None:
        raise AccountError(f"no staff account {normalise_email(email)}")
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

    A hash made with older parameters is replaced by one with the current ones.
    """
    user = find(db, email)
    stored = user.password_hash if user is not None and user.active else _DUMMY_HASH
    try:
        hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.last_login_at = now
    db.flush()
    return user


def _public(user: StaffUser) -> dict[str, Any]:
    """What the audit log keeps of an account: never the hash."""
    return {"email": user.email, "name": user.name, "role": user.role, "active": user.active}
