"""Sessions: the concrete occurrences of series, the queries asked of them, and staff edits."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import joinedload

from vcs import audit, dates, text
from vcs.errors import Phrase, Problem, VcsError
from vcs.i18n import N_
from vcs.planning import places
from vcs.states import LiveStatus, SessionStatus
from vcs.storage.models import Municipality, Region, Series, Session

EDITABLE_TEXT = ("title_lv", "title_en", "topic_lv", "topic_en", "description_lv", "description_en")
# How each text is cleaned and how long it may be (vcs/text.py).
TEXT_KINDS = {
    "title_lv": text.TITLE, "title_en": text.TITLE, "topic_lv": text.TOPIC,
    "topic_en": text.TOPIC, "description_lv": text.TEXT, "description_en": text.TEXT,
}  # fmt: skip
# Staff's own links for one session: the public livestream, the members-only meeting room, the
# recording. Empty means "the provider's or the series' link" (the recording: none yet).
LINKS = ("watch_url", "join_url", "recording_url")
SPEAKER_KINDS = {"name": text.NAME, "role": text.TITLE, "organisation": text.TITLE}
# The fields problems name, as words: the English is the field itself, the Latvian says it in
# words (messages are placed under these labels; see vcs/errors.py).
FIELD_LABELS = (
    N_("title_lv"), N_("title_en"), N_("topic_lv"), N_("topic_en"), N_("description_lv"),
    N_("description_en"), N_("speakers"), N_("name"), N_("role"), N_("organisation"),
    N_("start"), N_("end"), N_("reason"), N_("place.kind"), N_("place.venue"),
    N_("place.address"), N_("place.municipality"), N_("watch_url"), N_("join_url"),
    N_("recording_url"),
)  # fmt: skip
# The fields of the staff session form; a problem with another field is shown above the form.
PLACE_FIELDS = ("place.kind", "place.venue", "place.address", "place.municipality")
FORM_FIELDS = {*EDITABLE_TEXT, "speakers", "start", "end", "reason", *LINKS, *PLACE_FIELDS}
NOT_HTTP = N_("must be an http(s) address like https://…")
SPEAKER = N_("speakers #%(number)s")
NEEDS_A_TIME_ZONE = N_("needs a time zone")
END_BEFORE_START = N_("must be after the start")


class SessionError(VcsError):
    """An edit that cannot be made: one problem, code `session.<what>`, placed under the field
    it concerns (`where`, a key or a Phrase) and, on the staff form, beside that field."""

    def __init__(
        self,
        code: str,
        message: str,
        where: str | Phrase = "",
        *,
        field: str | None = None,
        **params: Any,
    ) -> None:
        if field is None:
            field = where if isinstance(where, str) and where in FORM_FIELDS else ""
        place = (where,) if where else ()
        super().__init__([Problem(f"session.{code}", message, params, place, field)])


# --- queries --------------------------------------------------------------------------------


def _public(query: Select[tuple[Session]]) -> Select[tuple[Session]]:
    return query.join(Session.series).where(Series.visibility == "public")


def upcoming(db: Db, now: dt.datetime, limit: int = 50) -> Sequence[Session]:
    """Public sessions that have not ended yet, soonest first (cancelled ones included)."""
    query = _public(select(Session)).where(Session.end >= now).order_by(Session.start).limit(limit)
    return db.scalars(query.options(joinedload(Session.series))).all()


def past_with_recordings(db: Db, now: dt.datetime, limit: int = 10) -> Sequence[Session]:
    """Public sessions that have ended and have a recording, newest first."""
    query = (
        _public(select(Session))
        .where(
            Session.end < now,
            Session.status == SessionStatus.SCHEDULED,
            Session.recording_url != "",
        )
        .order_by(Session.start.desc())
        .limit(limit)
    )
    return db.scalars(query.options(joinedload(Session.series))).all()


def between(
    db: Db,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    series: str | None = None,
    region: str | None = None,
    public_only: bool = True,
) -> Sequence[Session]:
    """Sessions overlapping [start, end), optionally of one series or one region's view.

    A region's view is the national sessions plus that region's, as its calendar feed shows.
    """
    # The livestream too: every session's JSON reads its links (one query, not one each).
    query = (
        select(Session)
        .join(Session.series)
        .options(joinedload(Session.series), joinedload(Session.livestream))
    )
    if public_only:
        query = query.where(Series.visibility == "public")
    if start is not None:
        query = query.where(Session.end > start)
    if end is not None:
        query = query.where(Session.start < end)
    if series is not None:
        query = query.where(Series.slug == series)
    if region is not None:
        region_id = select(Region.id).where(Region.slug == region).scalar_subquery()
        query = query.where(or_(Series.region_id.is_(None), Series.region_id == region_id))
    return db.scalars(query.order_by(Session.start, Session.id)).all()


def get(db: Db, session_id: int) -> Session:
    session = db.get(Session, session_id, options=[joinedload(Session.series)])
    if session is None:
        raise SessionError("not-found", N_("no session with id %(id)s"), id=session_id)
    return session


# --- where a session is in time (how it is said, in words and JSON: vcs.planning.wording) ---


def timezone(session: Session) -> ZoneInfo:
    """The series' time zone: a session's local date and times are said in it."""
    return ZoneInfo(session.series.timezone)


# As long as the livestream-status job looks at a session after its end.
LIVE_OVERRUN = dt.timedelta(hours=6)


class Timed(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def live_status(self) -> str: ...
    @property
    def recording_url(self) -> str: ...
    @property
    def start(self) -> dt.datetime: ...
    @property
    def end(self) -> dt.datetime: ...


def phase(session: Timed, now: dt.datetime) -> str:
    """Where the session is for a viewer: upcoming, live, ended or cancelled.

    The provider's word (live_status, kept by the livestream-status job) wins; the clock fills
    in when no provider has spoken yet.
    """
    if session.status == SessionStatus.CANCELLED:
        return "cancelled"
    if session.live_status == LiveStatus.ENDED or session.recording_url:
        return "ended"
    # A stream that runs late stays live, but not for ever if nobody polls any more.
    if session.live_status == LiveStatus.LIVE and now < session.end + LIVE_OVERRUN:
        return "live"
    if now >= session.end:
        return "ended"
    if now >= session.start:
        return "live"
    return "upcoming"


# --- staff edits ----------------------------------------------------------------------------


def _changed(db: Db, session: Session, actor: str, action: str, before: dict[str, Any]) -> None:
    """Record a staff edit: the rule leaves the session alone now; calendars see a new SEQUENCE."""
    session.edited = True
    session.revision += 1
    after = {key: _plain(getattr(session, key)) for key in before}
    audit.record(db, actor, action, "session", session.id, before=before, after=after)
    db.flush()


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def update_details(db: Db, session: Session, actor: str, **values: Any) -> None:
    """Change title, topic, description, speakers, place or links of one session.

    The audit entry holds only what changed, so the digest can tell a new place from a new
    title (vcs.digest.changes()).
    """
    values = check_details(values)
    municipality = (values.get("place") or {}).get("municipality")
    if municipality and not db.scalar(
        select(Municipality.id).where(Municipality.slug == municipality)
    ):
        raise SessionError(
            "place.municipality-unknown",
            N_("unknown municipality %(municipality)r"),
            "place.municipality",
            municipality=municipality,
        )
    changed = {key: value for key, value in values.items() if getattr(session, key) != value}
    if not changed:
        return
    before = {key: _plain(getattr(session, key)) for key in changed}
    for key, value in changed.items():
        setattr(session, key, value)
    _changed(db, session, actor, "edit", before)


def edit_place(current: dict[str, Any], **given: str | None) -> dict[str, Any]:
    """A session's place with some keys changed (None: unchanged); online keeps no room."""
    place = {**current, **{key: value for key, value in given.items() if value is not None}}
    if place.get("kind") == "online":
        return {"kind": "online"}
    return {key: value for key, value in place.items() if value or key == "kind"}


