"""The ORM models of the whole domain. Times are stored in UTC; see UTCDateTime."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from vcs.states import (
    DeliveryStatus,
    DigestStatus,
    LiveStatus,
    LivestreamStatus,
    MemberStatus,
    ProviderState,
    SessionStatus,
)

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime stored as naive UTC, because SQLite keeps no offsets."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given for a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Timestamped:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- the network ----------------------------------------------------------------------------


class Region(Base):
    """A planning region (plānošanas reģions)."""

    __tablename__ = "regions"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name_lv: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    municipalities: Mapped[list[Municipality]] = relationship(
        back_populates="region", order_by="Municipality.name"
    )


class Municipality(Base):
    """A municipality: a novads or a valstspilsēta, in one planning region."""

    __tablename__ = "municipalities"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    region: Mapped[Region] = relationship(back_populates="municipalities")


# --- people ---------------------------------------------------------------------------------


class Member(Timestamped, Base):
    """A network member who receives announcements and the digest."""

    __tablename__ = "members"
    # Ids are in member links: SQLite must never give an erased member's id to the next one.
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(64), default="")
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipalities.id"))
    organisation: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[str] = mapped_column(String(300), default="")
    language: Mapped[str] = mapped_column(String(2), default="lv")
    follows_all: Mapped[bool] = mapped_column(Boolean, default=True)
    # pending, active, unsubscribed, bounced
    status: Mapped[str] = mapped_column(String(16), default=MemberStatus.PENDING)
    consent_at: Mapped[dt.datetime | None]
    consent_source: Mapped[str] = mapped_column(String(64), default="")
    consent_text: Mapped[str] = mapped_column(Text, default="")
    feed_token: Mapped[str] = mapped_column(String(64), unique=True)
    bounce_count: Mapped[int] = mapped_column(Integer, default=0)
    # Every member link (preferences, data, delete, unsubscribe) is bound to it, so the links die
    # with the member. See vcs/mail/links.py.
    link_secret: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_urlsafe(16))
    # Raised by every change of `status` (the listener below): a confirmation link carries the
    # count it was sent at, so it works once and never after the member left.
    status_changes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When the outbox marked the member bounced, so staff can undo a relay incident's bounces.
    bounced_at: Mapped[dt.datetime | None]
    # Wants a short e-mail when a session they follow goes live (vcs/live_alerts.py).
    live_alerts: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    municipality: Mapped[Municipality | None] = relationship()
    followed_series: Mapped[list[Series]] = relationship(secondary="member_series")
    followed_regions: Mapped[list[Region]] = relationship(secondary="member_regions")


@event.listens_for(Member.status, "set", active_history=True)
def _count_status_change(member: Member, value: str, old: Any, _initiator: Any) -> None:
    # An attribute event, so every path counts: the pages, staff edits, imports, bounces.
    if value != old:
        member.status_changes = (member.status_changes or 0) + 1


class MemberSeries(Base):
    __tablename__ = "member_series"
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    series_id: Mapped[int] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), primary_key=True
    )


class MemberRegion(Base):
    __tablename__ = "member_regions"
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    region_id: Mapped[int] = mapped_column(
        ForeignKey("regions.id", ondelete="CASCADE"), primary_key=True
    )


class StaffUser(Timestamped, Base):
    """Someone who logs in to /staff: an editor or an admin."""

    __tablename__ = "staff_users"
    # Ids are in session cookies: never given to another account (SQLite).
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="editor")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[dt.datetime | None]
    # Part of every session cookie; raising it (log-out, disabling) ends the cookies issued before.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LoginAttempt(Base):
    """One staff log-in attempt, kept for a day: the throttle counts failures per account and
    client address, and per client address, here, so the limit holds across web workers. It is
    written before the password is checked, as a failure until the password proves right."""

    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    # The e-mail as typed, normalised (it need not belong to an account).
    email: Mapped[str] = mapped_column(String(320), index=True)
    # The client address (an IPv6 address by its /64 network: see vcs.ratelimit.client_key).
    address: Mapped[str] = mapped_column(String(64), index=True)
    success: Mapped[bool] = mapped_column(Boolean, default=False)


class RateCounter(Base):
    """Events per (scope, key) in a window that opens at its first event (vcs/ratelimit.py):
    sign-ups per client and per mailbox, refused log-ins per audit entry. A request counts under
    the row's lock, so concurrent requests are counted one after the other."""

    __tablename__ = "rate_counters"
    __table_args__ = (UniqueConstraint("scope", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(320))
    window_start: Mapped[dt.datetime] = mapped_column(index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[dt.datetime | None]
    # Where the window's events are recorded besides, e.g. the id of an audit entry.
    ref: Mapped[str] = mapped_column(String(64), default="")


class UsedFormToken(Base):
    """A /subscribe form token that was sent once, kept until it would have expired anyway."""

    __tablename__ = "used_form_tokens"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


# --- series and sessions --------------------------------------------------------------------


class Series(Timestamped, Base):
    """A recurring videoconference or meeting series, described once by an RRULE."""

    __tablename__ = "series"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title_lv: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300), default="")
    description_lv: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    rrule: Mapped[str] = mapped_column(String(500))
    # Local datetimes ("2026-12-24T10:00") in the series' time zone that the rule skips.
    exdates: Mapped[list[Any]] = mapped_column(default=list)
    # The first start, as naive local time in `timezone`: recurrence expands in local time.
    start_local: Mapped[dt.datetime] = mapped_column(DateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Riga")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    # {"kind": "online" | "venue" | "hybrid", "venue": ..., "address": ..., "municipality": slug}
    place: Mapped[dict[str, Any]] = mapped_column(default=dict)
    organiser_name: Mapped[str] = mapped_column(String(200), default="")
    organiser_email: Mapped[str] = mapped_column(String(320), default="")
    organiser_phone: Mapped[str] = mapped_column(String(64), default="")
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    # public, members
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    livestream_provider: Mapped[str] = mapped_column(String(32), default="static")
    livestream_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    funding_text_lv: Mapped[str] = mapped_column(Text, default="")
    funding_text_en: Mapped[str] = mapped_column(Text, default="")
    funding_project: Mapped[str] = mapped_column(String(100), default="")
    # The meeting room members join (Zoom, Teams, Jitsi): members only, never on public pages.
    join_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The series file's [[series.sessions]] overrides, as the file says them (one dict per date;
    # see vcs/planning/series.py): materialize applies them to sessions staff did not edit.
    overrides: Mapped[list[Any]] = mapped_column(default=list)
    # {"open": bool, "capacity": int | None, "closes": "P1D"} (vcs/planning/registrations.py);
    # None: no registration.
    registration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    region: Mapped[Region | None] = relationship()
    sessions: Mapped[list[Session]] = relationship(
        back_populates="series", order_by="Session.start"
    )

    @property
    def scope(self) -> str:
        return "region" if self.region_id else "national"


class Session(Timestamped, Base):
    """One concrete occurrence of a series, editable on its own."""

    __tablename__ = "sessions"
    # Ids are in public addresses and outbox references: never reused (SQLite).
    __table_args__ = (
        UniqueConstraint("series_id", "original_start"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"))
    # The start the rule gave (UTC); None for a one-off extra session. Keys materialization.
    original_start: Mapped[dt.datetime | None]
    # Stable iCalendar UID: never changes when the session moves.
    uid: Mapped[str] = mapped_column(String(200), unique=True)
    start: Mapped[dt.datetime] = mapped_column(index=True)
    end: Mapped[dt.datetime]
    title_lv: Mapped[str] = mapped_column(String(300), default="")
    title_en: Mapped[str] = mapped_column(String(300), default="")
    topic_lv: Mapped[str] = mapped_column(Text, default="")
    topic_en: Mapped[str] = mapped_column(Text, default="")
    description_lv: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    # [{"name": ..., "role": ..., "organisation": ...}]
    speakers: Mapped[list[Any]] = mapped_column(default=list)
    # Overrides the series' place when set.
    place: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # scheduled, cancelled
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.SCHEDULED)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    # The reason in English, for English readers; empty: they read the Latvian one.
    cancel_reason_en: Mapped[str] = mapped_column(Text, default="", server_default="")
    # upcoming, live, ended
    live_status: Mapped[str] = mapped_column(String(16), default=LiveStatus.UPCOMING)
    recording_url: Mapped[str] = mapped_column(String(500), default="")
    # Staff's own links for this session: the public livestream (overrides the provider's) and
    # the members-only meeting room (overrides the series' join_url).
    watch_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    join_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # When the follow-up with the recording was queued to those announced (once per session).
    followed_up_at: Mapped[dt.datetime | None]
    # Staff changed this session by hand, so a new series rule leaves it alone.
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    # The iCalendar SEQUENCE: bumped by every change a calendar must notice.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    announced_at: Mapped[dt.datetime | None]
    # The revision members were last told of (the announcement, then each change notice), and
    # what they were told: {"start", "end", "status", "place"}. See vcs/announcements.py.
    announced_revision: Mapped[int | None]
    announced_facts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Overrides the series' registration settings when set (vcs/planning/registrations.py).
    registration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    series: Mapped[Series] = relationship(back_populates="sessions")
    livestream: Mapped[Livestream | None] = relationship(back_populates="session")


class Registration(Base):
    """One person coming to one session: a member, or a visitor who confirmed by e-mail.

    Registrations are in their own table and not tracked by the change stamp: a registration
    changes no page a cache keeps (see vcs/planning/registrations.py).
    """

    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("session_id", "email"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    # A visitor's own; a member's as it was when they registered (lower case).
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    municipality: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(2), default="lv")
    # room, online
    attendance: Mapped[str] = mapped_column(String(16), default="room")
    # unconfirmed (a visitor before the e-mail), registered, waiting, cancelled
    status: Mapped[str] = mapped_column(String(16))
    # Bound into the registrant's links (confirm, cancel); a new one on each confirmation.
    secret: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_urlsafe(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Orders the waiting list: when the registrant last asked for a seat.
    asked_at: Mapped[dt.datetime]
    cancelled_at: Mapped[dt.datetime | None]
    promoted_at: Mapped[dt.datetime | None]


class Attendance(Base):
    """One person who took part in a session: marked by staff or read from the meeting tool's
    participant report (vcs/planning/attendance.py). One row per session and address."""

    __tablename__ = "attendances"
    __table_args__ = (UniqueConstraint("session_id", "email"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL")
    )
    # Lower case; the key that matches a report's rows to members and registrants.
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(2), default="lv")
    # room, online
    attendance: Mapped[str] = mapped_column(String(16), default="online")
    # Minutes present, from the meeting tool's report; None when staff marked the person.
    minutes: Mapped[int | None] = mapped_column(Integer)
    # marked (by staff), zoom, teams, jitsi
    source: Mapped[str] = mapped_column(String(16), default="marked")
    marked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    marked_by: Mapped[str] = mapped_column(String(320), default="")
    session: Mapped[Session] = relationship()


class Certificate(Base):
    """A certificate of participation: one per attendance, verified at /certificates/{code}."""

    __tablename__ = "certificates"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Printed on the certificate and in its QR code; unguessable.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    attendance_id: Mapped[int] = mapped_column(
        ForeignKey("attendances.id", ondelete="CASCADE"), unique=True
    )
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    # As printed: the name and language at release, the hours counted for the session.
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2), default="lv")
    minutes: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    revoke_reason: Mapped[str] = mapped_column(Text, default="")
    session: Mapped[Session] = relationship()
    attendance_row: Mapped[Attendance] = relationship()


class FeedbackAnswer(Base):
    """One answer to a session's feedback form. Nothing in it says whose it is: that one
    attendee answered is kept apart, in FeedbackGiven, so the results stay anonymous."""

    __tablename__ = "feedback_answers"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(Integer)
    useful: Mapped[str] = mapped_column(Text, default="")
    improve: Mapped[str] = mapped_column(Text, default="")
    wishes: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(2), default="lv")


