"""Sessions: the concrete occurrences of series, the queries asked of them, and staff edits."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import joinedload

from vcs import audit, dates, text
from vcs.errors import VcsError
from vcs.i18n import gettext_for
from vcs.livestream import static
from vcs.livestream.provider import BroadcastPlan
from vcs.planning.materialize import RULE_CHANGED
from vcs.storage.models import Region, Series, Session

EDITABLE_TEXT = ("title_lv", "title_en", "topic_lv", "topic_en", "description_lv", "description_en")
# How each text is cleaned and how long it may be (vcs/text.py).
TEXT_KINDS = {
    "title_lv": text.TITLE, "title_en": text.TITLE, "topic_lv": text.TOPIC,
    "topic_en": text.TOPIC, "description_lv": text.TEXT, "description_en": text.TEXT,
}  # fmt: skip
SPEAKER_KINDS = {"name": text.NAME, "role": text.TITLE, "organisation": text.TITLE}


class SessionError(ValueError):
    """An edit that cannot be made; the message says which field and why."""


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
        .where(Session.end < now, Session.status == "scheduled", Session.recording_url != "")
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
    # The livestream too: session_json() reads it for every session (one query, not one each).
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
        raise SessionError(f"no session with id {session_id}")
    return session


# --- what a session shows -------------------------------------------------------------------


def title(session: Session, lang: str) -> str:
    """The session's own title, else its series' title, in `lang` (Latvian as fallback)."""
    for obj in (session, session.series):
        text = getattr(obj, f"title_{lang}") or obj.title_lv
        if text:
            return str(text)
    return ""


def place(session: Session) -> dict[str, Any]:
    """Where the session happens: its own place, else the series' place."""
    return dict(session.place or session.series.place or {"kind": "online"})


def cancel_reason(session: Session, lang: str) -> str:
    """Why the session was cancelled, in words for people."""
    if session.cancel_reason == RULE_CHANGED:
        _ = gettext_for(lang)
        return _("The series schedule changed and no longer includes this date.")
    return session.cancel_reason


def timezone(session: Session) -> ZoneInfo:
    return ZoneInfo(session.series.timezone)


def broadcast_plan(session: Session, base_url: str) -> BroadcastPlan:
    """What the session's broadcast should be, for any livestream provider."""
    tz = timezone(session)
    return BroadcastPlan(
        session_id=session.id,
        uid=session.uid,
        title=title(session, "lv"),
        description=session.topic_lv or session.series.description_lv,
        start=session.start,
        end=session.end,
        page_url=f"{base_url}/sessions/{session.id}",
        settings=dict(session.series.livestream_settings),
        local_date=f"{session.start.astimezone(tz):%Y-%m-%d}",
        series_slug=session.series.slug,
    )


def watch_url(session: Session) -> str:
    """Where to watch: the provisioned broadcast, else the series' static link."""
    if session.livestream is not None and session.livestream.watch_url:
        return session.livestream.watch_url
    template = str(session.series.livestream_settings.get("watch_url", ""))
    return static.fill(template, broadcast_plan(session, ""))


def embed_url(session: Session) -> str:
    """An address the page may embed in a player, if the stream has one."""
    if session.livestream is not None and session.livestream.embed_url:
        return session.livestream.embed_url
    template = str(session.series.livestream_settings.get("embed_url", ""))
    return static.fill(template, broadcast_plan(session, ""))


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
    if session.status == "cancelled":
        return "cancelled"
    if session.live_status == "ended" or session.recording_url:
        return "ended"
    # A stream that runs late stays live, but not for ever if nobody polls any more.
    if session.live_status == "live" and now < session.end + LIVE_OVERRUN:
        return "live"
    if now >= session.end:
        return "ended"
    if now >= session.start:
        return "live"
    return "upcoming"


def session_json(session: Session, base_url: str, now: dt.datetime) -> dict[str, Any]:
    """One session as /api/sessions and `vcs sessions list --json` show it."""
    tz = timezone(session)
    return {
        "id": session.id,
        "uid": session.uid,
        "series": session.series.slug,
        "title": {"lv": title(session, "lv"), "en": title(session, "en")},
        "topic": {"lv": session.topic_lv, "en": session.topic_en},
        "start": session.start.astimezone(tz).isoformat(),
        "end": session.end.astimezone(tz).isoformat(),
        "timezone": session.series.timezone,
        "status": session.status,
        "cancel_reason": cancel_reason(session, "en") if session.status == "cancelled" else "",
        "live_status": session.live_status,
        "phase": phase(session, now),
        "place": place(session),
        "speakers": session.speakers,
        "url": f"{base_url}/sessions/{session.id}",
        "livestream_url": watch_url(session),
        "embed_url": embed_url(session),
        "recording_url": session.recording_url,
        "revision": session.revision,
    }


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
    """Change title, topic, description, speakers or place of one session."""
    values = check_details(values)
    before = {key: _plain(getattr(session, key)) for key in values}
    if all(getattr(session, key) == value for key, value in values.items()):
        return
    for key, value in values.items():
        setattr(session, key, value)
    _changed(db, session, actor, "edit", before)


