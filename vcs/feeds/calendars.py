"""Calendars: which sessions each feed holds, and the feed's bytes."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, overload

from icalendar import Calendar, vDuration
from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import instance_state

from vcs.config import Settings
from vcs.feeds.event import last_modified, session_event
from vcs.feeds.vtimezone import vtimezone
from vcs.i18n import gettext_for
from vcs.states import SessionStatus
from vcs.storage.models import Livestream, Member, Region, Series, Session

log = logging.getLogger(__name__)

PRODID = "-//vcs//Videoconference series manager//LV"


@dataclass(frozen=True)
class Feed:
    """What a calendar is called and which sessions it holds."""

    key: str
    name: str
    description: str
    filename: str
    sessions: Sequence[Session]
    # Read by members only (a personal feed, an e-mailed .ics): events carry the join link.
    members: bool = False


def window(now: dt.datetime, settings: Settings) -> tuple[dt.datetime, dt.datetime]:
    """Feeds hold recent past sessions (with their recordings) and everything ahead."""
    return now - dt.timedelta(days=settings.feeds.keep_past_days), now + 2 * settings.horizon


# What a feed needs to know of each session before it has any of them as objects: the key of
# its cached event text (EventTexts), then what the calendar's own lines and the filter need.
_ROW_COLUMNS = (
    Session.id,
    Session.revision,
    Session.updated_at,
    Series.id,
    Series.revision,
    Series.updated_at,
    Livestream.updated_at,
    Session.start,
    Session.end,
    Session.status,
    Series.timezone,
)


class FeedRow(NamedTuple):
    """One session of a feed as the light query reads it (the columns of _ROW_COLUMNS); its
    first KEY_LENGTH fields, with the language and audience, key its text in EVENT_TEXTS."""

    id: int
    revision: int
    updated_at: dt.datetime
    series_id: int
    series_revision: int
    series_updated_at: dt.datetime
    livestream_updated_at: dt.datetime | None
    start: dt.datetime
    end: dt.datetime
    status: str
    timezone: str


KEY_LENGTH = 7
# Ids per IN (...) when a few sessions are read: well under every database's parameter limit.
LOAD_CHUNK = 500


class FeedSessions(Sequence[Session]):
    """A feed's sessions: first only their ids and revisions (one light query), the sessions
    themselves read from the database when someone looks at them.

    build_calendar() needs the objects only for events not in EVENT_TEXTS, so a rebuild after
    one change reads one session, not the whole feed. Anyone else (the Google Calendar mirror,
    a test) indexes or iterates as over a list, and gets the same sessions, read once.
    """

    def __init__(
        self,
        db: Db,
        now: dt.datetime,
        conditions: Sequence[object],
        window_: tuple[dt.datetime, dt.datetime],
    ) -> None:
        self._db = db
        start, end = window_
        self._where = (Session.end >= start, Session.start < end, *conditions)
        query = (
            select(*_ROW_COLUMNS)
            .join(Session.series)
            .outerjoin(Session.livestream)
            .where(*self._where)  # type: ignore[arg-type]
            .order_by(Session.start, Session.id)
        )
        # A cancellation stays in feeds until its date has passed, then goes
        # (docs/calendar-feeds.md).
        self.rows: list[FeedRow] = [
            FeedRow(*row)
            for row in db.execute(query)
            if row.status != SessionStatus.CANCELLED or row.end >= now
        ]
        self._loaded: list[Session] | None = None

    def _select(self) -> Select[tuple[Session]]:
        return (
            select(Session)
            .join(Session.series)
            # The feed's few series in a second query rather than joined into every row; a
            # livestream joined (most sessions have none): the quickest of the four ways.
            .options(selectinload(Session.series), joinedload(Session.livestream))
        )

    def load(self, ids: Sequence[int] | None = None) -> dict[int, Session]:
        """The sessions with these ids (all of the feed's when None), by id."""
        if self._loaded is not None:
            wanted = None if ids is None else set(ids)
            return {s.id: s for s in self._loaded if wanted is None or s.id in wanted}
        found: dict[int, Session] = {}
        if ids is None or len(ids) > len(self.rows) // 4:
            # Most of the feed (a cold process): one query like the rows', whole sessions.
            query = self._select().where(*self._where)  # type: ignore[arg-type]
            found.update((s.id, s) for s in self._db.scalars(query))
        else:
            for first in range(0, len(ids), LOAD_CHUNK):
                chunk = ids[first : first + LOAD_CHUNK]
                query = self._select().where(Session.id.in_(chunk))
                found.update((s.id, s) for s in self._db.scalars(query))
        if ids is None:
            self._loaded = [found[row.id] for row in self.rows if row.id in found]
        return found

    def _all(self) -> list[Session]:
        if self._loaded is None:
            self.load()
        assert self._loaded is not None
        return self._loaded

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def __len__(self) -> int:
        return len(self._all())

    @overload
    def __getitem__(self, index: int) -> Session: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Session]: ...

    def __getitem__(self, index: int | slice) -> Session | Sequence[Session]:
        return self._all()[index]

    def __iter__(self) -> Iterator[Session]:
        return iter(self._all())


