"""Reminders: shortly before a session, a short e-mail with the time and the link to use.

`reminders.before` says when (by default one day and one hour before the start). Who is
reminded: the members who follow the session and were sent its announcement (they get the join
link, which only members ever see), and everyone registered for it (a member registrant as a
member; a visitor the session page or the stream, never the join link; whoever comes to the
room, the room). One reader gets one reminder per offset, whether they follow, are registered or
both.

Each reminder is a delivery of kind `reminder` with the ref `session:{id}:reminder:{offset}:
{start}`; the outbox's (kind, ref, address) key keeps it single however often the job runs. The
start in the ref means a moved session is reminded of at its new time, even to those reminded of
the old one (they also get the change notice, vcs.announcements). Reminders still waiting in the
outbox are withdrawn (status cancelled) when their session is cancelled, moved or has started.

Only the shortest offset whose time has come is sent, and only while at least half of its lead
is left: a session added 30 minutes before its start gets no "day before" reminder, and a
scheduler that was stopped for hours does not send the day's reminder two hours before the
start. The live-now alerts come from the same job (vcs.live_alerts). See docs/registration.md.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session as Db

from vcs.announcements import announced_to, describe, followers
from vcs.config import Settings
from vcs.i18n import gettext_for
from vcs.mail import compose, outbox
from vcs.mail.compose import Content, MailKind
from vcs.planning import registrations, wording
from vcs.states import SessionStatus
from vcs.storage.db import Database
from vcs.storage.models import Delivery, Member, Registration, Session

# What a withdrawn reminder's delivery says (`vcs outbox status`).
WITHDRAWN = {
    "cancelled": "the session was cancelled",
    "moved": "the session was moved; reminded of at its new time",
    "started": "the session started before the reminder could be sent",
}
# Kinds the job withdraws from the outbox when they can no longer be right.
WITHDRAWABLE = (MailKind.REMINDER.value, MailKind.LIVE_NOW.value)


@dataclass
class RemindReport:
    """What one run queued and withdrew."""

    reminded: int = 0  # (session, offset) pairs whose reminders were queued this run
    messages: int = 0  # reminders queued
    withdrawn: int = 0  # reminders and alerts cancelled in the outbox
    alerted: int = 0  # sessions whose live-now alert was queued (vcs.live_alerts)
    alerts: int = 0  # live-now alerts queued
    not_made: int = 0  # recipients whose message could not be made (vcs.mail.outbox)
    failures: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"{self.reminded} reminders due, {self.messages} messages queued, "
            f"{self.withdrawn} withdrawn, {self.alerted} sessions live ({self.alerts} alerts)"
        )
        if self.not_made:
            text += f", {self.not_made} failed (see vcs outbox status)"
        return text + "".join(f"; FAILED {failure}" for failure in self.failures)


# --- when -------------------------------------------------------------------------------------


def due_offset(
    offsets: Sequence[tuple[str, dt.timedelta]], start: dt.datetime, now: dt.datetime
) -> str | None:
    """The reminder due now for a session starting at `start`, by its spelling ("PT1H").

    The shortest offset whose time has come, while at least half of its lead is left; None
    before the first one, after the start, or when the one due is too late to be worth sending.
    `offsets` are longest first (ReminderSettings.offsets).
    """
    if now >= start:
        return None
    passed = [(name, offset) for name, offset in offsets if start - offset <= now]
    if not passed:
        return None
    name, offset = passed[-1]
    return name if start - now >= offset / 2 else None


def reminder_ref(session: Session, offset: str) -> str:
    # The start is part of it: a moved session's reminders are owed again at the new time.
    return f"session:{session.id}:reminder:{offset}:{session.start.astimezone(dt.UTC):%Y%m%dT%H%MZ}"


def _ref_start(ref: str) -> str:
    return ref.rsplit(":", 1)[-1]


def _ref_session(ref: str) -> int | None:
    parts = ref.split(":")
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None


# --- the job ------------------------------------------------------------------------------------


def remind(database: Database, settings: Settings, now: dt.datetime) -> RemindReport:
    """Withdraw the reminders that can no longer be right, then queue the ones due.

    Each session is its own transaction, as in vcs.announcements: a failure holds up no other.
    """
    report = RemindReport()
    with database.session() as db:
        report.withdrawn = withdraw(db, now)
    offsets = settings.reminders.offsets
    if not offsets:
        return report
    longest = offsets[0][1]
    with database.session() as db:
        candidates = db.execute(
            select(Session.id, Session.start)
            .where(
                Session.status == SessionStatus.SCHEDULED,
                Session.start > now,
                Session.start <= now + longest,
            )
            .order_by(Session.start, Session.id)
        ).all()
    for session_id, start in candidates:
        offset = due_offset(offsets, start, now)
        if offset is None:
            continue
        try:
            with database.session() as db:
                queued, not_made = remind_session(db, settings, session_id, offset, now)
        except Exception as exc:  # one broken session must not stop the others' reminders
            report.failures.append(f"session {session_id}: {type(exc).__name__}: {exc}")
            continue
        report.reminded += int(queued > 0)
        report.messages += queued
        report.not_made += not_made
    return report


def withdraw(db: Db, now: dt.datetime) -> int:
    """Cancel the reminders and live-now alerts still waiting for a session that was cancelled,
    moved (a reminder of the old time) or has started (a reminder) or ended (an alert)."""
    waiting = db.execute(
        select(Delivery.id, Delivery.kind, Delivery.ref).where(
            Delivery.kind.in_(WITHDRAWABLE),
            Delivery.status.in_((outbox.QUEUED, outbox.FAILED_TEMPORARY)),
        )
    ).all()
    ids = {_ref_session(ref) for _id, _kind, ref in waiting} - {None}
    found = {
        row.id: row
        for row in db.execute(
            select(Session.id, Session.status, Session.start, Session.end).where(
                Session.id.in_(ids)
            )
        )
    }
    reasons: dict[str, list[int]] = {}
    for delivery_id, kind, ref in waiting:
        session = found.get(_ref_session(ref) or 0)
        reason = ""
        if session is None or session.status == SessionStatus.CANCELLED:
            reason = "cancelled"
        elif kind == MailKind.LIVE_NOW:
            reason = "started" if now >= session.end else ""
        elif _ref_start(ref) != f"{session.start.astimezone(dt.UTC):%Y%m%dT%H%MZ}":
            reason = "moved"
        elif now >= session.start:
            reason = "started"
        if reason:
            reasons.setdefault(reason, []).append(delivery_id)
    withdrawn = 0
    for reason, delivery_ids in reasons.items():
        result = db.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(delivery_ids),
                Delivery.status.in_((outbox.QUEUED, outbox.FAILED_TEMPORARY)),
            )
            .values(status=outbox.CANCELLED, last_error=WITHDRAWN[reason])
            .execution_options(synchronize_session=False)
        )
        withdrawn += int(getattr(result, "rowcount", 0) or 0)
    return withdrawn


def remind_session(
    db: Db, settings: Settings, session_id: int, offset: str, now: dt.datetime
) -> tuple[int, int]:
    """Queue the session's `offset` reminder to its readers; (queued, could not be made)."""
    # The row lock keeps a move or cancellation from landing between the check and the queue.
    session = db.get(Session, session_id, with_for_update=True, populate_existing=True)
    if session is None or session.status != SessionStatus.SCHEDULED or session.start <= now:
        return 0, 0
    readers = reminded(db, settings, session)
    ref = reminder_ref(session, offset)
    queued = outbox.enqueue(
        db,
        settings,
        kind=MailKind.REMINDER.value,
        ref=ref,
        recipients=[reader.recipient for reader in readers],
        compose=reminder_composer(settings, session, readers),
        now=now,
    )
    return queued, outbox.not_made(db, MailKind.REMINDER.value, ref)


