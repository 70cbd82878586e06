"""Announcements: who is told of which session, when, and what they read.

N days before a session (announcements.days_before) every active member who follows it gets an
announcement with the session's .ics; members who join later get it on a later run, up to the
start. When an announced session is moved, changes place, is cancelled or is reinstated, the
members who got the announcement get a short notice with the updated .ics (a new place or a
new link too). When an announced session has ended and its recording appears, they get one short
follow-up with the recording. All three come from one job (`announce`), which may run any number
of times: the outbox's (kind, ref, address) key keeps every message single. See
docs/announcements.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm.attributes import set_committed_value

from vcs import dates, feedback
from vcs.config import Settings
from vcs.feeds import calendars, invitation
from vcs.i18n import gettext_for
from vcs.livestream.plan import watch_url
from vcs.mail import compose, outbox
from vcs.mail.compose import Content, MailKind
from vcs.mail.message import Attachment
from vcs.planning import registrations, sessions, wording
from vcs.states import MemberStatus, SessionStatus
from vcs.storage.db import Database
from vcs.storage.models import Delivery, Member, MemberRegion, MemberSeries, Session

# What a change notice can be about, in the order a notice mentions them.
CANCELLED, REINSTATED, MOVED, PLACE, LINK, DETAILS = (
    "cancelled", "reinstated", "moved", "place", "link", "details",
)  # fmt: skip
# A follow-up goes out for sessions that ended at most this long ago (not for old sessions whose
# recording someone adds much later).
FOLLOW_UP_WITHIN = dt.timedelta(days=30)


@dataclass
class AnnounceReport:
    """What one run queued."""

    announced: int = 0  # sessions announced for the first time
    notified: int = 0  # changes of announced sessions that members were told of
    followed_up: int = 0  # ended sessions whose follow-up with the recording was queued
    messages: int = 0  # messages queued, announcements and notices together
    # Members whose message could not be made (see vcs.mail.outbox); everyone else is queued.
    not_made: int = 0
    failures: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"{self.announced} sessions announced, {self.notified} changes notified, "
            f"{self.messages} messages queued"
        )
        if self.followed_up:
            text += f", {self.followed_up} follow-ups with recordings"
        if self.not_made:
            text += f", {self.not_made} failed (see vcs outbox status)"
        return text + "".join(f"; FAILED {failure}" for failure in self.failures)


# --- who, and when ----------------------------------------------------------------------------


def _due(settings: Settings, now: dt.datetime) -> ColumnElement[bool]:
    """Sessions to announce now: scheduled, starting within days_before days."""
    until = now + dt.timedelta(days=settings.announcements.days_before)
    return and_(
        Session.status == SessionStatus.SCHEDULED, Session.start > now, Session.start <= until
    )


def _changed() -> ColumnElement[bool]:
    """Announced sessions whose revision rose since members were last told of them."""
    return and_(
        Session.announced_at.is_not(None),
        Session.announced_revision.is_not(None),
        Session.revision > Session.announced_revision,
    )


def followers(db: Db, session: Session) -> Sequence[Member]:
    """Active members who follow the session: everything, its series, or its region.

    The same rule as a member's own feed: a followed region means its sessions and the
    national ones, so a national session goes to everyone who follows any region.
    """
    series = session.series
    in_regions = select(MemberRegion.member_id)
    if series.region_id is not None:
        in_regions = in_regions.where(MemberRegion.region_id == series.region_id)
    follows = or_(
        Member.follows_all.is_(True),
        Member.id.in_(select(MemberSeries.member_id).where(MemberSeries.series_id == series.id)),
        Member.id.in_(in_regions),
    )
    query = select(Member).where(Member.status == MemberStatus.ACTIVE, follows).order_by(Member.id)
    return db.scalars(query).all()


def announced_to(db: Db, session: Session) -> Sequence[Member]:
    """The members whose announcement of the session was queued (and not cancelled)."""
    told = select(Delivery.member_id).where(
        Delivery.kind == MailKind.ANNOUNCEMENT,
        Delivery.ref == announcement_ref(session),
        Delivery.status != outbox.CANCELLED,
        Delivery.member_id.is_not(None),
    )
    return db.scalars(select(Member).where(Member.id.in_(told)).order_by(Member.id)).all()


def announcement_ref(session: Session) -> str:
    # One announcement per session and address, whatever its revision: a late joiner gets the
    # session as it is then, and nobody gets a second one.
    return f"session:{session.id}"


def notice_ref(session: Session) -> str:
    return f"session:{session.id}:rev{session.revision}"


def follow_up_ref(session: Session) -> str:
    # One follow-up per session and address, whatever the recording becomes later.
    return f"session:{session.id}:follow-up"


def facts(session: Session) -> dict[str, Any]:
    """What a change notice is owed for: time, status, place and links (JSON-safe).

    The links are those staff set (the session's watch link, the session's or series' join
    link); a provider's link filled in by provisioning is no news to members.
    """
    place = wording.place(session)
    return {
        "start": session.start.isoformat(),
        "end": session.end.isoformat(),
        "status": session.status,
        "place": {key: place.get(key, "") for key in ("kind", "venue", "address")},
        "links": {"watch": session.watch_url, "join": wording.join_url(session)},
    }


def notice_kind(changes: tuple[str, ...]) -> MailKind:
    """The kind of the notice of `changes`: a cancellation, or a change of time or place."""
    return MailKind.CANCELLATION if CANCELLED in changes else MailKind.CHANGE


def what_changed(before: dict[str, Any] | None, after: dict[str, Any]) -> tuple[str, ...]:
    """The changes members must hear of; () for a new title, topic, speakers or description."""
    if not before:
        # Announced before vcs kept what it said (no facts): say the details changed.
        return (CANCELLED,) if after["status"] == SessionStatus.CANCELLED else (DETAILS,)
    if after["status"] == SessionStatus.CANCELLED:
        return () if before["status"] == SessionStatus.CANCELLED else (CANCELLED,)
    changes = []
    if before["status"] == SessionStatus.CANCELLED:
        changes.append(REINSTATED)
    if (before["start"], before["end"]) != (after["start"], after["end"]):
        changes.append(MOVED)
    if before["place"] != after["place"]:
        changes.append(PLACE)
    # Facts kept before vcs remembered links have none: nothing to compare with, no news.
    if before.get("links", after["links"]) != after["links"]:
        changes.append(LINK)
    return tuple(changes)


# --- the job ------------------------------------------------------------------------------------


def announce(database: Database, settings: Settings, now: dt.datetime) -> AnnounceReport:
    """Queue the notices owed for announced sessions that changed, then the announcements due.

    Each session is its own transaction, so a failure holds up no other session and a crash
    leaves each one either fully queued and recorded, or untouched.
    """
    report = AnnounceReport()
    with database.session() as db:
        ids = db.scalars(
            select(Session.id)
            .where(or_(_due(settings, now), _changed()))
            .order_by(Session.start, Session.id)
        ).all()
    for session_id in ids:
        try:
            with database.session() as db:
                announced, notified, messages, not_made = _process(db, settings, session_id, now)
        except Exception as exc:  # one broken session must not stop the others' announcements
            report.failures.append(f"session {session_id}: {type(exc).__name__}: {exc}")
            continue
        report.announced += announced
        report.notified += notified
        report.messages += messages
        report.not_made += not_made
    with database.session() as db:
        ended = db.scalars(
            select(Session.id).where(_follow_up_due(now)).order_by(Session.start, Session.id)
        ).all()
    for session_id in ended:
        try:
            with database.session() as db:
                messages, not_made = follow_up(db, settings, session_id, now)
        except Exception as exc:  # as above: one broken session must not stop the others
            report.failures.append(f"session {session_id}: {type(exc).__name__}: {exc}")
            continue
        report.followed_up += 1
        report.messages += messages
        report.not_made += not_made
    return report


def _follow_up_due(now: dt.datetime) -> ColumnElement[bool]:
    """Announced sessions that ended (lately) with a recording and had no follow-up yet."""
    return and_(
        Session.announced_at.is_not(None),
        Session.followed_up_at.is_(None),
        Session.status == SessionStatus.SCHEDULED,
        Session.recording_url != "",
        Session.end <= now,
        Session.end > now - FOLLOW_UP_WITHIN,
    )


def follow_up(db: Db, settings: Settings, session_id: int, now: dt.datetime) -> tuple[int, int]:
    """Queue the follow-up with the recording to those who got the announcement; record it.

    Returns how many messages were queued and how many could not be made.
    """
    session = db.get(Session, session_id, with_for_update=True, populate_existing=True)
    if session is None or session.followed_up_at is not None or not session.recording_url:
        return 0, 0
    # Attendees known now get one e-mail instead: the recording with their own link to the
    # feedback form (vcs.feedback; those asked before get the plain follow-up as well).
    before = feedback.asked(db, session.id)
    queued = feedback.ask(db, settings, session.id, now)
    with_link = feedback.asked(db, session.id) - before
    queued += outbox.enqueue_for_members(
        db,
        settings,
        kind=MailKind.FOLLOW_UP,
        ref=follow_up_ref(session),
        members=[m for m in announced_to(db, session) if m.email.lower() not in with_link],
        compose=follow_up_composer(settings, session),
        now=now,
    )
    # Like _record(): telling members changes nothing a calendar shows.
    db.execute(
        update(Session)
        .where(Session.id == session.id)
        .values(followed_up_at=now, updated_at=Session.updated_at)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(session, "followed_up_at", now)
    return queued, outbox.not_made(db, MailKind.FOLLOW_UP, follow_up_ref(session))


def _process(
    db: Db, settings: Settings, session_id: int, now: dt.datetime
) -> tuple[int, int, int, int]:
    # The row lock (PostgreSQL) keeps a staff edit from landing between reading the revision
    # and recording it as told; on SQLite the write transaction does the same.
    session = db.get(Session, session_id, with_for_update=True, populate_existing=True)
    if session is None:
        return 0, 0, 0, 0
    announced = notified = messages = not_made = 0
    if (
        session.announced_at is not None
        and session.announced_revision is not None
        and session.revision > session.announced_revision
    ):
        queued = notify_change(db, settings, session, now)
        notified, messages = int(queued is not None), queued or 0
        if queued is not None:
            not_made += sum(
                outbox.not_made(db, kind, notice_ref(session))
                for kind in (MailKind.CHANGE, MailKind.CANCELLATION)
            )
    until = now + dt.timedelta(days=settings.announcements.days_before)
    if session.status == SessionStatus.SCHEDULED and now < session.start <= until:
        messages += outbox.enqueue_for_members(
            db,
            settings,
            kind=MailKind.ANNOUNCEMENT,
            ref=announcement_ref(session),
            members=followers(db, session),
            compose=announcement_composer(db, settings, session, now),
            now=now,
        )
        # Counted on every run while it lasts: each run makes those messages again.
        not_made += outbox.not_made(db, MailKind.ANNOUNCEMENT, announcement_ref(session))
        if session.announced_at is None:
            _record(db, session, announced_at=now)
            announced = 1
    return announced, notified, messages, not_made


def notify_change(db: Db, settings: Settings, session: Session, now: dt.datetime) -> int | None:
    """Queue the notice for the session's new revision, if it needs one; record it as told.

    Returns how many notices were queued, or None when the change needed none.
    """
    before = session.announced_facts
    changes = what_changed(before, facts(session))
    queued: int | None = None
    # A session that is over needs no news (a late edit of its description, a recording).
    if changes and session.end > now:
        queued = outbox.enqueue_for_members(
            db,
            settings,
            kind=notice_kind(changes),
            ref=notice_ref(session),
            members=announced_to(db, session),
            compose=notice_composer(db, settings, session, changes, before),
            now=now,
        )
    _record(db, session)
    return queued


def _record(db: Db, session: Session, **values: Any) -> None:
    """Remember what members were told: this revision, with its facts.

    A plain UPDATE that keeps updated_at: telling members changes nothing a calendar shows,
    so the feeds' LAST-MODIFIED and DTSTAMP stay as they were.
    """
    told = {"announced_revision": session.revision, "announced_facts": facts(session), **values}
    db.execute(
        update(Session)
        .where(Session.id == session.id)
        .values(**told, updated_at=Session.updated_at)
        .execution_options(synchronize_session=False)
    )
    for key, value in told.items():
        # Keep the loaded object in step without making it dirty.
        set_committed_value(session, key, value)


# --- what members read ------------------------------------------------------------------------


@dataclass(frozen=True)
class Described:
    """A session in words, in one language: what every announcement and notice shows."""

    title: str
    topic: str
    when: str
    when_full: str
    place: str
    speakers: list[str]
    organiser: str
    description: list[str]
    link: str
    link_label: str
    funding: str
    # The meeting room members join: only ever in mail to members (wording.join_url()).
    join: str = ""
    # The EU emblem, "Co-funded by the European Union", statement and project (wording.py).
    funding_block: wording.Funding | None = None


def describe(session: Session, settings: Settings, lang: str) -> Described:
    """The session's title, time, place, people and links in `lang`, dates in its own form."""
    _ = gettext_for(lang)
    series = session.series
    organiser = wording.organiser(session)
    description = wording.description(session, lang)
    # Members-only series have no public page; their members get the stream itself.
    if series.visibility == "public":
        link = wording.page_url(session, settings.base_url, lang)
        link_label = _("Watch live") if wording.streamed(session) else _("Session page")
    else:
        link, link_label = watch_url(session), _("Watch live")
    return Described(
        title=wording.title(session, lang),
        topic=wording.topic(session, lang),
        when=wording.when(session, lang),
        when_full=dates.format_datetime(session.start, lang, sessions.timezone(session), "full"),
        place=wording.place_line(session, lang),
        speakers=wording.speakers(session),
        organiser=organiser,
        description=[p.strip() for p in description.split("\n\n") if p.strip()],
        link=link,
        link_label=link_label,
        funding=wording.funding(session, lang),
        join=wording.join_url(session) if session.status != SessionStatus.CANCELLED else "",
        funding_block=wording.funding_block(session, lang, settings.base_url),
    )


