"""The one place a session becomes an iCalendar VEVENT."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from icalendar import Event, vCalAddress, vText

from vcs.config import Settings
from vcs.i18n import gettext_for
from vcs.livestream.plan import watch_url
from vcs.planning import wording
from vcs.states import SessionStatus
from vcs.storage.models import Session


def last_modified(session: Session) -> dt.datetime:
    """When anything a calendar shows of the session last changed (the session or its series)."""
    return max(session.updated_at, session.series.updated_at).replace(microsecond=0)


def session_event(session: Session, settings: Settings, lang: str, members: bool = False) -> Event:
    """A VEVENT for one session: stable UID, SEQUENCE from the revision, times with TZID.

    `members`: the event is for members only (a personal feed, an e-mailed .ics), so its
    description carries the meeting room's join link; a public feed never does.
    """
    _ = gettext_for(lang)
    tz = ZoneInfo(session.series.timezone)
    page = wording.page_url(session, settings.base_url)
    title = wording.title(session, lang)
    topic = wording.topic(session, lang)
    summary = f"{title}: {topic}" if topic else title
    cancelled = session.status == SessionStatus.CANCELLED
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
    event.add("DESCRIPTION", _description(session, settings, lang, page, members))
    event.add("LOCATION", wording.location(session, settings.base_url))
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


def _description(
    session: Session, settings: Settings, lang: str, page: str, members: bool = False
) -> str:
    _ = gettext_for(lang)
    lines: list[str] = []
    if session.status == SessionStatus.CANCELLED:
        reason = wording.cancel_reason(session, lang)
        lines.append(_("Cancelled") + (f": {reason}" if reason else "."))
        lines.append("")
    topic = wording.topic(session, lang)
    if topic:
        lines.append(topic)
    description = wording.description(session, lang)
    if description:
        lines += ["", description] if lines else [description]
    speakers = wording.speakers(session)
    if speakers:
        lines += ["", _("Speakers") + ":", *(f"- {speaker}" for speaker in speakers)]
    organiser = wording.organiser(session)
    if organiser:
        # ORGANIZER has no phone, and many calendar apps do not show it at all.
        lines += ["", _("Organiser") + f": {organiser}"]
    lines.append("")
    if session.recording_url:
        lines.append(_("Recording") + f": {session.recording_url}")
    else:
        watch = watch_url(session)
        if watch:
            lines.append(_("Livestream") + f": {watch}")
    join = (
        wording.join_url(session) if members and session.status != SessionStatus.CANCELLED else ""
    )
    if join:
        lines.append(_("Join the meeting") + f": {join}")
    lines.append(_("Session page") + f": {page}")
    funding = wording.funding_block(session, lang)
    if funding is not None:
        lines += ["", f"{funding.funded_by}. {funding.line}"]
    return "\n".join(lines).strip()
