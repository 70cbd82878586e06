"""The google-calendar job: public Google calendars that hold what the feeds hold, at once.

Each configured calendar mirrors one feed: the network's (/calendar.ics) or a region's
(/regions/SLUG.ics). Every run first lists our events in the calendar (one request a page), then
for each session of the feed that has not ended:

    no event yet                      -> events.import with the session's UID as iCalUID
    session changed (revision, text)  -> events.patch
    session cancelled                 -> events.delete
    event deleted or edited by hand   -> import again / patch back ("repaired")

and deletes our events whose session left the feed (made members-only, say). events.import is
keyed by iCalUID, so a run that dies after Google answered and before the answer was recorded
leaves one event, not two. Provider-wide failures (quota, revoked credentials) stop the run and
are kept in provider_health like YouTube's; a failure of one event backs off that event only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from vcs import metrics
from vcs.config import Settings
from vcs.context import Context
from vcs.feeds.calendars import network_feed, region_feed
from vcs.feeds.event import session_event
from vcs.planning import wording
from vcs.providers import health
from vcs.providers.google_calendar import (
    MARKER,
    NAME,
    EventGone,
    GoogleCalendar,
    calendar_from_settings,
)
from vcs.providers.provider import CredentialsRevoked, LivestreamError, QuotaExceeded
from vcs.providers.quota import DatabaseMeter
from vcs.states import LivestreamStatus, SessionStatus
from vcs.storage.models import CalendarEvent, Session

log = logging.getLogger(__name__)

MAX_BACKOFF = dt.timedelta(hours=6)
CREATED, CANCELLED = "created", "cancelled"
# Fields compared with what Google holds to notice a hand edit.
TEXT_FIELDS = ("summary", "description", "location")

# Builds the client for one run; tests pass one over recorded HTTP.
ClientFactory = Callable[[Context], GoogleCalendar]


class MirrorError(Exception):
    """Some events failed; the first line names the first failure, the rest is the summary."""

    def __init__(self, report: Report) -> None:
        more = f" (and {len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
        super().__init__(f"{report.errors[0]}{more}\n{report}")


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    repaired: int = 0
    cancelled: int = 0
    waiting: int = 0
    blocked: bool = False
    errors: list[str] = field(default_factory=list)
    calendars: int = 0

    def __str__(self) -> str:
        if not self.calendars:
            return "no Google calendars set (google_calendar.network, google_calendar.regions)"
        counts = [
            f"{value} {name}"
            for name, value in (
                ("created", self.created),
                ("updated", self.updated),
                ("repaired", self.repaired),
                ("cancelled", self.cancelled),
                ("waiting to retry", self.waiting),
                ("failed", len(self.errors)),
            )
            if value
        ]
        text = ", ".join(counts) or "all in line"
        if self.blocked:
            text += f"; {NAME} is blocked (see `vcs livestream status`)"
        return "\n".join([text, *self.errors])


def default_client(context: Context) -> GoogleCalendar:
    settings = context.settings
    meter = DatabaseMeter(
        context.database, context.clock, NAME, settings.google_calendar.daily_requests
    )
    return calendar_from_settings(settings, meter)


def mirror(context: Context, client: ClientFactory = default_client) -> Report:
    """Bring every configured Google calendar in line with its feed."""
    report = Report()
    calendars = context.settings.google_calendar.calendars
    report.calendars = len(calendars)
    if not calendars:
        return report
    now = context.clock.now()
    with context.database.session() as db:
        if health.blocked(db, NAME, now):
            report.blocked = True
            return report
    try:
        google = client(context)
        for audience, calendar_id in calendars.items():
            _mirror_one(context, google, audience, calendar_id, now, report)
    except (QuotaExceeded, CredentialsRevoked) as exc:
        metrics.livestream_error(NAME, exc)
        with context.database.session() as db:
            if health.record_failure(db, NAME, exc, now):
                report.errors.append(f"{NAME}: {exc}")
        report.blocked = True
        return report
    with context.database.session() as db:
        health.mark_ok(db, NAME)
    if report.errors:
        raise MirrorError(report)
    return report


def event_body(session: Session, settings: Settings) -> dict[str, Any]:
    """The Google event of a session: what its VEVENT in the feeds says, in Latvian."""
    vevent = session_event(session, settings, "lv")
    zone = session.series.timezone
    return {
        "iCalUID": session.uid,
        "summary": str(vevent["SUMMARY"]),
        "description": str(vevent["DESCRIPTION"]),
        "location": str(vevent["LOCATION"]),
        "start": {"dateTime": _local(vevent["DTSTART"].dt), "timeZone": zone},
        "end": {"dateTime": _local(vevent["DTEND"].dt), "timeZone": zone},
        "status": "confirmed",
        "visibility": "public",
        "transparency": "opaque",
        "source": {"title": wording.title(session, "lv"), "url": str(vevent["URL"])},
        "extendedProperties": {"private": {MARKER: settings.host}},
        "guestsCanInviteOthers": False,
    }


def body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def drift(event: dict[str, Any], body: dict[str, Any]) -> tuple[str, ...]:
    """What someone changed by hand in Google Calendar that the session does not say."""
    changed = [key for key in TEXT_FIELDS if _text(event.get(key)) != _text(body.get(key))]
    for key in ("start", "end"):
        if _instant(event.get(key, {})) != _instant(body[key]):
            changed.append(key)
    if event.get("status") == "cancelled":
        changed.append("deleted")
    return tuple(changed)


def _sessions(context: Context, audience: str, now: dt.datetime) -> list[Session] | None:
    """The feed's sessions that have not ended; None when the region is unknown."""
    with context.database.session() as db:
        if audience == "network":
            feed = network_feed(db, now, context.settings, "", "lv")
        else:
            found = region_feed(db, now, context.settings, audience.split(":", 1)[1], "lv")
            if found is None:
                return None
            feed = found
        sessions = [s for s in feed.sessions if s.end > now]
        db.expunge_all()
        return sessions