def check_details(values: dict[str, Any]) -> dict[str, Any]:
    allowed = {*EDITABLE_TEXT, "speakers", "place", *LINKS}
    unknown = set(values) - allowed
    if unknown:
        raise SessionError(
            "not-editable", N_("not a session field one can edit"), sorted(unknown)[0]
        )
    texts = {key: str(values[key]) for key in EDITABLE_TEXT if key in values}
    values.update(text.check_all(texts, TEXT_KINDS))
    for key in LINKS:
        if key in values:
            values[key] = check_link(str(values[key] or ""), key)
    if "speakers" in values:
        values["speakers"] = check_speakers(values["speakers"])
    if "place" in values and values["place"] is not None:
        place = values["place"]
        unknown_keys = set(place) - {"kind", "venue", "address", "municipality"}
        if unknown_keys:
            raise SessionError("unknown-key", N_("unknown key"), f"place.{sorted(unknown_keys)[0]}")
        place = values["place"] = {
            key: text.check(str(value), text.TITLE, f"place.{key}") for key, value in place.items()
        }
        kind = place.get("kind")
        if kind not in places.KINDS:
            raise SessionError("place.kind", places.KIND_UNKNOWN, "place.kind", kind=kind)
        for key in places.NEEDED:
            if kind != "online" and not str(place.get(key, "")).strip():
                raise SessionError(f"place.needs-{key}", places.NEEDS[kind, key], f"place.{key}")
    return values


