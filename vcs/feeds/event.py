"""The one place a session becomes an iCalendar VEVENT."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from icalendar import Event, vCalAddress, vText

from vcs.config import Settings
from vcs.i18n import gettext_for, localized
from vcs.planning import sessions
from vcs.storage.models import Session


def last_modified(session: Session) -> dt.datetime:
    """When anything a calendar shows of the session last changed (the session or its series)."""
    return max(session.updated_at, session.series.updated_at).replace(microsecond=0)


def session_event(session: Session, settings: Settings, lang: str) -> Event:
    """A VEVENT for one session: stable UID, SEQUENCE from the revision, times with TZID."""
    _ = gettext_for(lang)
    tz = ZoneInfo(session.series.timezone)
    page = f"{settings.base_url}/sessions/{session.id}"
    place = sessions.place(session)
    title = sessions.title(session, lang)
    topic = localized(session, "topic", lang)
    summary = f"{title}: {topic}" if topic else title
    cancelled = session.status == "cancelled"
    if cancelled:
        # Google and Outlook show STATUS:CANCELLED events like any other (or drop them); the
        # word in the title tells people who still see it. See docs/calendar-feeds.md.
        summary = _("Cancelled: %(title)s", title=summary)

    event = Event()
    event.add("UID", session.uid)
    event.add("SEQUENCE", session.revision)
    changed = last_modified(session)
    # In a published feed DTSTAMP is when the event last changed, not the time of the download.
    event.add("DTSTAMP", changed.astimezone(dt.UTC))
    event.add("CREATED", session.created_at.replace(microsecond=0).astimezone(dt.UTC))
    event.add("LAST-MODIFIED", changed.astimezone(dt.UTC))
    event.add("DTSTART", session.start.astimezone(tz))
    event.add("DTEND", session.end.astimezone(tz))
    event.add("SUMMARY", summary)
    event.add("DESCRIPTION", _description(session, settings, lang, page))
    if place.get("kind") in ("venue", "hybrid"):
        event.add("LOCATION", ", ".join(p for p in (place.get("venue"), place.get("address")) if p))
    else:
        event.add("LOCATION", page)
    event.add("URL", page)
    series = session.series
    if series.organiser_email:
        organizer = vCalAddress(f"mailto:{series.organiser_email}")
        organizer.params["CN"] = vText(series.organiser_name or series.organiser_email)
        event.add("ORGANIZER", organizer)
    if series.tags:
        event.add("CATEGORIES", list(series.tags))
    event.add("STATUS", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("TRANSP", "TRANSPARENT" if cancelled else "OPAQUE")
    event.add("CLASS", "PUBLIC" if series.visibility == "public" else "PRIVATE")
    return event


def _description(session: Session, settings: Settings, lang: str, page: str) -> str:
    _ = gettext_for(lang)
    lines: list[str] = []
    if session.status == "cancelled":
        reason = sessions.cancel_reason(session, lang)
        lines.append(_("Cancelled") + (f": {reason}" if reason else "."))
        lines.append("")
    topic = localized(session, "topic", lang)
    if topic:
        lines.append(topic)
    description = localized(session, "description", lang) or localized(
        session.series, "description", lang
    )
    if description:
        lines += ["", description] if lines else [description]
    if session.speakers:
        lines += ["", _("Speakers") + ":"]
        for speaker in session.speakers:
            details = ", ".join(
                part for part in (speaker.get("role"), speaker.get("organisation")) if part
            )
            lines.append(f"- {speaker['name']}" + (f" ({details})" if details else ""))
    lines.append("")
    if session.recording_url:
        lines.append(_("Recording") + f": {session.recording_url}")
    else:
        watch = sessions.watch_url(session)
        if watch:
            lines.append(_("Livestream") + f": {watch}")
    lines.append(_("Session page") + f": {page}")
    series = session.series
    funding = localized(series, "funding_text", lang)
    if funding:
        project = f" {_('Project No.')} {series.funding_project}" if series.funding_project else ""
        lines += ["", funding + project]
    return "\n".join(lines).strip()