def _mirror_one(
    context: Context,
    google: GoogleCalendar,
    audience: str,
    calendar_id: str,
    now: dt.datetime,
    report: Report,
) -> None:
    settings = context.settings
    sessions = _sessions(context, audience, now)
    if sessions is None:
        report.errors.append(f"{audience}: no such region (google_calendar.regions)")
        return
    try:
        existing = google.ours(calendar_id, settings.host, now)
    except (QuotaExceeded, CredentialsRevoked):
        raise
    except LivestreamError as exc:
        metrics.livestream_error(NAME, exc)
        report.errors.append(f"{audience}: listing the calendar's events failed: {exc}")
        return
    with context.database.session() as db:
        rows = {
            row.session_id: row
            for row in db.scalars(
                select(CalendarEvent).where(CalendarEvent.calendar_id == calendar_id)
            )
        }
        db.expunge_all()
    wanted = set()
    for session in sessions:
        wanted.add(session.uid)
        row = rows.get(session.id)
        if row is not None and row.next_attempt_at is not None and row.next_attempt_at > now:
            report.waiting += 1
            continue
        try:
            _one(context, google, audience, calendar_id, session, row, existing, report)
        except (QuotaExceeded, CredentialsRevoked):
            raise
        except LivestreamError as exc:
            metrics.livestream_error(NAME, exc)
            _failed(context, session, audience, calendar_id, exc, now, report)
    # Ours in the calendar, but no longer in the feed (made members-only, moved to another
    # region): take them out, as the feed did.
    for uid, event in existing.items():
        if uid in wanted or event.get("status") == "cancelled":
            continue
        try:
            google.delete(calendar_id, str(event["id"]))
        except (QuotaExceeded, CredentialsRevoked):
            raise
        except LivestreamError as exc:
            report.errors.append(f"{audience}: removing {uid} failed: {exc}")
            continue
        with context.database.session() as db:
            for row in db.scalars(
                select(CalendarEvent).where(
                    CalendarEvent.calendar_id == calendar_id,
                    CalendarEvent.event_id == str(event["id"]),
                )
            ):
                row.status = CANCELLED
        report.cancelled += 1