def check_link(value: str, key: str) -> str:
    """A link staff typed: trimmed, http(s), no spaces; "" clears it."""
    value = value.strip()
    if not value:
        return ""
    problem = text.url_problem(value, key)
    if problem is not None:
        raise VcsError([problem])
    if not value.lower().startswith(("https://", "http://")) or len(value) <= len("https://"):
        raise SessionError("link.not-http", NOT_HTTP, key)
    return value


def check_speakers(speakers: Any) -> list[dict[str, str]]:
    if not isinstance(speakers, list):
        raise SessionError("speakers.not-a-list", N_("must be a list"), "speakers")
    checked = []
    for number, speaker in enumerate(speakers, 1):
        which = Phrase(SPEAKER, {"number": number})
        if not isinstance(speaker, dict):
            raise SessionError("speaker-name", N_("needs a name"), which, field="speakers")
        extra = set(speaker) - {"name", "role", "organisation"}
        if extra:
            raise SessionError(
                "speakers.unknown-key",
                N_("unknown key %(key)r"),
                which,
                field="speakers",
                key=sorted(extra)[0],
            )
        try:
            cleaned = text.check_all(
                {key: str(speaker.get(key, "")) for key in SPEAKER_KINDS}, SPEAKER_KINDS
            )
        except VcsError as exc:
            # The form has one field for every speaker: the problem belongs beside it.
            raise VcsError(
                replace(problem, field="speakers").at(which) for problem in exc.problems
            ) from None
        if not cleaned["name"]:
            raise SessionError("speaker-name", N_("needs a name"), which, field="speakers")
        checked.append(cleaned)
    return checked


def move(
    db: Db, session: Session, start: dt.datetime, actor: str, end: dt.datetime | None = None
) -> None:
    """Move a session; it keeps its length unless `end` is given, and always keeps its UID."""
    if start.tzinfo is None:
        raise SessionError("start.naive", NEEDS_A_TIME_ZONE, "start")
    end = end or start + (session.end - session.start)
    if end <= start:
        raise SessionError("end-before-start", END_BEFORE_START, "end")
    before = {"start": _plain(session.start), "end": _plain(session.end)}
    session.start, session.end = start, end
    _changed(db, session, actor, "move", before)


