"""Calendars: which sessions each feed holds, and the feed's bytes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from icalendar import Calendar, vDuration
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import instance_state

from vcs.config import Settings
from vcs.feeds.event import session_event
from vcs.feeds.vtimezone import vtimezone
from vcs.i18n import gettext_for
from vcs.states import SessionStatus
from vcs.storage.models import Member, Region, Series, Session

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


def _sessions(db: Db, now: dt.datetime, settings: Settings, *conditions: object) -> list[Session]:
    start, end = window(now, settings)
    query = (
        select(Session)
        .join(Session.series)
        .options(joinedload(Session.series), selectinload(Session.livestream))
        .where(Session.end >= start, Session.start < end, *conditions)  # type: ignore[arg-type]
        .order_by(Session.start, Session.id)
    )
    # A cancellation stays in feeds until its date has passed, then goes (docs/calendar-feeds.md).
    return [s for s in db.scalars(query) if s.status != SessionStatus.CANCELLED or s.end >= now]


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
    """The feed as RFC 5545 text: CRLF, folded lines, a VTIMEZONE for every TZID used."""
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    if feed.name:
        calendar.add("NAME", feed.name)
        calendar.add("X-WR-CALNAME", feed.name)
    if feed.description:
        calendar.add("DESCRIPTION", feed.description)
        calendar.add("X-WR-CALDESC", feed.description)
    calendar.add("X-WR-TIMEZONE", settings.timezone)
    refresh = dt.timedelta(minutes=settings.feeds.refresh_minutes)
    calendar.add("REFRESH-INTERVAL", vDuration(refresh), parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(refresh))
    zones: dict[str, tuple[int, int]] = {}
    for session in feed.sessions:
        tzid = session.series.timezone
        first, last = zones.get(tzid, (session.start.year, session.end.year))
        zones[tzid] = (min(first, session.start.year - 1), max(last, session.end.year))
    for tzid, (first, last) in sorted(zones.items()):
        calendar.add_component(vtimezone(tzid, first, last))
    # The calendar's own lines come from icalendar; the events are pasted in before its end
    # from EVENT_TEXTS, exactly where add_component() would have put their lines.
    head = bytes(calendar.to_ical())
    assert head.endswith(CALENDAR_END)
    events = b"".join(event_text(s, settings, lang, feed.members) for s in feed.sessions)
    return head[: -len(CALENDAR_END)] + events + CALENDAR_END


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

    def get(self, session: Session, settings: Settings, lang: str, members: bool) -> bytes:
        livestream = session.livestream
        if not all(_settled(row) for row in (session, session.series, livestream)):
            # Changed in memory and not yet flushed: its last change is not stamped yet.
            return bytes(session_event(session, settings, lang, members=members).to_ical())
        key = (
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
        text = self._texts.get(key)
        if text is None:
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