def session_ics(db: Db, settings: Settings, session: Session, lang: str) -> Attachment:
    """The session's .ics, as /sessions/{id}.ics serves it: one VEVENT, METHOD:PUBLISH."""
    feed = calendars.session_feed(db, settings, session.id, public_only=False)
    assert feed is not None
    return Attachment.calendar(calendars.build_calendar(feed, settings, lang), feed.filename)


def personal(settings: Settings, session: Session) -> bool:
    """Whether each recipient gets their own .ics (an invitation naming them as ATTENDEE)."""
    return invitation.method(session, settings) != invitation.PUBLISH


def invitation_for(settings: Settings, session: Session, recipient: outbox.Recipient) -> Attachment:
    """The recipient's invitation to the session (METHOD:REQUEST, or CANCEL), in their language."""
    made = invitation.invitation(
        session, settings, recipient.language, address=recipient.address, name=recipient.name
    )
    return Attachment.calendar(made.ics, made.filename, method=made.method)


def with_calendar(
    db: Db, settings: Settings, session: Session
) -> Callable[[Content, outbox.Recipient], Content]:
    """What puts the .ics into a recipient's message: the same plain one for everybody reading
    a language (announcements.invitations = "publish"), or their own invitation.

    The body is rendered once per language either way; only the small calendar is per recipient.
    """
    if personal(settings, session):
        return lambda content, recipient: dataclasses.replace(
            content, attachments=(invitation_for(settings, session, recipient),)
        )

    @functools.cache
    def ics_of(lang: str) -> Attachment:
        return session_ics(db, settings, session, lang)

    # The same Content object for a language's readers: vcs.mail.prepared builds it once.
    @functools.cache
    def attached(content: Content, lang: str) -> Content:
        return dataclasses.replace(content, attachments=(ics_of(lang),))

    return lambda content, recipient: attached(content, recipient.language)


