"""Feeds assembled from each session's cached VEVENT text are the feeds icalendar writes whole,
byte for byte; a change renders only the changed session's event again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from icalendar import Calendar, vDuration

from tests.factories import NATIONAL, NOW, edit, import_entries, national, session_id, vidzeme
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.feeds import calendars
from vcs.feeds.event import session_event
from vcs.feeds.vtimezone import vtimezone
from vcs.planning import sessions

NAME = "Jaunatnes lietu atbalsta tīkls"


def whole(feed: calendars.Feed, context: Context, lang: str) -> bytes:
    """The feed as one icalendar Calendar with every event rendered now (the cold build)."""
    settings = context.settings
    calendar = Calendar()
    calendar.add("PRODID", calendars.PRODID)
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
    for session in feed.sessions:
        calendar.add_component(session_event(session, settings, lang, members=feed.members))
    return bytes(calendar.to_ical())


def both(context: Context, lang: str, members: bool = False) -> tuple[bytes, bytes]:
    """The network feed assembled from cached pieces, and written whole."""
    with context.database.session() as db:
        feed = calendars.network_feed(db, context.clock.now(), context.settings, NAME, lang)
        if members:
            feed = calendars.Feed(
                feed.key, feed.name, feed.description, feed.filename, feed.sessions, members=True
            )
        return calendars.build_calendar(feed, context.settings, lang), whole(feed, context, lang)


def test_a_feed_assembled_from_cached_events_is_the_whole_feed_byte_for_byte(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national(), vidzeme())
    calendars.EVENT_TEXTS.clear()
    for lang in ("lv", "en"):
        for members in (False, True):
            cold, reference = both(context, lang, members)
            warm, _ = both(context, lang, members)
            assert cold == reference
            assert warm == reference
            assert cold.count(b"BEGIN:VEVENT\r\n") > 10


def test_a_change_renders_one_event_again_and_the_feed_shows_it(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national(), vidzeme())
    calendars.EVENT_TEXTS.clear()
    before, _ = both(context, "lv")
    rendered = calendars.EVENT_TEXTS.rendered
    first = session_id(context, NATIONAL, "2026-12-10")
    edit(
        context,
        first,
        lambda db, s: sessions.update_details(
            db, s, "test", topic_lv="Jaunieši un mākslīgais intelekts"
        ),
    )
    after, reference = both(context, "lv")
    assert calendars.EVENT_TEXTS.rendered == rendered + 1
    assert after == reference
    assert after != before
    assert "Jaunieši un mākslīgais intelekts".encode() in after


def test_a_changed_series_renders_its_events_again(context: Context, tmp_path: Path) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national(), vidzeme())
    calendars.EVENT_TEXTS.clear()
    both(context, "en")
    renamed = national(title={"lv": "Tīkla videokonferences", "en": "Network videoconferences"})
    import_entries(context, tmp_path, renamed)
    after, reference = both(context, "en")
    assert after == reference
    assert b"SUMMARY:Network videoconferences" in after
