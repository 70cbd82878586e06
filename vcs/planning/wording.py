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
from vcs.states import SessionStatus
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
    if lang == "en" and session.cancel_reason_en:
        return session.cancel_reason_en
    return session.cancel_reason


def funding(session: Session, lang: str) -> str:
    """The funding statement of the session's series, with its project number; "" if none."""
    series = session.series
    text = localized(series, "funding_text", lang)
    if text and series.funding_project:
        _ = gettext_for(lang)
        text += f" {_('Project No.')} {series.funding_project}"
    return text


# The EU emblem beside a funding statement (EU publicity rules for funded events): the flag,
# drawn for vcs, and the words beside it. Every funding statement is shown with it.
EMBLEM_PATH = "/static/eu-emblem.svg"


@dataclass(frozen=True)
class Funding:
    """A funded session's publicity block: the EU emblem, "Co-funded by the European Union",
    the series' statement and project number."""

    statement: str
    project: str
    line: str  # the statement with "Project No. …", as funding() says it
    funded_by: str  # "Līdzfinansē Eiropas Savienība" / "Co-funded by the European Union"
    emblem_url: str  # absolute with a base URL (e-mails), else the path (pages)
    emblem_alt: str


def funded_by(lang: str) -> str:
    """The words beside the EU emblem."""
    return gettext_for(lang)("Co-funded by the European Union")


def funder_name(lang: str) -> str:
    """Who funds a session with a funding statement, for JSON-LD's `funder`."""
    return gettext_for(lang)("European Union")


def funding_block(session: Session, lang: str, base_url: str = "") -> Funding | None:
    """The session's funding block in `lang`; None when its series has no funding statement."""
    series = session.series
    statement = localized(series, "funding_text", lang)
    if not statement:
        return None
    _ = gettext_for(lang)
    return Funding(
        statement=statement,
        project=series.funding_project,
        line=funding(session, lang),
        funded_by=funded_by(lang),
        emblem_url=base_url + EMBLEM_PATH,
        emblem_alt=_("Flag of the European Union"),
    )


def organiser(session: Session) -> str:
    """The organiser on one line: "Name, e-mail, phone" (the parts the series has)."""
    series = session.series
    parts = (series.organiser_name, series.organiser_email, series.organiser_phone)
    return ", ".join(part for part in parts if part)


# --- the place ------------------------------------------------------------------------------


def place(session: Session) -> dict[str, Any]:
    """Where the session happens: its own place, else the series' place."""
    return dict(session.place or session.series.place or {"kind": "online"})


def streamed(session: Session) -> bool:
    """Online and hybrid sessions are streamed; a meeting only in a room is not."""
    return place(session).get("kind") != "venue"


def address(session: Session) -> str:
    """The room a venue or hybrid meeting is in ("venue, address"); "" for an online one."""
    return _room(place(session))


def _room(where: Mapping[str, Any]) -> str:
    if where.get("kind") not in ("venue", "hybrid"):
        return ""
    return ", ".join(str(part) for part in (where.get("venue"), where.get("address")) if part)


def place_line(session: Session, lang: str) -> str:
    """Where, in words: "Online", the room, or the room "· and online" for a hybrid meeting."""
    return line_of_place(place(session), lang)


def line_of_place(where: Mapping[str, Any], lang: str) -> str:
    """A place (a session's or series' place dict) in words, as place_line() says it."""
    _ = gettext_for(lang)
    room = _room(where)
    if not room:
        return _("Online")
    return room + (" · " + _("and online") if where.get("kind") == "hybrid" else "")


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


def join_url(session: Session) -> str:
    """The meeting room members join (Zoom, Teams, Jitsi): the session's own, else its
    series'. Members only: e-mails to members and personal feeds, never a public page, public
    feed or the API."""
    return session.join_url or session.series.join_url


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
        "cancel_reason": cancel_reason(session, "en")
        if session.status == SessionStatus.CANCELLED
        else "",
        "live_status": session.live_status,
        "phase": phase(session, now),
        "place": place(session),
        "speakers": session.speakers,
        "url": page_url(session, base_url),
        "livestream_url": stream.watch_url,
        "embed_url": stream.embed_url,
        "recording_url": session.recording_url,
        "revision": session.revision,
        "organiser": organiser_json(session),
        "funding": funding_json(session),
    }


def organiser_json(session: Session) -> dict[str, str] | None:
    """The organiser as the API gives it: {name, email, phone}; None when the series has none."""
    series = session.series
    if not organiser(session):
        return None
    return {
        "name": series.organiser_name,
        "email": series.organiser_email,
        "phone": series.organiser_phone,
    }


def funding_json(session: Session) -> dict[str, Any] | None:
    """The funding as the API gives it: {statement: {lv, en}, project, funded_by: {lv, en}};
    None when the series has no funding statement."""
    series = session.series
    if not series.funding_text_lv:
        return None
    return {
        "statement": {"lv": series.funding_text_lv, "en": series.funding_text_en},
        "project": series.funding_project,
        "funded_by": {"lv": funded_by("lv"), "en": funded_by("en")},
    }