class FeedbackGiven(Base):
    """That an attendee has answered a session's feedback form (once each), and nothing more."""

    __tablename__ = "feedback_given"
    attendance_id: Mapped[int] = mapped_column(
        ForeignKey("attendances.id", ondelete="CASCADE"), primary_key=True
    )


class Livestream(Base):
    """The broadcast of one session at its provider."""

    __tablename__ = "livestreams"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), unique=True)
    provider: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(200), default="")
    watch_url: Mapped[str] = mapped_column(String(500), default="")
    embed_url: Mapped[str] = mapped_column(String(500), default="")
    recording_url: Mapped[str] = mapped_column(String(500), default="")
    # intended, created, live, complete, cancelled, error
    status: Mapped[str] = mapped_column(String(16), default=LivestreamStatus.INTENDED)
    # Recorded before calling the provider, so a retry looks the broadcast up first.
    intent_at: Mapped[dt.datetime | None]
    synced_revision: Mapped[int] = mapped_column(Integer, default=-1)
    last_error: Mapped[str] = mapped_column(Text, default="")
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    # After a failure, no call before this time (bounded exponential backoff).
    next_attempt_at: Mapped[dt.datetime | None]
    # Provider-specific facts (e.g. the YouTube stream the broadcast is bound to).
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    session: Mapped[Session] = relationship(back_populates="livestream")


