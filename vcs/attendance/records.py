"""The attendance rows of a session: marked by staff from the registrations, listed, and the
minimum presence a meeting tool's report is measured against.

A session's attendance can be recorded once it has started (staff mark the room during it) and
never for a cancelled session. One row per session and address (lower case), so marking and
importing the same person twice is one row; an import does not undo what staff marked by hand
in the room (review.py).
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from vcs import audit
from vcs.errors import Problem, VcsError
from vcs.i18n import N_
from vcs.planning import registrations
from vcs.planning.registrations import ATTENDANCES, REGISTERED, WAITING
from vcs.states import SessionStatus
from vcs.storage.models import Attendance, Registration, Session

MARKED = "marked"
SOURCES = (MARKED, "zoom", "teams", "jitsi")

PROBLEMS = {
    "not-started": N_("attendance can be recorded once the session has started"),
    "cancelled": N_("this session is cancelled: nobody attended it"),
    "choice": N_("%(value)r is not a way of taking part (use %(choices)s)"),
}


class AttendanceError(VcsError):
    """Attendance that cannot be recorded: code `attendance.<reason>`."""

    def __init__(self, reason: str, **params: Any) -> None:
        super().__init__([Problem(f"attendance.{reason}", PROBLEMS[reason], params)])


def refusal(session: Session, now: dt.datetime) -> str | None:
    """Why attendance cannot be recorded now ("not-started", "cancelled"), or None."""
    if session.status == SessionStatus.CANCELLED:
        return "cancelled"
    if now < session.start:
        return "not-started"
    return None


def check_open(session: Session, now: dt.datetime) -> None:
    """AttendanceError unless the session's attendance can be recorded now."""
    reason = refusal(session, now)
    if reason is not None:
        raise AttendanceError(reason)


def minimum_minutes(session: Session, share: float) -> int:
    """The minutes a person must be present to count: `share` (attendance.min_presence) of the
    session's length, rounded up (75 % of 90 minutes: 68)."""
    length = (session.end - session.start).total_seconds() / 60
    return math.ceil(round(length * share, 6))


def name_key(name: str) -> tuple[str, str]:
    """A name's place in a list: "Ērika" beside "Erika", before "Jānis" (code points would put
    every Latvian capital letter with a diacritic after "Z")."""
    folded = name.casefold()
    plain = unicodedata.normalize("NFD", folded)
    return "".join(char for char in plain if not unicodedata.combining(char)), folded


def attendees(db: Db, session_id: int) -> list[Attendance]:
    """Everyone recorded as having taken part, by name."""
    rows = db.scalars(select(Attendance).where(Attendance.session_id == session_id)).all()
    return sorted(rows, key=lambda row: (name_key(row.name), row.email))


def by_email(db: Db, session_id: int) -> dict[str, Attendance]:
    return {row.email: row for row in attendees(db, session_id)}


@dataclass(frozen=True)
class Mark:
    """One registrant on the marking form: how they registered and whether they came."""

    registration: Registration
    attended: str  # room, online, or "" (not recorded)
    source: str
    minutes: int | None


def marking(db: Db, session_id: int) -> tuple[list[Mark], list[Attendance]]:
    """The registrants to mark (registered, then the waiting list: some come anyway), and the
    people recorded who are not among them (a report's guests, a cancelled registration)."""
    recorded = by_email(db, session_id)
    marks = []
    for row in registrations.registrants(db, session_id):
        if row.status not in (REGISTERED, WAITING):
            continue
        found = recorded.pop(row.email, None)
        marks.append(
            Mark(
                row,
                found.attendance if found else "",
                found.source if found else "",
                found.minutes if found else None,
            )
        )
    return marks, sorted(recorded.values(), key=lambda row: (name_key(row.name), row.email))


def save_marks(
    db: Db, session: Session, choices: Mapping[int, str], actor: str, now: dt.datetime
) -> int:
    """Record the form's choices, registration id -> "room", "online" or "" (did not come);
    return how many people changed. Registrations of other sessions are ignored."""
    check_open(session, now)
    for value in choices.values():
        if value and value not in ATTENDANCES:
            raise AttendanceError("choice", value=value, choices=", ".join(ATTENDANCES))
    recorded = by_email(db, session.id)
    wanted = db.scalars(
        select(Registration).where(
            Registration.session_id == session.id, Registration.id.in_(list(choices))
        )
    ).all()
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    for registration in wanted:
        choice = choices[registration.id]
        row = recorded.get(registration.email)
        if (row.attendance if row else "") == choice:
            continue
        before[registration.email] = row.attendance if row else ""
        after[registration.email] = choice
        if not choice:
            assert row is not None
            db.delete(row)
            continue
        if row is None:
            row = Attendance(session_id=session.id, email=registration.email)
            db.add(row)
        row.member_id, row.registration_id = registration.member_id, registration.id
        row.name, row.language = registration.name, registration.language or "lv"
        row.attendance, row.minutes, row.source = choice, None, MARKED
        row.marked_at, row.marked_by = now, actor
    if after:
        audit.record(db, actor, "attendance", "session", session.id, before=before, after=after)
    db.flush()
    return len(after)


def as_json(row: Attendance) -> dict[str, Any]:
    """One attendance as `vcs attendance list --json` gives it (docs/attendance.md)."""
    return {
        "email": row.email,
        "name": row.name,
        "attendance": row.attendance,
        "minutes": row.minutes,
        "source": row.source,
        "member_id": row.member_id,
    }
