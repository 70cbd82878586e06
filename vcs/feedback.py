"""Feedback after a session: a short form for those who took part, anonymous in the results.

Who may answer: the people with an `Attendance` row of the session (marked by staff or read from
the meeting tool's report), each with their own signed link,
`/sessions/{id}/feedback/{token}`, the token binding the attendance and the session. Anyone
else, and any link changed by hand, is refused.

One answer per attendee, anonymous: an answer is stored as a `FeedbackAnswer` that says nothing
of whose it is (no attendance, member, address, name or time), and that the attendee answered as
a `FeedbackGiven` row keyed by their attendance. Both are written in one transaction; the key of
`FeedbackGiven` refuses a second answer, also when two arrive at the same moment (the second
waits for the first's commit, then fails on the key, and its answer is rolled back with it).
Results list the free texts sorted alphabetically, never in the order they came.

When attendees get the link (docs/feedback.md):

- with the follow-up: when the recording's follow-up goes out (vcs.announcements.follow_up),
  every attendee known then gets one e-mail, `MailKind.FEEDBACK`, with the recording and their
  link, instead of the plain follow-up;
- later, from staff: attendance is often marked after the follow-up, so the staff session page
  has a button ("Ask attendees for feedback") that calls `ask()`.

Both queue `MailKind.FEEDBACK` under one ref per session (`session:{id}:feedback`): the outbox's
(kind, ref, address) key keeps it to one e-mail per attendee, whoever asks and how often.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as Db

from vcs import text
from vcs.clock import Clock
from vcs.config import Settings
from vcs.errors import Problem, VcsError
from vcs.i18n import N_, gettext_for
from vcs.mail import compose, outbox
from vcs.mail.compose import Content, MailKind
from vcs.network import network_name
from vcs.planning import wording
from vcs.states import DeliveryStatus, SessionStatus
from vcs.storage.models import (
    Attendance,
    Delivery,
    FeedbackAnswer,
    FeedbackGiven,
    Member,
    Session,
)

SALT = "vcs.feedback.link"
RATINGS = (1, 2, 3, 4, 5)
# Each of the three free texts: a few paragraphs at most.
ANSWER = text.Kind(2_000, multiline=True)
TEXTS = ("useful", "improve", "wishes")

PROBLEMS = {
    "link": N_(
        "this feedback link does not work: only those who took part in the session can answer, "
        "each with the link from their own e-mail"
    ),
    "forged": N_(
        "this feedback link does not work: only those who took part in the session can answer, "
        "each with the link from their own e-mail"
    ),
    "not-yet": N_("the feedback form opens when the session starts"),
    "cancelled": N_("this session was cancelled, so there is nothing to give feedback on"),
    "answered": N_("you have already answered for this session; thank you"),
    "rating": N_("choose a rating from 1 to 5"),
}


class FeedbackError(VcsError):
    """A feedback link or answer that cannot be used: code `feedback.<reason>`."""

    def __init__(self, reason: str, field: str = "", **params: Any) -> None:
        self.reason = reason
        super().__init__([Problem(f"feedback.{reason}", PROBLEMS[reason], params, (), field)])


# -- links ---------------------------------------------------------------------------------------


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.signing_key, salt=SALT)


def link_token(settings: Settings, attendance: Attendance) -> str:
    """An attendee's token: their attendance and its session, signed."""
    return str(_serializer(settings).dumps([attendance.id, attendance.session_id]))


def link_url(settings: Settings, attendance: Attendance) -> str:
    """/sessions/{id}/feedback/{token}: the attendee's own form."""
    return (
        f"{settings.base_url}/sessions/{attendance.session_id}/feedback/"
        f"{link_token(settings, attendance)}"
    )


def attendance_for_link(db: Db, settings: Settings, session_id: int, token: str) -> Attendance:
    """The attendance a token opens for the session in the address.

    FeedbackError("forged") for a token not signed by us (changed by hand), "link" for a
    signed one that is no attendee's of this session (an attendance removed since, another
    session's link put under this session's address)."""
    try:
        value = _serializer(settings).loads(token)
    except BadSignature as exc:
        raise FeedbackError("forged") from exc
    match value:
        case [int(attendance_id), int(signed_session)] if not isinstance(
            attendance_id, bool
        ) and not isinstance(signed_session, bool):
            row = db.get(Attendance, attendance_id)
            if row is not None and row.session_id == signed_session == session_id:
                return row
    raise FeedbackError("link")


# -- answering -----------------------------------------------------------------------------------


def refusal(session: Session, now: dt.datetime) -> str | None:
    """Why the session takes no feedback now ("cancelled", "not-yet"), or None."""
    if session.status == SessionStatus.CANCELLED:
        return "cancelled"
    if now < session.start:
        return "not-yet"
    return None