def _sessions(db: Db, now: dt.datetime, settings: Settings, *conditions: object) -> FeedSessions:
    return FeedSessions(db, now, conditions, window(now, settings))


def network_feed(db: Db, now: dt.datetime, settings: Settings, network: str, lang: str) -> Feed:
    _ = gettext_for(lang)
    found = _sessions(db, now, settings, Series.visibility == "public")
    return Feed(
        "all",
        network,
        _("Every public videoconference and meeting of the network."),
        "calendar.ics",
        found,
    )


def series_feed(db: Db, now: dt.datetime, settings: Settings, slug: str, lang: str) -> Feed | None:
    series = db.scalars(
        select(Series).where(Series.slug == slug, Series.visibility == "public")
    ).first()
    if series is None:
        return None
    found = _sessions(db, now, settings, Series.id == series.id)
    title = getattr(series, f"title_{lang}") or series.title_lv
    description = getattr(series, f"description_{lang}") or series.description_lv
    return Feed(f"series:{slug}", title, description, f"{slug}.ics", found)


def region_feed(db: Db, now: dt.datetime, settings: Settings, slug: str, lang: str) -> Feed | None:
    _ = gettext_for(lang)
    region = db.scalars(select(Region).where(Region.slug == slug)).first()
    if region is None:
        return None
    found = _sessions(
        db,
        now,
        settings,
        Series.visibility == "public",
        or_(Series.region_id.is_(None), Series.region_id == region.id),
    )
    name = getattr(region, f"name_{lang}") or region.name_lv
    description = _("The network's national sessions and the meetings of %(region)s.", region=name)
    return Feed(f"region:{slug}", name, description, f"{slug}.ics", found)


def session_feed(
    db: Db, settings: Settings, session_id: int, public_only: bool = True
) -> Feed | None:
    """One session; `public_only=False` for a members-only one sent to its followers by mail."""
    session = db.get(Session, session_id, options=[joinedload(Session.series)])
    if session is None or (public_only and session.series.visibility != "public"):
        return None
    return Feed(
        f"session:{session_id}",
        "",
        "",
        f"session-{session_id}.ics",
        [session],
        members=not public_only,
    )


def member_feed(db: Db, now: dt.datetime, settings: Settings, token: str, lang: str) -> Feed | None:
    """What one member follows, members-only series included; nothing else."""
    _ = gettext_for(lang)
    member = db.scalars(select(Member).where(Member.feed_token == token)).first()
    if member is None:
        return None
    found: Sequence[Session]
    if member.follows_all:
        found = _sessions(db, now, settings)
    else:
        series_ids = [s.id for s in member.followed_series]
        region_ids = [r.id for r in member.followed_regions]
        conditions: list[ColumnElement[bool]] = [Series.id.in_(series_ids)] if series_ids else []
        if region_ids:
            conditions.append(or_(Series.region_id.is_(None), Series.region_id.in_(region_ids)))
        found = _sessions(db, now, settings, or_(*conditions)) if conditions else []
    return Feed(
        f"member:{member.id}",
        _("My videoconferences"),
        _("The sessions you follow in the network."),
        "vcs.ics",
        found,
        members=True,
    )


def member_follows(db: Db, token: str) -> tuple[object, ...] | None:
    """What a member's feed depends on beyond the sessions: who, and what they follow."""
    member = db.scalars(select(Member).where(Member.feed_token == token)).first()
    if member is None:
        return None
    return (
        member.id,
        member.follows_all,
        tuple(sorted(s.id for s in member.followed_series)),
        tuple(sorted(r.id for r in member.followed_regions)),
    )


def build_calendar(feed: Feed, settings: Settings, lang: str) -> bytes:
    """The feed as RFC 5545 text: CRLF, folded lines, a VTIMEZONE for every TZID used.

    Assembled from pieces: the calendar's own lines (kept per name, zones and settings) and each
    session's VEVENT text from EVENT_TEXTS, exactly the bytes icalendar writes for the whole
    Calendar (tests/integration/test_feeds_incremental.py).
    """
    sessions = feed.sessions
    if isinstance(sessions, FeedSessions) and not sessions.loaded:
        years = [(row.timezone, row.start.year, row.end.year) for row in sessions.rows]
        events = EVENT_TEXTS.assemble(sessions, settings, lang, feed.members)
    else:
        years = [(s.series.timezone, s.start.year, s.end.year) for s in sessions]
        events = b"".join(event_text(s, settings, lang, feed.members) for s in sessions)
    zones: dict[str, tuple[int, int]] = {}
    for tzid, start_year, end_year in years:
        first, last = zones.get(tzid, (start_year, end_year))
        zones[tzid] = (min(first, start_year - 1), max(last, end_year))
    head = _calendar_head(
        feed.name,
        feed.description,
        settings.timezone,
        settings.feeds.refresh_minutes,
        tuple(sorted(zones.items())),
    )
    return head + events + CALENDAR_END