# --- who ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """One person reminded, and what their reminder holds."""

    recipient: outbox.Recipient
    member: bool  # members get the join link; visitors never do
    attendance: str = ""  # "room" or "online" for a registrant; "" for a follower
    cancel_url: str = ""  # where a registrant cancels


def reminded(db: Db, settings: Settings, session: Session) -> list[Reader]:
    """Everyone registered for the session, then the followers it was announced to; once each."""
    readers: dict[str, Reader] = {}
    rows = db.scalars(
        select(Registration)
        .where(
            Registration.session_id == session.id,
            Registration.status == registrations.REGISTERED,
        )
        .order_by(Registration.asked_at, Registration.id)
    )
    for row in rows:
        reader = _registrant(db, settings, session, row)
        if reader is not None:
            readers.setdefault(reader.recipient.address.lower(), reader)
    announced = {member.id for member in announced_to(db, session)}
    for member in followers(db, session):
        if member.id in announced and member.status not in outbox.UNREACHABLE:
            recipient = outbox.Recipient.for_member(settings, member)
            readers.setdefault(recipient.address.lower(), Reader(recipient, member=True))
    return list(readers.values())


def _registrant(db: Db, settings: Settings, session: Session, row: Registration) -> Reader | None:
    if row.member_id is None:
        recipient = outbox.Recipient(address=row.email, name="", language=row.language)
        return Reader(recipient, False, row.attendance, registrations.link_url(settings, row))
    member = db.get(Member, row.member_id)
    if member is None or member.status in outbox.UNREACHABLE:
        return None
    return Reader(
        outbox.Recipient.for_member(settings, member),
        True,
        row.attendance,
        registrations.member_url(settings, session, member),
    )


# --- what they read -----------------------------------------------------------------------------


def reminder_composer(
    settings: Settings, session: Session, readers: Sequence[Reader]
) -> Callable[[outbox.Recipient], Content]:
    """Compose each reader's reminder in their language: the same words for everyone alike."""
    by_address = {reader.recipient.address.lower(): reader for reader in readers}

    @functools.cache
    def content(lang: str, member: bool, attendance: str, cancel_url: str) -> Content:
        _ = gettext_for(lang)
        about = describe(session, settings, lang)
        if attendance == registrations.ROOM:
            where = wording.address(session) or about.place
        elif attendance == registrations.ONLINE:
            where = _("Online")
        else:
            where = about.place
        subject = _("Reminder: %(title)s, %(date)s", title=about.title, date=about.when_full)
        values = {
            "s": about,
            "where": where,
            "join": about.join if member else "",
            "attendance": attendance,
            "cancel_url": cancel_url,
        }
        return compose.render(MailKind.REMINDER, lang, subject, values)

    def for_recipient(recipient: outbox.Recipient) -> Content:
        reader = by_address[recipient.address.lower()]
        return content(recipient.language, reader.member, reader.attendance, reader.cancel_url)

    return for_recipient