def answered(db: Db, attendance_id: int) -> bool:
    """Whether the attendee has answered already."""
    return db.get(FeedbackGiven, attendance_id) is not None


@dataclass(frozen=True)
class Answer:
    """One filled-in form, checked and cleaned."""

    rating: int
    useful: str = ""
    improve: str = ""
    wishes: str = ""


def read_answer(form: Mapping[str, str]) -> Answer:
    """The form's fields, cleaned at the door (vcs/text.py); one VcsError with every problem,
    each naming its field."""
    problems: list[Problem] = []
    raw = form.get("rating", "").strip()
    rating = int(raw) if raw.isdigit() and len(raw) == 1 else 0
    if rating not in RATINGS:
        problems.append(Problem("feedback.rating", PROBLEMS["rating"], {}, (), "rating"))
    cleaned: dict[str, str] = {}
    for name in TEXTS:
        cleaned[name] = text.clean(form.get(name, ""), ANSWER)
        problem = text.too_long(cleaned[name], ANSWER, name)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise VcsError(problems)
    return Answer(rating, **cleaned)


def save(db: Db, clock: Clock, attendance: Attendance, answer: Answer, language: str) -> None:
    """Store one attendee's answer: that they answered, and what, apart.

    FeedbackError("answered") when they answered before (also when a second submit of theirs
    races this one: the key of FeedbackGiven decides, and the transaction is rolled back).
    """
    session = db.get(Session, attendance.session_id)
    assert session is not None  # an attendance goes with its session (ON DELETE CASCADE)
    reason = refusal(session, clock.now())
    if reason is not None:
        raise FeedbackError(reason)
    if answered(db, attendance.id):
        raise FeedbackError("answered")
    try:
        db.add(FeedbackGiven(attendance_id=attendance.id))
        db.flush()
    except IntegrityError as exc:
        db.rollback()
        raise FeedbackError("answered") from exc
    db.add(
        FeedbackAnswer(
            session_id=session.id,
            rating=answer.rating,
            useful=answer.useful,
            improve=answer.improve,
            wishes=answer.wishes,
            language=language,
        )
    )
    db.flush()


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """A session's answers without anybody's name: counts, the average and the free texts."""

    answers: int
    average: float | None
    # How many gave each rating, 1 to 5.
    distribution: dict[int, int]
    useful: list[str] = field(default_factory=list)
    improve: list[str] = field(default_factory=list)
    wishes: list[str] = field(default_factory=list)


def _listed(texts: Sequence[str]) -> list[str]:
    # Alphabetical: the order answers came in could tell who wrote one.
    return sorted((value for value in texts if value), key=lambda value: (value.casefold(), value))


def summary(db: Db, session_id: int) -> Summary:
    """The session's answers summed up."""
    rows = db.execute(
        select(
            FeedbackAnswer.rating,
            FeedbackAnswer.useful,
            FeedbackAnswer.improve,
            FeedbackAnswer.wishes,
        ).where(FeedbackAnswer.session_id == session_id)
    ).all()
    distribution = dict.fromkeys(RATINGS, 0)
    for row in rows:
        if row.rating in distribution:
            distribution[row.rating] += 1
    ratings = [row.rating for row in rows]
    return Summary(
        answers=len(rows),
        average=round(sum(ratings) / len(ratings), 2) if ratings else None,
        distribution=distribution,
        useful=_listed([row.useful for row in rows]),
        improve=_listed([row.improve for row in rows]),
        wishes=_listed([row.wishes for row in rows]),
    )


@dataclass(frozen=True)
class Progress:
    """What the staff session page shows: attendees, asked, answered, and the summary."""

    attendees: int
    asked: int
    summary: Summary
    # Why nobody can be asked yet ("cancelled", "not-yet"), or None.
    refusal: str | None


def attendee_count(db: Db, session_id: int) -> int:
    return int(
        db.scalar(
            select(func.count()).select_from(Attendance).where(Attendance.session_id == session_id)
        )
        or 0
    )


def asked(db: Db, session_id: int) -> set[str]:
    """The addresses (lower case) whose feedback e-mail is queued or went out (not cancelled,
    not failed to be made)."""
    found = db.scalars(
        select(Delivery.to_address).where(
            Delivery.kind == MailKind.FEEDBACK.outbox_kind,
            Delivery.ref == feedback_ref(session_id),
            Delivery.status != DeliveryStatus.CANCELLED,
            Delivery.message_id != "",
        )
    )
    return {address.lower() for address in found}


