"""The .ics an announcement or change notice carries: an iTIP invitation for one member.

RFC 5546 (iTIP) over e-mail (RFC 6047, iMIP): `METHOD:REQUEST` with the network as ORGANIZER and
the member as ATTENDEE makes Outlook, Gmail and Apple Mail show an invitation, and a later
REQUEST with the same UID and a higher SEQUENCE moves the entry in the member's calendar, a
`METHOD:CANCEL` removes it. The VEVENT is the feeds' own (vcs/feeds/event.py: same UID,
SEQUENCE = revision), so a member who also subscribes to a feed sees one session, not two.

With `announcements.invitations = "publish"` the attachment is the plain one-session calendar
(`METHOD:PUBLISH`, the bytes /sessions/{id}.ics serves), with no ORGANIZER change and no ATTENDEE.
See docs/announcements.md and docs/calendar-feeds.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from icalendar import Calendar, vCalAddress, vText

from vcs.config import Settings
from vcs.feeds import calendars
from vcs.feeds.event import session_event
from vcs.feeds.vtimezone import vtimezone
from vcs.network import network_name
from vcs.states import SessionStatus
from vcs.storage.models import Session

REQUEST, CANCEL, PUBLISH = "REQUEST", "CANCEL", "PUBLISH"
# The settings' words for the two ways (announcements.invitations).
SETTING_REQUEST, SETTING_PUBLISH = "request", "publish"
# What mail clients save an invitation as (Gmail and Outlook name theirs so too).
FILENAME = "invite.ics"


@dataclass(frozen=True)
class Invitation:
    """One recipient's calendar: its METHOD (for the MIME part's method=), file name, bytes."""

    method: str
    filename: str
    ics: bytes


def method(session: Session, settings: Settings) -> str:
    """REQUEST for a session that takes place, CANCEL for a cancelled one; PUBLISH by setting."""
    if settings.announcements.invitations == SETTING_PUBLISH:
        return PUBLISH
    return CANCEL if session.status == SessionStatus.CANCELLED else REQUEST


def invitation(
    session: Session, settings: Settings, lang: str, *, address: str, name: str = ""
) -> Invitation:
    """The session's calendar for the member at `address` (called `name`), in `lang`."""
    how = method(session, settings)
    if how == PUBLISH:
        return Invitation(PUBLISH, f"session-{session.id}.ics", publish(session, settings, lang))
    calendar = Calendar()
    calendar.add("PRODID", calendars.PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", how)
    tzid = session.series.timezone
    calendar.add_component(vtimezone(tzid, session.start.year - 1, session.end.year))
    # The members' event: the join link in the description, the organiser's contact too.
    event = session_event(session, settings, lang, members=True)
    # In iTIP the ORGANIZER is who sends the invitation and would get the replies: the network's
    # sending address. The series' organiser stays in the DESCRIPTION ("Organizators: ...").
    event.pop("ORGANIZER", None)
    organizer = vCalAddress(f"mailto:{settings.mail.from_address}")
    organizer.params["CN"] = vText(network_name(settings, lang))
    event.add("ORGANIZER", organizer)
    attendee = vCalAddress(f"mailto:{address}")
    if name:
        attendee.params["CN"] = vText(name)
    attendee.params["ROLE"] = "REQ-PARTICIPANT"
    attendee.params["PARTSTAT"] = "NEEDS-ACTION"
    # Replies by e-mail are not read: registration goes through the session's links.
    attendee.params["RSVP"] = "FALSE"
    event.add("ATTENDEE", attendee)
    calendar.add_component(event)
    return Invitation(how, FILENAME, bytes(calendar.to_ical()))


def publish(session: Session, settings: Settings, lang: str) -> bytes:
    """The plain one-session calendar (METHOD:PUBLISH), as the feeds write it, for members."""
    feed = calendars.Feed(
        f"session:{session.id}", "", "", f"session-{session.id}.ics", [session], members=True
    )
    return calendars.build_calendar(feed, settings, lang)
