"""Links that add a feed or one session to the calendar apps people use."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from vcs.planning import wording
from vcs.storage.models import Session


@dataclass(frozen=True)
class SubscribeLinks:
    https: str
    webcal: str
    google: str
    outlook_live: str
    outlook_office: str
    # The public Google calendar vcs mirrors this feed into (vcs/reach/calendar_mirror.py), if
    # any: Google users see a change at once there, not after Google's 8-24 h feed refresh.
    google_calendar: str = ""


def subscribe_links(feed_url: str, name: str, google_calendar_id: str = "") -> SubscribeLinks:
    """Subscribe (not import) links, so the calendar follows every later change."""
    parts = urlsplit(feed_url)
    webcal = "webcal://" + parts.netloc + parts.path + (f"?{parts.query}" if parts.query else "")
    outlook = urlencode({"url": feed_url, "name": name}, quote_via=quote)
    return SubscribeLinks(
        https=feed_url,
        webcal=webcal,
        # Google subscribes to a cid given as a webcal:// address.
        google="https://calendar.google.com/calendar/render?" + urlencode({"cid": webcal}),
        outlook_live=f"https://outlook.live.com/calendar/0/addfromweb?{outlook}",
        outlook_office=f"https://outlook.office.com/calendar/0/addfromweb?{outlook}",
        google_calendar=(
            "https://calendar.google.com/calendar/r?" + urlencode({"cid": google_calendar_id})
            if google_calendar_id
            else ""
        ),
    )


def google_event_link(session: Session, base_url: str, lang: str) -> str:
    """Google Calendar's "create event" template for one session (a copy, not a subscription)."""

    def utc(value: dt.datetime) -> str:
        return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")

    params = {
        "action": "TEMPLATE",
        "text": wording.title(session, lang),
        "dates": f"{utc(session.start)}/{utc(session.end)}",
        "ctz": session.series.timezone,
        "details": wording.page_url(session, base_url),
        "location": wording.location(session, base_url),
    }
    return "https://calendar.google.com/calendar/render?" + urlencode(params, quote_via=quote)
