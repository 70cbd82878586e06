"""A participant report imported: matched to members and registrants by e-mail, measured against
the minimum presence, shown for review, then saved in one transaction or not at all.

As the member import does (vcs/membership/members_csv.py): every line is checked first, and any
problem means nothing is saved; the same call with `dry_run=True` is the review the staff page
and `vcs attendance import --dry-run` show before "Save".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as Db

from vcs import audit
from vcs.attendance import records, reports
from vcs.attendance.reports import ReportError, ReportLine
from vcs.context import Context
from vcs.errors import Problem
from vcs.i18n import N_
from vcs.membership.members import find_by_emails
from vcs.planning import sessions
from vcs.planning.registrations import ONLINE, ROOM
from vcs.storage.models import Attendance, Registration

# What saving does with each person of the report.
NEW, UPDATED, UNCHANGED, KEPT, UNDER = "new", "updated", "unchanged", "kept", "under"


@dataclass(frozen=True)
class Person:
    """One person of the report (all their rows), matched and measured."""

    lines: tuple[int, ...]
    email: str
    name: str
    minutes: int
    member_id: int | None
    registration_id: int | None
    language: str
    outcome: str  # new, updated, unchanged, kept (marked in the room by hand), under

    @property
    def counted(self) -> bool:
        return self.outcome != UNDER


@dataclass
class Review:
    """What importing the report does (or, in a dry run, would do)."""

    source: str
    tool: str
    minimum: int
    dry_run: bool
    people: list[Person] = field(default_factory=list)
    # Lines of people the tool knew no address of (guests): they cannot be matched or saved.
    without_email: list[ReportLine] = field(default_factory=list)

    def count(self, *outcomes: str) -> int:
        return sum(1 for person in self.people if person.outcome in outcomes)

    @property
    def attended(self) -> list[Person]:
        return [person for person in self.people if person.counted]

    @property
    def under(self) -> list[Person]:
        return [person for person in self.people if not person.counted]

    def summary(self) -> str:
        """The counts in English, for the CLI."""
        counted = self.attended
        members = sum(1 for person in counted if person.member_id)
        registrants = sum(1 for person in counted if person.registration_id)
        return (
            f"{len(counted)} attended ({members} members, {registrants} registrants; "
            f"{self.count(NEW)} new, {self.count(UPDATED)} updated, "
            f"{self.count(UNCHANGED)} unchanged, {self.count(KEPT)} kept as marked in the room), "
            f"{len(self.under)} under the minimum of {self.minimum} minutes, "
            f"{len(self.without_email)} without an e-mail address (not saved)"
        )


def import_report(
    context: Context,
    session_id: int,
    data: bytes,
    source: str,
    actor: str,
    dry_run: bool = False,
) -> Review:
    """Read the report, match and measure every person, and save those present long enough.

    Raises ReportError with every problem of the file (then nothing is saved), AttendanceError
    for a session that has not started or is cancelled, SessionError for no such session.
    """
    report = reports.read_report(data, source)
    now = context.clock.now()
    try:
        with context.database.session() as db:
            session = sessions.get(db, session_id)
            records.check_open(session, now)
            minimum = records.minimum_minutes(session, context.settings.attendance.min_presence)
            review = Review(source, report.tool, minimum, dry_run)
            stays: dict[str, list[ReportLine]] = {}
            for line in report.lines:
                if line.email:
                    stays.setdefault(line.email, []).append(line)
                else:
                    review.without_email.append(line)
            members = find_by_emails(db, stays)
            registered = {
                row.email: row
                for row in db.scalars(
                    select(Registration).where(Registration.session_id == session.id)
                )
            }
            recorded = records.by_email(db, session.id)
            for email, lines in stays.items():
                member, registration = members.get(email), registered.get(email)
                minutes = reports.minutes_present(lines)
                name = (
                    (member.name if member else "")
                    or (registration.name if registration else "")
                    or next((line.name for line in lines if line.name), "")
                    or email
                )
                language = (member.language if member else "") or (
                    registration.language if registration else "lv"
                )
                outcome = _outcome(recorded.get(email), minutes, minimum, report.tool)
                review.people.append(
                    Person(
                        tuple(line.line for line in lines),
                        email,
                        name,
                        minutes,
                        member.id if member else None,
                        registration.id if registration else None,
                        language or "lv",
                        outcome,
                    )
                )
            review.people.sort(key=lambda person: (records.name_key(person.name), person.email))
            if dry_run:
                return review
            _save(db, session.id, review, recorded, actor, now)
    except IntegrityError:
        changed = Problem(
            "attendance.report.changed",
            N_("the attendance changed while the report was imported; import it again"),
            {"line": 0},
        )
        raise ReportError([changed.at(source)]) from None
    return review


def _outcome(row: Attendance | None, minutes: int, minimum: int, tool: str) -> str:
    if minutes < minimum:
        return UNDER
    if row is None:
        return NEW
    if row.source == records.MARKED and row.attendance == ROOM:
        return KEPT  # staff saw them in the room; the report does not say otherwise
    if (row.attendance, row.minutes, row.source) == (ONLINE, minutes, tool):
        return UNCHANGED
    return UPDATED


def _save(
    db: Db,
    session_id: int,
    review: Review,
    recorded: dict[str, Attendance],
    actor: str,
    now: dt.datetime,
) -> None:
    saved = []
    for person in review.people:
        if person.outcome not in (NEW, UPDATED):
            continue
        row = recorded.get(person.email)
        if row is None:
            row = Attendance(session_id=session_id, email=person.email)
            db.add(row)
        row.member_id, row.registration_id = person.member_id, person.registration_id
        row.name, row.language = person.name, person.language
        row.attendance, row.minutes, row.source = ONLINE, person.minutes, review.tool
        row.marked_at, row.marked_by = now, actor
        saved.append(person.email)
    audit.record(
        db,
        actor,
        "import-attendance",
        "session",
        session_id,
        after={"source": review.source, "tool": review.tool, "saved": saved},
    )
    db.flush()