def announcement_composer(
    db: Db, settings: Settings, session: Session, now: dt.datetime | None = None
) -> Callable[[outbox.Recipient], Content]:
    """Compose the announcement in each recipient's language (rendered once per language).

    When the session takes registrations at `now`, a member's announcement also carries their
    one-click registration link (`/sessions/{id}/register/{member token}`), so it is rendered
    once per member instead."""
    registering = now is not None and registrations.refusal(session, now) is None
    attach = with_calendar(db, settings, session)
    invites = personal(settings, session)

    @functools.cache
    def content(lang: str, register_url: str) -> Content:
        _ = gettext_for(lang)
        about = describe(session, settings, lang)
        subject = _("Invitation: %(title)s, %(date)s", title=about.title, date=about.when_full)
        values = {"s": about, "register_url": register_url, "invitation": invites}
        return compose.render(MailKind.ANNOUNCEMENT, lang, subject, values)

    def for_recipient(recipient: outbox.Recipient) -> Content:
        register_url = ""
        if registering and recipient.member_id is not None:
            member = db.get(Member, recipient.member_id)
            if member is not None:
                register_url = registrations.member_url(settings, session, member)
        return attach(content(recipient.language, register_url), recipient)

    return for_recipient


def notice_composer(
    db: Db,
    settings: Settings,
    session: Session,
    changes: tuple[str, ...],
    before: dict[str, Any] | None,
) -> Callable[[outbox.Recipient], Content]:
    """Compose the short notice of `changes` in each recipient's language."""
    tz = sessions.timezone(session)
    attach = with_calendar(db, settings, session)
    invites = personal(settings, session)

    @functools.cache
    def content(lang: str) -> Content:
        _ = gettext_for(lang)
        about = describe(session, settings, lang)
        was = ""
        if before and MOVED in changes:
            start = dt.datetime.fromisoformat(before["start"])
            end = dt.datetime.fromisoformat(before["end"])
            was = (
                dates.format_datetime(start, lang, tz, "date")
                + ", "
                + dates.format_time_range(start, end, lang, tz)
            )
        title = f"{about.title}, {about.when_full}"
        if CANCELLED in changes:
            subject = _("Cancelled: %(title)s", title=title)
        elif REINSTATED in changes:
            subject = _("Takes place after all: %(title)s", title=title)
        elif MOVED in changes:
            subject = _("Moved: %(title)s", title=title)
        elif PLACE in changes:
            subject = _("New place: %(title)s", title=title)
        elif LINK in changes:
            subject = _("New link: %(title)s", title=title)
        else:
            subject = _("Changed: %(title)s", title=title)
        values = {
            "s": about,
            "changes": changes,
            "was": was,
            "reason": wording.cancel_reason(session, lang) if CANCELLED in changes else "",
            "invitation": invites,
        }
        return compose.render(notice_kind(changes), lang, subject, values)

    return lambda recipient: attach(content(recipient.language), recipient)


def follow_up_composer(
    settings: Settings, session: Session
) -> Callable[[outbox.Recipient], Content]:
    """Compose the follow-up with the recording in each recipient's language."""

    @functools.cache
    def content(lang: str) -> Content:
        _ = gettext_for(lang)
        about = describe(session, settings, lang)
        subject = _("Recording: %(title)s", title=f"{about.title}, {about.when_full}")
        values = {"s": about, "recording": session.recording_url}
        return compose.render(MailKind.FOLLOW_UP, lang, subject, values)

    return lambda recipient: content(recipient.language)