def cancel(db: Db, session: Session, reason: str, actor: str, reason_en: str = "") -> None:
    """Cancel a session with a reason people will read (in English too, if given)."""
    reason = text.check(reason, text.NOTE, "reason")
    reason_en = text.check(reason_en, text.NOTE, "reason_en")
    if not reason:
        raise SessionError("reason-missing", N_("say why the session is cancelled"), "reason")
    if session.status == SessionStatus.CANCELLED:
        raise SessionError(
            "cancelled-already", N_("session %(id)s is already cancelled"), id=session.id
        )
    before = {
        "status": session.status,
        "cancel_reason": session.cancel_reason,
        "cancel_reason_en": session.cancel_reason_en,
    }
    session.status, session.cancel_reason = SessionStatus.CANCELLED, reason
    session.cancel_reason_en = reason_en
    _changed(db, session, actor, "cancel", before)


def reinstate(db: Db, session: Session, actor: str) -> None:
    """Undo a cancellation."""
    if session.status != SessionStatus.CANCELLED:
        raise SessionError("not-cancelled", N_("session %(id)s is not cancelled"), id=session.id)
    before = {
        "status": session.status,
        "cancel_reason": session.cancel_reason,
        "cancel_reason_en": session.cancel_reason_en,
    }
    session.status, session.cancel_reason, session.cancel_reason_en = (
        SessionStatus.SCHEDULED,
        "",
        "",
    )
    _changed(db, session, actor, "reinstate", before)


def add_extra(
    db: Db,
    series: Series,
    start: dt.datetime,
    end: dt.datetime,
    actor: str,
    host: str,
    **details: Any,
) -> Session:
    """A one-off session of a series, outside its rule."""
    if start.tzinfo is None:
        raise SessionError("start.naive", NEEDS_A_TIME_ZONE, "start")
    if end <= start:
        raise SessionError("end-before-start", END_BEFORE_START, "end")
    session = Session(
        series_id=series.id,
        original_start=None,
        uid=f"{uuid.uuid4()}@{host}",
        start=start,
        end=end,
        edited=True,
        **check_details(details),
    )
    db.add(session)
    db.flush()
    audit.record(db, actor, "create", "session", session.id, after={"start": _plain(start)})
    return session


def parse_until(value: str, tz: ZoneInfo) -> dt.datetime:
    """The end of a range typed by staff: a plain date (2027-01-31) includes that whole day."""
    end = parse_local(value, tz)
    return end + dt.timedelta(days=1) if dates.is_date_only(value) else end


def parse_local(value: str, tz: ZoneInfo) -> dt.datetime:
    """A date-time typed by staff (dates.parse_typed: "11.03.2027 10:00" or ISO 8601): with an
    offset as given, else local time in `tz`."""
    try:
        parsed = dates.parse_typed(value, tz)
    except ValueError:
        raise SessionError(
            "time-format",
            N_("%(value)r is not a date and time like 11.03.2027 10:00 or 2027-03-11T10:00"),
            value=value,
        ) from None
    if not dates.in_range(parsed):
        raise SessionError(
            "time-year",
            N_("%(value)r: the year must be from %(first)s to %(last)s"),
            value=value,
            first=dates.FIRST_YEAR,
            last=dates.LAST_YEAR,
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def hold(db: Db, session_id: int) -> Session | None:
    """The session, its row held until the transaction ends: changes that count something of
    the session (seats, certificates) then run one after another, and the count they check is
    the count they write to. SQLite has no row locks and ignores FOR UPDATE: a write as the
    transaction's first statement takes the database's write lock at once (before any read, so
    no stale snapshot is kept)."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(sql_text("UPDATE sessions SET id = id WHERE id = :id"), {"id": session_id})
    return db.get(Session, session_id, with_for_update=True, populate_existing=True)
