"""Google Calendar API v3: the events of the public calendars vcs mirrors its sessions into.

A few calls, each through GoogleCalendar._call, which counts the request against the daily budget
first (vcs/providers/quota.py) and turns Google's failures into the errors of
vcs.providers.provider, like the YouTube provider. What the events should say and when to call
is vcs/reach/calendar_mirror.py.
"""

from __future__ import annotations

import datetime as dt
import functools
from importlib import resources
from typing import Any

import httplib2  # type: ignore[import-untyped]
from google_auth_httplib2 import AuthorizedHttp  # type: ignore[import-untyped]
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError

from vcs.config import Settings
from vcs.providers import google_requests
from vcs.providers.google_auth import CALENDAR_FIX_COMMAND, CALENDAR_SCOPES, load_credentials
from vcs.providers.provider import (
    BroadcastGone,
    CredentialsRevoked,
    LivestreamError,
    QuotaExceeded,
    QuotaMeter,
    RequestRejected,
    TransientError,
)
from vcs.providers.quota import next_reset

# The name in provider_health and quota_usage.
NAME = "google-calendar"
# Every Calendar request counts one against the project's quota (per minute and per day).
COST = 1
PAGE_SIZE = 250
MAX_PAGES = 20
# The private extended property that marks an event as ours, with the host as its value.
MARKER = "vcs"
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
AUTH_REASONS = {"authError", "unauthorized", "insufficientPermissions"}
# 403 forbidden / requiredAccessLevel: the account may not write to that calendar (not shared with
# it, or only with "see all event details").
ACCESS_REASONS = {"forbidden", "requiredAccessLevel", "forbiddenForNonOrganizer"}


class EventGone(BroadcastGone):
    """The event (or the calendar) is not there: deleted for good, or never made."""


@functools.cache
def _discovery_document() -> str:
    documents = resources.files("googleapiclient") / "discovery_cache" / "documents"
    return (documents / "calendar.v3.json").read_text(encoding="utf-8")


def build_service(http: Any) -> Any:
    """The Calendar API v3 client, built offline from the document shipped in the package."""
    return build_from_document(_discovery_document(), http=http)


def calendar_from_settings(settings: Settings, meter: QuotaMeter) -> GoogleCalendar:
    """The client, signed in with the token that `vcs google auth --calendar` stored."""
    credentials = load_credentials(
        settings.path(settings.google_calendar.token_file),
        CALENDAR_SCOPES,
        CALENDAR_FIX_COMMAND,
        "Google Calendar",
    )
    http = AuthorizedHttp(credentials, http=httplib2.Http(timeout=30))
    return GoogleCalendar(build_service(http), meter)


class GoogleCalendar(google_requests.GoogleClient):
    """Import, patch, delete and list the events of calendars the signed-in account can edit."""

    name = NAME

    @property
    def api(self) -> google_requests.GoogleApi:
        return API

    def cost(self, name: str) -> int:
        return COST

    def import_event(self, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """events.import: make the event with our iCalUID, or update the one that has it.

        Import is keyed by iCalUID, so doing it twice (a run that died before it recorded the
        answer) leaves one event, not two; and nobody is e-mailed, unlike events.insert.
        """
        request = self.service.events().import_(calendarId=calendar_id, body=body)
        return dict(self._call("events.import", request))

    def patch(self, calendar_id: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """events.patch: set the fields in `body`; the others stay as they are."""
        request = self.service.events().patch(
            calendarId=calendar_id, eventId=event_id, body=body, sendUpdates="none"
        )
        return dict(self._call("events.patch", request))

    def delete(self, calendar_id: str, event_id: str) -> None:
        """events.delete (the event stays at Google as status "cancelled"); gone already is fine."""
        request = self.service.events().delete(
            calendarId=calendar_id, eventId=event_id, sendUpdates="none"
        )
        try:
            self._call("events.delete", request)
        except EventGone:
            return

    def ours(self, calendar_id: str, host: str, since: dt.datetime) -> dict[str, dict[str, Any]]:
        """Our events (marked with `host`) that end after `since`, deleted ones too, by iCalUID."""
        found: dict[str, dict[str, Any]] = {}
        token = None
        for _ in range(MAX_PAGES):
            request = self.service.events().list(
                calendarId=calendar_id,
                privateExtendedProperty=f"{MARKER}={host}",
                showDeleted=True,
                timeMin=rfc3339(since),
                maxResults=PAGE_SIZE,
                pageToken=token,
            )
            page = self._call("events.list", request)
            for event in page.get("items", []):
                if event.get("iCalUID"):
                    found[str(event["iCalUID"])] = event
            token = page.get("nextPageToken")
            if not token:
                break
        return found


def rfc3339(moment: dt.datetime) -> str:
    """An aware time in UTC with a Z, as the API takes it in queries."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _http_error(name: str, exc: HttpError, now: dt.datetime) -> LivestreamError:
    status = int(exc.resp.status)
    reasons = google_requests.reasons(exc.content)
    first = reasons[0] if reasons else f"HTTP {status}"
    text = f"Google Calendar refused {name}: {first} — {exc.reason or exc.resp.reason}"
    if status == 403 and QUOTA_REASONS.intersection(reasons):
        return QuotaExceeded(text, retry_after=next_reset(now) - now)
    if status == 429 or status >= 500 or RATE_REASONS.intersection(reasons):
        return TransientError(f"Google Calendar failed {name} (HTTP {status}): {exc.reason}")
    if status == 401 or (status == 403 and AUTH_REASONS.intersection(reasons)):
        return CredentialsRevoked(text, CALENDAR_FIX_COMMAND)
    if status == 403 and ACCESS_REASONS.intersection(reasons):
        fix = f"share the calendar with the signed-in account, or {CALENDAR_FIX_COMMAND}"
        return CredentialsRevoked(text, fix)
    if status in (404, 410):
        return EventGone(text)
    return RequestRejected(text)


API = google_requests.GoogleApi(
    service="Google Calendar",
    sign_in="Calendar",
    fix_command=CALENDAR_FIX_COMMAND,
    http_error=_http_error,
)