class ProviderHealth(Base):
    """Whether a livestream provider can be used: ok, quota (spent until reset), revoked."""

    __tablename__ = "provider_health"
    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=ProviderState.OK)
    message: Mapped[str] = mapped_column(Text, default="")
    # What a person must run to fix it, e.g. "vcs google auth".
    fix_command: Mapped[str] = mapped_column(String(200), default="")
    since: Mapped[dt.datetime | None]
    until: Mapped[dt.datetime | None]


class QuotaUsage(Base):
    """API units a provider spent on one quota day (YouTube: 10,000 a day, Pacific time)."""

    __tablename__ = "quota_usage"
    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    units: Mapped[int] = mapped_column(Integer, default=0)


class CalendarEvent(Base):
    """A session's event in one Google calendar that mirrors an audience's feed (network or a
    region). See vcs/reach/calendar_mirror.py."""

    __tablename__ = "calendar_events"
    __table_args__ = (UniqueConstraint("session_id", "calendar_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    # The audience: "network" or "region:<slug>".
    audience: Mapped[str] = mapped_column(String(100))
    # Google's calendar id, e.g. "abc@group.calendar.google.com".
    calendar_id: Mapped[str] = mapped_column(String(300))
    # Google's event id (events.import gives it); empty until the event exists.
    event_id: Mapped[str] = mapped_column(String(300), default="")
    # intended, created, cancelled
    status: Mapped[str] = mapped_column(String(16), default="intended")
    synced_revision: Mapped[int] = mapped_column(Integer, default=-1)
    # A digest of the event body last sent: a change of the series (its title) moves no revision.
    synced_hash: Mapped[str] = mapped_column(String(64), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- digests and mail -----------------------------------------------------------------------


class Digest(Timestamped, Base):
    """One issue of the weekly info-letter."""

    __tablename__ = "digests"
    # Ids are in public addresses and outbox references: never reused (SQLite).
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(primary_key=True)
    # draft, approved, sending, sent
    status: Mapped[str] = mapped_column(String(16), default=DigestStatus.DRAFT)
    period_start: Mapped[dt.datetime]
    period_end: Mapped[dt.datetime]
    subject_lv: Mapped[str] = mapped_column(String(300), default="")
    subject_en: Mapped[str] = mapped_column(String(300), default="")
    intro_lv: Mapped[str] = mapped_column(Text, default="")
    intro_en: Mapped[str] = mapped_column(Text, default="")
    scheduled_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    # Who approved it (a staff e-mail, or "cli"); empty while it is a draft.
    approved_by: Mapped[str] = mapped_column(String(320), default="", server_default="")
    # What was sent, frozen when sending starts: {lang: {"subject", "text", "html"}}. Later
    # recipients and the web version (/digests/{id}) get exactly this. See vcs/digest.py.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    items: Mapped[list[DigestItem]] = relationship(
        back_populates="digest", order_by="DigestItem.position", cascade="all, delete-orphan"
    )


class DigestItem(Base):
    """A news item staff add to a digest (Markdown text, optional link)."""

    __tablename__ = "digest_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title_lv: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300), default="")
    body_lv: Mapped[str] = mapped_column(Text, default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    digest: Mapped[Digest] = relationship(back_populates="items")


class Delivery(Base):
    """One e-mail to one recipient in the outbox."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("kind", "ref", "to_address"),
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # digest, announcement, change, cancellation, confirmation, test
    kind: Mapped[str] = mapped_column(String(32))
    # What the e-mail is about, e.g. "digest:12" or "session:40:rev3"; with the address, unique.
    ref: Mapped[str] = mapped_column(String(100))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    to_address: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(2), default="lv")
    # queued, sending, sent, failed-temporary, failed-permanent; cancelled when the member
    # unsubscribed or bounced before it went out. See docs/mail.md.
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.QUEUED)
    # Attempts started, counted when a sender claims the delivery.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(300), default="")
    next_attempt_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When the current (or last) attempt began.
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    # The whole rendered message (RFC 5322, zlib-compressed), made at enqueue time, so what is
    # sent never depends on data that changed since and a restarted sender sends the same bytes.
    raw_message: Mapped[bytes] = mapped_column(LargeBinary, default=b"", deferred=True)
    # A report that came back later by mail (vcs/mail/bounces.py): hard, soft or complaint.
    bounce: Mapped[str] = mapped_column(String(16), default="", server_default="")
    bounced_at: Mapped[dt.datetime | None]


class BounceReport(Base):
    """One message read from the bounce mailbox, per recipient it reports on: a delivery status
    notification (RFC 3464), a complaint (RFC 5965) or something else left alone. Keyed by the
    mailbox's UIDVALIDITY and the message's UID, so no message is counted twice."""

    __tablename__ = "bounce_reports"
    __table_args__ = (UniqueConstraint("mailbox", "uid", "recipient"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    # "<folder>;<UIDVALIDITY>"
    mailbox: Mapped[str] = mapped_column(String(250))
    uid: Mapped[int] = mapped_column(BigInteger)
    read_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    # The report's own Message-ID.
    message_id: Mapped[str] = mapped_column(String(300), default="")
    # hard, soft, complaint, unmatched (a report on no delivery of ours), other (not a report)
    kind: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320), default="")
    # The RFC 3463 status ("5.1.1") and the remote server's words.
    status: Mapped[str] = mapped_column(String(16), default="")
    diagnostic: Mapped[str] = mapped_column(Text, default="")
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))


# --- operations -----------------------------------------------------------------------------


class MailRelayPause(Base):
    """A time the mail relay refused us (not a recipient); open while ended_at is empty."""

    __tablename__ = "mail_relay_pauses"
    id: Mapped[int] = mapped_column(primary_key=True)
    # A kind from vcs.mail.relay (relay-denied, auth-required, unreachable, ...).
    problem: Mapped[str] = mapped_column(String(32))
    answer: Mapped[str] = mapped_column(Text, default="")
    sender: Mapped[str] = mapped_column(String(320), default="")
    relay: Mapped[str] = mapped_column(String(300), default="")
    count: Mapped[int] = mapped_column(Integer, default=0)
    # Runs that found the relay refusing us; the wait before the next grows with them.
    tries: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_try_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    next_try_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None]


class JobRun(Base):
    """One run of a scheduler job: when, how it ended, what went wrong."""

    __tablename__ = "job_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    # running, ok, failed, interrupted (the scheduler died during the run)
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    error: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    trigger: Mapped[str] = mapped_column(String(32), default="schedule")


class AuditEntry(Base):
    """Who changed what, when, with the values before and after."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ChangeStamp(Base):
    """A counter every ORM write to what feeds show raises (see vcs/storage/changes.py), so a
    cache can tell in one primary-key read whether anything changed, in any process."""

    __tablename__ = "change_stamps"
    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class SchedulerHeartbeat(Base):
    """The active scheduler's sign of life, one row: who holds the lock, since when, and when it
    last showed it is alive (every scheduler.lock_poll_seconds). /readyz reads it."""

    __tablename__ = "scheduler_heartbeat"
    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[dt.datetime]
    beat_at: Mapped[dt.datetime]