@functools.lru_cache(maxsize=256)
def _calendar_head(
    name: str,
    description: str,
    timezone: str,
    refresh_minutes: int,
    zones: tuple[tuple[str, tuple[int, int]], ...],
) -> bytes:
    """The calendar's lines before its events: the same for every build of the same feed."""
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    if name:
        calendar.add("NAME", name)
        calendar.add("X-WR-CALNAME", name)
    if description:
        calendar.add("DESCRIPTION", description)
        calendar.add("X-WR-CALDESC", description)
    calendar.add("X-WR-TIMEZONE", timezone)
    refresh = dt.timedelta(minutes=refresh_minutes)
    calendar.add("REFRESH-INTERVAL", vDuration(refresh), parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(refresh))
    for tzid, (first, last) in zones:
        calendar.add_component(vtimezone(tzid, first, last))
    # The events are pasted in before its end, exactly where add_component() puts their lines.
    head = bytes(calendar.to_ical())
    assert head.endswith(CALENDAR_END)
    return head[: -len(CALENDAR_END)]


def feed_changed(feed: Feed) -> dt.datetime | None:
    """When anything the feed's events show last changed (their latest LAST-MODIFIED)."""
    sessions = feed.sessions
    if isinstance(sessions, FeedSessions) and not sessions.loaded:
        return max(
            (
                max(row.updated_at, row.series_updated_at).replace(microsecond=0)
                for row in sessions.rows
            ),
            default=None,
        )
    return max((last_modified(s) for s in sessions), default=None)


CALENDAR_END = b"END:VCALENDAR\r\n"


class EventTexts:
    """Each session's VEVENT text, kept by what it is made of, so that a feed is assembled from
    pieces and a change to one session renders one event again.

    The key holds the session's and its series' revision and last change, the livestream's last
    change, the language, the audience (members see the join link) and the site's address:
    anything an event shows changes one of them. Keys never go stale, only unused; so every
    process (each web worker) may keep its own and stay correct. Bounded: emptied when full.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._texts: dict[tuple[object, ...], bytes] = {}
        self.rendered = 0

    @staticmethod
    def key(session: Session, settings: Settings, lang: str, members: bool) -> tuple[object, ...]:
        livestream = session.livestream
        return (
            session.id,
            session.revision,
            session.updated_at,
            session.series.id,
            session.series.revision,
            session.series.updated_at,
            None if livestream is None else livestream.updated_at,
            lang,
            members,
            settings.base_url,
        )

    def get(self, session: Session, settings: Settings, lang: str, members: bool) -> bytes:
        if not all(_settled(row) for row in (session, session.series, session.livestream)):
            # Changed in memory and not yet flushed: its last change is not stamped yet.
            return bytes(session_event(session, settings, lang, members=members).to_ical())
        key = self.key(session, settings, lang, members)
        text = self._texts.get(key)
        if text is None:
            text = self._render(key, session, settings, lang, members)
        return text

    def assemble(
        self, sessions: FeedSessions, settings: Settings, lang: str, members: bool
    ) -> bytes:
        """The events of a feed whose sessions are known only by their rows: the cached texts,
        and the sessions read from the database (in one query) only for the ones missing."""
        tail = (lang, members, settings.base_url)
        keys = [row[:KEY_LENGTH] + tail for row in sessions.rows]
        texts = self._texts
        pieces = [texts.get(key) for key in keys]
        missing = [
            row.id for row, piece in zip(sessions.rows, pieces, strict=True) if piece is None
        ]
        if missing:
            found = sessions.load(missing)
            for index, row in enumerate(sessions.rows):
                if pieces[index] is not None:
                    continue
                session = found.get(row.id)
                if session is None:  # deleted between the two queries
                    pieces[index] = b""
                    continue
                own = self.key(session, settings, lang, members)
                # Changed between the two queries: the text of what was read now.
                pieces[index] = self._texts.get(own) or self._render(
                    own, session, settings, lang, members
                )
        return b"".join(piece or b"" for piece in pieces)

    def _render(
        self,
        key: tuple[object, ...],
        session: Session,
        settings: Settings,
        lang: str,
        members: bool,
    ) -> bytes:
        text = bytes(session_event(session, settings, lang, members=members).to_ical())
        if len(self._texts) >= self.limit:
            self._texts.clear()
        self._texts[key] = text
        self.rendered += 1
        return text

    def clear(self) -> None:
        self._texts.clear()


def _settled(row: object) -> bool:
    """Whether a row is stored as it is: not new, not changed in memory since it was read."""
    if row is None:
        return True
    state = instance_state(row)
    return state.key is not None and not state.modified


EVENT_TEXTS = EventTexts()


def event_text(session: Session, settings: Settings, lang: str, members: bool = False) -> bytes:
    """One session's VEVENT as a feed holds it (from EVENT_TEXTS)."""
    return EVENT_TEXTS.get(session, settings, lang, members)
