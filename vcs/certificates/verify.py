"""What the public verification page /certificates/{code} may say, and nothing more.

A genuine certificate: the holder's name, the session's title and date, the hours. A revoked
one: that it was revoked, and when; not whose it was. An unknown code: that there is none. Never
an e-mail address, a member id or anything else of the holder's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session as Db

from vcs.storage.models import Session

from . import issue

GENUINE, REVOKED, UNKNOWN = "genuine", "revoked", "unknown"


@dataclass(frozen=True)
class Verdict:
    """The page's answer: for a genuine certificate the name, session and hours; for a revoked
    one only when it was revoked."""

    state: str
    code: str = ""
    name: str = ""
    session: Session | None = None
    minutes: int = 0
    revoked_at: dt.datetime | None = None


def verdict(db: Db, code: str) -> Verdict:
    """Whether `code` is a certificate that stands, a revoked one, or none."""
    found = issue.find(db, code)
    if found is None:
        return Verdict(UNKNOWN)
    if found.revoked_at is not None:
        return Verdict(REVOKED, found.code, revoked_at=found.revoked_at)
    return Verdict(GENUINE, found.code, found.name, found.session, found.minutes)
