"""How a session is said: its title, place, speakers, time and addresses, in words and as JSON.

Pages, e-mails, the digest, calendar feeds, JSON-LD and the API all word a session through these
functions, so a member reads a speaker, a place or a link the same wherever they meet it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vcs import dates
from vcs.i18n import gettext_for, localized
from vcs.planning.materialize import RULE_CHANGED
from vcs.planning.sessions import phase, timezone
from vcs.storage.models import Session

# --- the words ------------------------------------------------------------------------------


def title(session: Session, lang: str) -> str:
    """The session's own title, else its series' title, in `lang` (Latvian as fallback)."""
    for obj in (session, session.series):
        text = getattr(obj, f"title_{lang}") or obj.title_lv
        if text:
            return str(text)
    return ""


def topic(session: Session, lang: str) -> str:
    """The session's topic in `lang` (Latvian as fallback); "" when it has none."""
    return localized(session, "topic", lang)


def description(session: Session, lang: str) -> str:
    """The session's own description, else its series' description."""
    return localized(session, "description", lang) or localized(session.series, "description", lang)


def speaker(person: Mapping[str, str]) -> str:
    """One speaker as everyone reads them: "Anna Bērziņa, speciāliste (Cēsu novads)"."""
    text = str(person.get("name", ""))
    if person.get("role"):
        text += f", {person['role']}"
    if person.get("organisation"):
        text += f" ({person['organisation']})"
    return text


def speakers(session: Session) -> list[str]:
    """Every speaker of the session, one line each, in the order staff gave them."""
    return [speaker(person) for person in session.speakers or []]


def when(session: Session, lang: str) -> str:
    """Date and time range in the series' time zone: "ceturtdiena, 2027. gada 14. janvāris,
    10.00–11.30"."""
    tz = timezone(session)
    return (
        dates.format_datetime(session.start, lang, tz, "date")
        + ", "
        + dates.format_time_range(session.start, session.end, lang, tz)
    )


def cancel_reason(session: Session, lang: str) -> str:
    """Why the session was cancelled, in words for people."""
    if session.cancel_reason == RULE_CHANGED:
        _ = gettext_for(lang)
        return _("The series schedule changed and no longer includes this date.")
    return session.cancel_reason


def funding(session: Session, lang: str) -> str:
    """The funding statement of the session's series, with its project number; "" if none."""
    series = session.series
    text = localized(series, "funding_text", lang)
    if text and series.funding_project:
        _ = gettext_for(lang)
        text += f" {_('Project No.')} {series.funding_project}"
    return text


# --- the place ------------------------------------------------------------------------------


def place(session: Session) -> dict[str, Any]:
    """Where the session happens: its own place, else the series' place."""
    return dict(session.place or session.series.place or {"kind": "online"})


def streamed(session: Session) -> bool:
    """Online and hybrid sessions are streamed; a meeting only in a room is not."""
    return place(session).get("kind") != "venue"


def address(session: Session) -> str:
    """The room a venue or hybrid meeting is in ("venue, address"); "" for an online one."""
    where = place(session)
    if where.get("kind") not in ("venue", "hybrid"):
        return ""
    return ", ".join(str(part) for part in (where.get("venue"), where.get("address")) if part)


def place_line(session: Session, lang: str) -> str:
    """Where, in words: "Online", the room, or the room "· and online" for a hybrid meeting."""
    _ = gettext_for(lang)
    room = address(session)
    if not room:
        return _("Online")
    return room + (" · " + _("and online") if place(session).get("kind") == "hybrid" else "")


def location(session: Session, base_url: str) -> str:
    """What calendars put in LOCATION: the room (maps find it), else the session's page."""
    return address(session) or page_url(session, base_url)


# --- the addresses --------------------------------------------------------------------------


def page_url(session: Session, base_url: str = "", lang: str | None = None) -> str:
    """The session's public page; with `lang` "en", the English page for English readers.

    Without a base URL the path alone, for links within the site.
    """
    # Latvian is the site's default, so only English readers need the parameter.
    return f"{base_url}/sessions/{session.id}" + ("?lang=en" if lang == "en" else "")


def ics_url(session: Session, base_url: str = "") -> str:
    """The session's own calendar file, one VEVENT."""
    return f"{page_url(session, base_url)}.ics"


@dataclass(frozen=True)
class Stream:
    """Where to watch a session; vcs.livestream.plan.stream() knows (the provider's links)."""

    watch_url: str = ""
    embed_url: str = ""


# --- as JSON --------------------------------------------------------------------------------


def session_json(
    session: Session, base_url: str, now: dt.datetime, stream: Stream
) -> dict[str, Any]:
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
        "url": page_url(session, base_url),
        "livestream_url": stream.watch_url,
        "embed_url": stream.embed_url,
        "recording_url": session.recording_url,
        "revision": session.revision,
    }
