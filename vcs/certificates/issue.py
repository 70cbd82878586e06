"""Releasing certificates for a session, and revoking one.

    release(session)  one certificate per attendee who was there long enough (or whom staff
                      marked), each e-mailed once through the outbox with its PDF attached
    revoke(code)      the certificate stays, marked revoked with a reason; the verification page
                      then says so

Releasing is idempotent, and concurrent releases of a session wait for each other (the
session's row is locked first): an attendee who has a certificate keeps it (its code never changes),
and the outbox queues each certificate's mail once (kind "certificate", ref "certificate:CODE"),
so releasing again after more attendance was recorded mails only the new attendees.

What a certificate says is fixed at release: the name, the language and the minutes counted
(the session's length), so a later edit of the attendance list does not change a certificate
someone already holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import selectinload

from vcs import audit
from vcs.attendance import records
from vcs.clock import Clock
from vcs.config import Settings
from vcs.errors import VcsError
from vcs.i18n import N_, gettext_for
from vcs.mail import compose, outbox
from vcs.mail.compose import MailKind
from vcs.mail.message import Attachment
from vcs.network import network_name
from vcs.planning import sessions, wording
from vcs.states import SessionStatus
from vcs.storage.models import Attendance, Certificate, Member, Session

from . import codes, document, hours

# Attempts at a fresh code before giving up (a clash among 2**60 codes is not expected at all).
CODE_ATTEMPTS = 5


@dataclass(frozen=True)
class Released:
    """What one release did: certificates made now, mails queued now, attendees left out."""

    issued: int
    queued: int
    too_short: int
    nameless: int


def session_minutes(session: Session) -> int:
    """The session's length in minutes: what its certificates count."""
    return int((session.end - session.start).total_seconds() // 60)


def required_minutes(session: Session, settings: Settings) -> int:
    """The minutes a meeting tool must have counted for a certificate: the attendance rule's
    (`attendance.min_presence`), so a report import and a certificate agree."""
    return records.minimum_minutes(session, settings.attendance.min_presence)


def eligible(attendance: Attendance, session: Session, settings: Settings) -> bool:
    """Marked by staff, or present long enough by the meeting tool's count."""
    return attendance.minutes is None or attendance.minutes >= required_minutes(session, settings)


def _releasable(db: Db, session_id: int, now: dt.datetime) -> Session:
    # Two releases of one session (two staff, or staff and the command) run one after the
    # other, so the second sees the first's certificates and makes none twice.
    sessions.hold(db, session_id)
    session = sessions.get(db, session_id)
    if session.status == SessionStatus.CANCELLED:
        raise VcsError.one(
            "certificates.cancelled",
            N_("session %(id)s is cancelled: it has no certificates"),
            id=session_id,
        )
    if now < session.end:
        raise VcsError.one(
            "certificates.not-ended",
            N_("session %(id)s has not ended yet: certificates are released after it"),
            id=session_id,
        )
    return session


def release(db: Db, settings: Settings, clock: Clock, session_id: int, actor: str) -> Released:
    """Make the missing certificates of a session's attendees and queue every certificate's
    mail that is not queued yet; see the module doc."""
    now = clock.now()
    session = _releasable(db, session_id, now)
    held = set(
        db.scalars(select(Certificate.attendance_id).where(Certificate.session_id == session.id))
    )
    rows = db.scalars(
        select(Attendance).where(Attendance.session_id == session.id).order_by(Attendance.id)
    ).all()
    issued = too_short = nameless = 0
    for attendance in rows:
        if attendance.id in held:
            continue
        if not eligible(attendance, session, settings):
            too_short += 1
            continue
        member = db.get(Member, attendance.member_id) if attendance.member_id else None
        name = attendance.name.strip() or (member.name.strip() if member else "")
        if not name:
            nameless += 1
            continue
        _add(db, session, attendance, name, now)
        issued += 1
    if issued:
        audit.record(db, actor, "release", "certificates", session.id, after={"issued": issued})
    db.flush()
    return Released(issued, queue_mails(db, settings, session, now), too_short, nameless)


def _add(db: Db, session: Session, attendance: Attendance, name: str, now: dt.datetime) -> None:
    for _attempt in range(CODE_ATTEMPTS):
        code = codes.new_code()
        if db.scalar(select(Certificate.id).where(Certificate.code == code)) is None:
            break
    else:  # pragma: no cover - 2**60 codes
        raise RuntimeError("no free certificate code")
    db.add(
        Certificate(
            code=code,
            attendance_id=attendance.id,
            session_id=session.id,
            member_id=attendance.member_id,
            name=name[:200],
            language=attendance.language if attendance.language in ("lv", "en") else "lv",
            minutes=session_minutes(session),
            issued_at=now,
        )
    )


def queue_mails(db: Db, settings: Settings, session: Session, now: dt.datetime) -> int:
    """Queue the mail of each valid certificate of the session not queued before; how many."""
    found = db.scalars(
        select(Certificate)
        .where(Certificate.session_id == session.id, Certificate.revoked_at.is_(None))
        .options(selectinload(Certificate.attendance_row))
        .order_by(Certificate.id)
    ).all()
    queued = 0
    for certificate in found:
        recipient = _recipient(db, settings, certificate)
        if recipient is None:
            continue
        queued += outbox.enqueue(
            db,
            settings,
            kind=MailKind.CERTIFICATE.value,
            ref=f"certificate:{certificate.code}",
            recipients=[recipient],
            compose=_mail(settings, session, certificate),
            now=now,
        )
    return queued


def _recipient(db: Db, settings: Settings, certificate: Certificate) -> outbox.Recipient | None:
    """A member by their own links (none for members who left or bounced: the certificate
    waits on their preferences page), else the address the attendee took part with."""
    if certificate.member_id is not None:
        member = db.get(Member, certificate.member_id)
        if member is None or member.status in outbox.UNREACHABLE:
            return None
        return outbox.Recipient.for_member(settings, member)
    return outbox.Recipient(
        address=certificate.attendance_row.email,
        name=certificate.name,
        language=certificate.language,
    )


def _mail(
    settings: Settings, session: Session, certificate: Certificate
) -> Callable[[outbox.Recipient], compose.Content]:
    def content(recipient: outbox.Recipient) -> compose.Content:
        lang = recipient.language
        _ = gettext_for(lang)
        title = wording.title(session, lang)
        pdf = document.render(settings, certificate, session)
        values = {
            "network": network_name(settings, lang),
            "name": certificate.name,
            "title": title,
            "when": wording.when(session, lang),
            "hours": hours.in_words(certificate.minutes, certificate.language),
            "code": certificate.code,
            "url": codes.certificate_url(settings, certificate.code),
        }
        subject = _("Your certificate of participation: %(title)s", title=title)
        attachment = Attachment(document.filename(certificate), pdf, "application/pdf")
        return compose.render(MailKind.CERTIFICATE, lang, subject, values, [attachment])

    return content


def find(db: Db, code: str) -> Certificate | None:
    """The certificate with this code (typed leniently, see codes.normalised), or None."""
    stored = codes.normalised(code)
    if stored is None:
        return None
    return db.scalars(
        select(Certificate)
        .where(Certificate.code == stored)
        .options(selectinload(Certificate.session).selectinload(Session.series))
    ).first()


def revoke(db: Db, clock: Clock, code: str, actor: str, reason: str = "") -> Certificate:
    """Mark a certificate revoked (audited); revoking it again changes nothing."""
    certificate = find(db, code)
    if certificate is None:
        raise VcsError.one(
            "certificates.unknown", N_("there is no certificate %(text)s"), text=code
        )
    if certificate.revoked_at is None:
        certificate.revoked_at = clock.now()
        certificate.revoke_reason = " ".join(reason.split())[:1000]
        audit.record(
            db,
            actor,
            "revoke",
            "certificate",
            certificate.code,
            before={"revoked_at": None},
            after={"revoked_at": certificate.revoked_at.isoformat(), "reason": reason},
        )
        db.flush()
    return certificate


# -- a member's certificates ----------------------------------------------------------------


def of_member(db: Db, member_id: int) -> list[Certificate]:
    """Every certificate of the member, oldest session first, revoked ones included."""
    return list(
        db.scalars(
            select(Certificate)
            .join(Certificate.session)
            .where(Certificate.member_id == member_id)
            .options(selectinload(Certificate.session).selectinload(Session.series))
            .order_by(Session.start, Certificate.id)
        )
    )


def minutes_per_year(found: list[Certificate]) -> list[tuple[int, int]]:
    """(year, minutes) of the certificates that stand, by the sessions' local year, newest
    year first."""
    years: dict[int, int] = {}
    for certificate in found:
        if certificate.revoked_at is not None:
            continue
        year = certificate.session.start.astimezone(sessions.timezone(certificate.session)).year
        years[year] = years.get(year, 0) + certificate.minutes
    return sorted(years.items(), reverse=True)


def of_session(db: Db, session_id: int) -> list[Certificate]:
    """The session's certificates, in the order they were made."""
    return list(
        db.scalars(
            select(Certificate).where(Certificate.session_id == session_id).order_by(Certificate.id)
        )
    )


def attendees(db: Db, session_id: int) -> list[Attendance]:
    """Who attended the session, as recorded."""
    return list(
        db.scalars(
            select(Attendance).where(Attendance.session_id == session_id).order_by(Attendance.id)
        )
    )