def progress(db: Db, session: Session, now: dt.datetime) -> Progress:
    """The staff session page's feedback section."""
    return Progress(
        attendees=attendee_count(db, session.id),
        asked=len(asked(db, session.id)),
        summary=summary(db, session.id),
        refusal=refusal(session, now),
    )


@dataclass(frozen=True)
class TrendRow:
    """One session of a series in the trend: when, how many answered, the average rating."""

    session_id: int
    start: dt.datetime
    answers: int
    average: float | None


@dataclass(frozen=True)
class Trend:
    """A series' sessions with answers, oldest first, and the topic wishes, newest first."""

    rows: list[TrendRow]
    # (the session's start, the wish), newest session first, wishes alphabetical within one.
    wishes: list[tuple[dt.datetime, str]]


def trend(db: Db, series_id: int) -> Trend:
    """How a series' sessions were rated over time, and what topics people wish for."""
    rows = db.execute(
        select(
            Session.id,
            Session.start,
            func.count(FeedbackAnswer.id),
            func.avg(FeedbackAnswer.rating),
        )
        .join(FeedbackAnswer, FeedbackAnswer.session_id == Session.id)
        .where(Session.series_id == series_id)
        .group_by(Session.id, Session.start)
        .order_by(Session.start, Session.id)
    ).all()
    wished = db.execute(
        select(Session.start, FeedbackAnswer.wishes)
        .join(FeedbackAnswer, FeedbackAnswer.session_id == Session.id)
        .where(Session.series_id == series_id, FeedbackAnswer.wishes != "")
    ).all()
    return Trend(
        rows=[
            TrendRow(sid, start, int(count), round(float(avg), 2) if avg is not None else None)
            for sid, start, count, avg in rows
        ],
        wishes=sorted(
            ((start, wish) for start, wish in wished),
            key=lambda pair: (-pair[0].timestamp(), pair[1].casefold(), pair[1]),
        ),
    )


# -- asking --------------------------------------------------------------------------------------


def feedback_ref(session_id: int) -> str:
    # One feedback e-mail per session and address, whoever asks and how often.
    return f"session:{session_id}:feedback"


def recipients(
    db: Db, settings: Settings, session_id: int
) -> list[tuple[outbox.Recipient, Attendance]]:
    """The session's attendees as recipients: a member with their own links (members who left
    or bounced get nothing), a visitor at the address they took part with."""
    found: list[tuple[outbox.Recipient, Attendance]] = []
    rows = db.scalars(
        select(Attendance).where(Attendance.session_id == session_id).order_by(Attendance.id)
    ).all()
    for row in rows:
        member = db.get(Member, row.member_id) if row.member_id is not None else None
        if member is not None:
            if member.status in outbox.UNREACHABLE:
                continue
            recipient = outbox.Recipient.for_member(settings, member)
        else:
            recipient = outbox.Recipient(
                address=row.email, name=row.name, language=row.language or "lv"
            )
        found.append((recipient, row))
    return found


def ask(
    db: Db,
    settings: Settings,
    session_id: int,
    now: dt.datetime,
) -> int:
    """Queue the feedback e-mail to the session's attendees not asked yet; return how many.

    Each gets their own link (and the recording, when there is one). FeedbackError when the
    session is cancelled or has not started."""
    session = db.get(Session, session_id)
    if session is None:
        raise FeedbackError("link")
    reason = refusal(session, now)
    if reason is not None:
        raise FeedbackError(reason)
    pairs = recipients(db, settings, session_id)
    links = {recipient.address.lower(): link_url(settings, row) for recipient, row in pairs}
    return outbox.enqueue(
        db,
        settings,
        kind=MailKind.FEEDBACK.outbox_kind,
        ref=feedback_ref(session_id),
        recipients=[recipient for recipient, _row in pairs],
        compose=composer(settings, session, links),
        now=now,
    )


def composer(
    settings: Settings, session: Session, links: Mapping[str, str]
) -> Callable[[outbox.Recipient], Content]:
    """Compose the feedback e-mail: the session, the recording if any, the recipient's link."""

    @functools.cache
    def content(lang: str, url: str) -> Content:
        _ = gettext_for(lang)
        title = wording.title(session, lang)
        if session.recording_url:
            subject = _("Recording and your feedback: %(title)s", title=title)
        else:
            subject = _("Your feedback: %(title)s", title=title)
        values = {
            "network": network_name(settings, lang),
            "url": url,
            "title": title,
            "when": wording.when(session, lang),
            "recording": session.recording_url,
            "organiser": wording.organiser(session),
            "funding": wording.funding(session, lang),
        }
        return compose.render(MailKind.FEEDBACK, lang, subject, values)

    return lambda recipient: content(recipient.language, links[recipient.address.lower()])