def check_details(values: dict[str, Any]) -> dict[str, Any]:
    allowed = {*EDITABLE_TEXT, "speakers", "place"}
    unknown = set(values) - allowed
    if unknown:
        raise SessionError(f"{sorted(unknown)[0]}: not a session field one can edit")
    texts = {key: str(values[key]) for key in EDITABLE_TEXT if key in values}
    values.update(text.check_all(texts, TEXT_KINDS))
    if "speakers" in values:
        values["speakers"] = check_speakers(values["speakers"])
    if "place" in values and values["place"] is not None:
        place = values["place"]
        unknown_keys = set(place) - {"kind", "venue", "address", "municipality"}
        if unknown_keys:
            raise SessionError(f"place.{sorted(unknown_keys)[0]}: unknown key")
        place = values["place"] = {
            key: text.check(str(value), text.TITLE, f"place.{key}") for key, value in place.items()
        }
        kind = place.get("kind")
        if kind not in ("online", "venue", "hybrid"):
            raise SessionError(f"place.kind: must be online, venue or hybrid, not {kind!r}")
        for key in ("venue", "address"):
            if kind != "online" and not str(place.get(key, "")).strip():
                raise SessionError(f"place.{key}: a {kind} meeting needs its {key}")
    return values


def check_speakers(speakers: Any) -> list[dict[str, str]]:
    if not isinstance(speakers, list):
        raise SessionError("speakers: must be a list")
    checked = []
    for number, speaker in enumerate(speakers, 1):
        if not isinstance(speaker, dict):
            raise SessionError(f"speakers #{number}: needs a name")
        extra = set(speaker) - {"name", "role", "organisation"}
        if extra:
            raise SessionError(f"speakers #{number}: unknown key {sorted(extra)[0]!r}")
        try:
            cleaned = text.check_all(
                {key: str(speaker.get(key, "")) for key in SPEAKER_KINDS}, SPEAKER_KINDS
            )
        except VcsError as exc:
            # The form has one field for every speaker: the problem belongs beside it.
            raise VcsError(
                replace(problem, field="speakers").at(f"speakers #{number}")
                for problem in exc.problems
            ) from None
        if not cleaned["name"]:
            raise SessionError(f"speakers #{number}: needs a name")
        checked.append(cleaned)
    return checked


def move(
    db: Db, session: Session, start: dt.datetime, actor: str, end: dt.datetime | None = None
) -> None:
    """Move a session; it keeps its length unless `end` is given, and always keeps its UID."""
    if start.tzinfo is None:
        raise SessionError("start: needs a time zone")
    end = end or start + (session.end - session.start)
    if end <= start:
        raise SessionError("end: must be after the start")
    before = {"start": _plain(session.start), "end": _plain(session.end)}
    session.start, session.end = start, end
    _changed(db, session, actor, "move", before)


def cancel(db: Db, session: Session, reason: str, actor: str) -> None:
    """Cancel a session with a reason people will read."""
    reason = text.check(reason, text.NOTE, "reason")
    if not reason:
        raise SessionError("reason: say why the session is cancelled")
    if session.status == "cancelled":
        raise SessionError(f"session {session.id} is already cancelled")
    before = {"status": session.status, "cancel_reason": session.cancel_reason}
    session.status, session.cancel_reason = "cancelled", reason
    _changed(db, session, actor, "cancel", before)


def reinstate(db: Db, session: Session, actor: str) -> None:
    """Undo a cancellation."""
    if session.status != "cancelled":
        raise SessionError(f"session {session.id} is not cancelled")
    before = {"status": session.status, "cancel_reason": session.cancel_reason}
    session.status, session.cancel_reason = "scheduled", ""
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
        raise SessionError("start: needs a time zone")
    if end <= start:
        raise SessionError("end: must be after the start")
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
    return end + dt.timedelta(days=1) if len(value.strip()) == 10 else end


def parse_local(value: str, tz: ZoneInfo) -> dt.datetime:
    """A date-time typed by staff: with an offset as given, else local time in `tz`."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise SessionError(f"{value!r} is not a date and time like 2027-01-15T10:00") from None
    if not dates.in_range(parsed):
        raise SessionError(
            f"{value!r}: the year must be from {dates.FIRST_YEAR} to {dates.LAST_YEAR}"
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