def _one(
    context: Context,
    google: GoogleCalendar,
    audience: str,
    calendar_id: str,
    session: Session,
    row: CalendarEvent | None,
    existing: dict[str, dict[str, Any]],
    report: Report,
) -> None:
    found = existing.get(session.uid)
    if session.status == SessionStatus.CANCELLED:
        event_id = (row.event_id if row is not None else "") or (found or {}).get("id", "")
        if not event_id or (found is not None and found.get("status") == "cancelled"):
            if row is not None and row.status != CANCELLED:
                _store(context, session, audience, calendar_id, None, "", CANCELLED)
            return
        if row is not None and row.status == CANCELLED and found is None:
            return
        google.delete(calendar_id, str(event_id))
        _store(context, session, audience, calendar_id, None, "", CANCELLED)
        report.cancelled += 1
        return
    body = event_body(session, context.settings)
    digest = body_hash(body)
    patch = {key: value for key, value in body.items() if key != "iCalUID"}
    if row is None or not row.event_id or row.status == CANCELLED:
        # New here, or cancelled before and scheduled again: import makes or restores it.
        event = google.import_event(calendar_id, body)
        report.created += 1
    elif found is None:
        # Deleted for good by hand (emptied from the bin), or never listed: import it again.
        event = google.import_event(calendar_id, body)
        report.repaired += 1
    elif row.synced_revision != session.revision or row.synced_hash != digest:
        event = _patch(google, calendar_id, row.event_id, patch, body)
        report.updated += 1
    elif drift(found, body):
        log.info(
            "%s: session %s was changed by hand in Google Calendar (%s); putting it back",
            audience,
            session.id,
            ", ".join(drift(found, body)),
        )
        event = _patch(google, calendar_id, row.event_id, patch, body)
        report.repaired += 1
    else:
        return
    _store(context, session, audience, calendar_id, event, digest, CREATED)


def _patch(
    google: GoogleCalendar,
    calendar_id: str,
    event_id: str,
    patch: dict[str, Any],
    body: dict[str, Any],
) -> dict[str, Any]:
    """Patch the event; one that is gone for good is imported again."""
    try:
        return google.patch(calendar_id, event_id, patch)
    except EventGone:
        return google.import_event(calendar_id, body)


def _store(
    context: Context,
    session: Session,
    audience: str,
    calendar_id: str,
    event: dict[str, Any] | None,
    digest: str,
    status: str,
) -> None:
    with context.database.session() as db:
        row = _row(db, session.id, audience, calendar_id)
        if event is not None:
            row.event_id = str(event.get("id", row.event_id))
        row.status = status
        row.synced_revision = session.revision
        row.synced_hash = digest
        row.last_error, row.error_count, row.next_attempt_at = "", 0, None


def _failed(
    context: Context,
    session: Session,
    audience: str,
    calendar_id: str,
    error: LivestreamError,
    now: dt.datetime,
    report: Report,
) -> None:
    with context.database.session() as db:
        row = _row(db, session.id, audience, calendar_id)
        row.error_count += 1
        row.last_error = str(error)[:2000]
        if error.retryable:
            base = context.settings.google_calendar.retry_base_seconds
            wait = dt.timedelta(seconds=base * 2 ** min(row.error_count - 1, 20))
            row.next_attempt_at = now + min(wait, MAX_BACKOFF)
        else:
            # Refused as invalid: try again when the session changes (its revision moves on).
            row.synced_revision = session.revision
            row.next_attempt_at = None
    report.errors.append(f"{audience}: session {session.id}: {error}")


def _row(db: Db, session_id: int, audience: str, calendar_id: str) -> CalendarEvent:
    row = db.scalars(
        select(CalendarEvent).where(
            CalendarEvent.session_id == session_id, CalendarEvent.calendar_id == calendar_id
        )
    ).first()
    if row is None:
        row = CalendarEvent(
            session_id=session_id,
            audience=audience,
            calendar_id=calendar_id,
            event_id="",
            status=LivestreamStatus.INTENDED,
            synced_revision=-1,
            synced_hash="",
            last_error="",
            error_count=0,
        )
        db.add(row)
    return row


def _local(moment: dt.datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def _instant(when: dict[str, Any]) -> dt.datetime | None:
    value = when.get("dateTime") if isinstance(when, dict) else None
    return dt.datetime.fromisoformat(str(value)).astimezone(dt.UTC) if value else None


def _text(value: Any) -> str:
    """Text as Google may give it back: CRLF or trailing spaces are not a hand edit."""
    return "\n".join(
        line.rstrip() for line in str(value or "").replace("\r\n", "\n").strip().split("\n")
    )
