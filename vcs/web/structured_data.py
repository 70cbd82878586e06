"""schema.org Event data for a session page, so search engines and chat apps show it right."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcs.i18n import localized
from vcs.livestream.plan import watch_url
from vcs.planning import sessions, wording
from vcs.states import SessionStatus
from vcs.storage.models import Session

SCHEMA = "https://schema.org/"
ATTENDANCE = {
    "online": "OnlineEventAttendanceMode",
    "hybrid": "MixedEventAttendanceMode",
    "venue": "OfflineEventAttendanceMode",
}


def event_status(session: Session) -> str:
    """Cancelled, rescheduled (moved from the date the rule gave) or scheduled."""
    if session.status == SessionStatus.CANCELLED:
        return "EventCancelled"
    if moved(session):
        return "EventRescheduled"
    return "EventScheduled"


def moved(session: Session) -> bool:
    return session.original_start is not None and session.start != session.original_start


def event_jsonld(
    session: Session, base_url: str, lang: str, municipalities: Mapping[str, str]
) -> dict[str, Any]:
    """The session as a schema.org Event, start and end with the series' offset."""
    tz = sessions.timezone(session)
    page = wording.page_url(session, base_url)
    place = wording.place(session)
    kind = place.get("kind", "online")
    locations: list[dict[str, Any]] = []
    if kind in ("venue", "hybrid"):
        locations.append(
            {
                "@type": "Place",
                "name": place.get("venue", ""),
                "address": {
                    "@type": "PostalAddress",
                    "streetAddress": place.get("address", ""),
                    "addressLocality": municipalities.get(place.get("municipality", ""), ""),
                    "addressCountry": "LV",
                },
            }
        )
    if wording.streamed(session):
        locations.append({"@type": "VirtualLocation", "url": watch_url(session) or page})
    series = session.series
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "@id": page,
        "name": wording.title(session, lang),
        "url": page,
        "startDate": session.start.astimezone(tz).isoformat(),
        "endDate": session.end.astimezone(tz).isoformat(),
        "eventStatus": SCHEMA + event_status(session),
        "eventAttendanceMode": SCHEMA + ATTENDANCE.get(kind, ATTENDANCE["online"]),
        "location": locations[0] if len(locations) == 1 else locations,
        "inLanguage": "lv",
        "isAccessibleForFree": True,
    }
    description = localized(session, "topic", lang) or localized(series, "description", lang)
    if description:
        data["description"] = description
    if moved(session) and session.original_start is not None:
        data["previousStartDate"] = session.original_start.astimezone(tz).isoformat()
    if series.organiser_name:
        organizer = {"@type": "Organization", "name": series.organiser_name, "url": base_url}
        if series.organiser_email:
            organizer["email"] = series.organiser_email
        if series.organiser_phone:
            organizer["telephone"] = series.organiser_phone
        data["organizer"] = organizer
    funding = wording.funding_block(session, lang, base_url)
    if funding is not None:
        # Every funding statement is shown with the EU emblem, so the funder is the EU; the
        # grant carries the statement and the project number.
        funder = {"@type": "Organization", "name": wording.funder_name(lang)}
        data["funder"] = funder
        data["funding"] = {"@type": "Grant", "description": funding.statement, "funder": funder}
        if funding.project:
            data["funding"]["identifier"] = funding.project
    if session.speakers:
        data["performer"] = [
            {"@type": "Person", "name": speaker["name"]}
            | ({"jobTitle": speaker["role"]} if speaker.get("role") else {})
            | (
                {"affiliation": {"@type": "Organization", "name": speaker["organisation"]}}
                if speaker.get("organisation")
                else {}
            )
            for speaker in session.speakers
        ]
    if session.recording_url:
        data["recordedIn"] = {"@type": "VideoObject", "url": session.recording_url}
    return data
