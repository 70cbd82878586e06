"""YouTube Live through the YouTube Data API v3: a broadcast per session, bound to a series stream.

Every request goes through YouTubeProvider._call, which counts the quota units first and turns
Google's failures into the errors of vcs.providers.provider.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Sequence
from importlib import resources
from typing import Any

import httplib2  # type: ignore[import-untyped]
from google_auth_httplib2 import AuthorizedHttp  # type: ignore[import-untyped]
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError

from vcs.config import Settings
from vcs.context import Context
from vcs.errors import Problem
from vcs.i18n import N_
from vcs.providers import google_requests
from vcs.providers.google_auth import FIX_COMMAND, load_credentials
from vcs.providers.provider import (
    BroadcastGone,
    BroadcastPlan,
    BroadcastState,
    CredentialsRevoked,
    LivestreamError,
    LivestreamProvider,
    ProviderKind,
    QuotaExceeded,
    QuotaMeter,
    RequestRejected,
    SeriesKey,
    TransientError,
)
from vcs.providers.quota import next_reset

# Units per request. Google's table (developers.google.com/youtube/v3/determine_quota_cost) has no
# rows for the live methods; like every other resource there, a list costs 1 and a write 50.
COSTS = {
    "liveBroadcasts.list": 1,
    "liveBroadcasts.insert": 50,
    "liveBroadcasts.update": 50,
    "liveBroadcasts.bind": 50,
    "liveBroadcasts.delete": 50,
    "liveStreams.list": 1,
    "liveStreams.insert": 50,
}

WATCH_URL = "https://www.youtube.com/watch?v={id}"
# YouTube's privacy-enhanced mode: no cookies are set until the viewer presses play.
EMBED_URL = "https://www.youtube-nocookie.com/embed/{id}"
BROADCAST_PARTS = "id,snippet,status,contentDetails"
MAX_TITLE_CHARS = 100
MAX_DESCRIPTION_BYTES = 5000
FIND_PAGES = 10
PAGE_SIZE = 50
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
AUTH_REASONS = {"authError", "forbidden", "insufficientPermissions", "unauthorized"}
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}


@functools.cache
def _discovery_document() -> str:
    documents = resources.files("googleapiclient") / "discovery_cache" / "documents"
    return (documents / "youtube.v3.json").read_text(encoding="utf-8")


def build_service(http: Any) -> Any:
    """The YouTube Data API v3 client, built offline from the document shipped in the package."""
    return build_from_document(_discovery_document(), http=http)


def youtube_from_settings(settings: Settings, meter: QuotaMeter) -> YouTubeProvider:
    """The provider, signed in with the token that `vcs google auth` stored."""
    credentials = load_credentials(settings.path(settings.livestream.google_token_file))
    http = AuthorizedHttp(credentials, http=httplib2.Http(timeout=30))
    return YouTubeProvider(build_service(http), meter)


class YouTubeProvider(google_requests.GoogleClient):
    """Broadcasts on the signed-in owner's channel, found again by a marker in their description."""

    name = "youtube"

    @property
    def api(self) -> google_requests.GoogleApi:
        return API

    def cost(self, name: str) -> int:
        return COSTS[name]

    def find(self, plan: BroadcastPlan) -> BroadcastState | None:
        """The channel's broadcast whose description carries the session's marker line."""
        broadcasts = self.service.liveBroadcasts()
        token = None
        for _ in range(FIND_PAGES):
            request = broadcasts.list(
                part=BROADCAST_PARTS,
                broadcastStatus="all",
                broadcastType="all",
                maxResults=PAGE_SIZE,
                pageToken=token,
            )
            page = self._call("liveBroadcasts.list", request)
            for broadcast in page.get("items", []):
                if marker(plan.uid) in _lines(broadcast.get("snippet", {}).get("description", "")):
                    if not broadcast.get("contentDetails", {}).get("boundStreamId"):
                        # An earlier run stopped between insert and bind: finish its work.
                        return self._bind(broadcast, plan)
                    return _state(broadcast, plan)
            token = page.get("nextPageToken")
            if not token:
                break
        return None

    def create(self, plan: BroadcastPlan) -> BroadcastState:
        """Insert the broadcast, starting and stopping by itself, and bind it to the stream."""
        body = {
            "snippet": _snippet(plan),
            "status": _status(plan),
            "contentDetails": {
                # Nobody has to press "go live" or "end": the stream starting and stopping does it.
                "enableAutoStart": True,
                "enableAutoStop": True,
                "enableEmbed": True,
                "recordFromStart": True,
                "enableDvr": True,
            },
        }
        request = self.service.liveBroadcasts().insert(
            part="snippet,status,contentDetails", body=body
        )
        return self._bind(self._call("liveBroadcasts.insert", request), plan)

    def update(self, external_id: str, plan: BroadcastPlan) -> BroadcastState:
        """Set title, description, times and privacy again (moved, retitled or hand-edited)."""
        # update replaces every mutable field of the parts it names: an omitted description or
        # privacy status would be wiped, so the whole snippet and status go along each time.
        body = {"id": external_id, "snippet": _snippet(plan), "status": _status(plan)}
        request = self.service.liveBroadcasts().update(part="snippet,status", body=body)
        return _state(self._call("liveBroadcasts.update", request), plan)

    def cancel(self, external_id: str) -> None:
        """Delete the broadcast; one deleted already is fine."""
        try:
            self._call(
                "liveBroadcasts.delete", self.service.liveBroadcasts().delete(id=external_id)
            )
        except BroadcastGone:
            return

    def statuses(
        self, broadcasts: Sequence[tuple[str, BroadcastPlan]], now: dt.datetime
    ) -> dict[str, BroadcastState]:
        """Life-cycle and drift of up to 50 broadcasts per request (1 unit each)."""
        plans = dict(broadcasts)
        ids = list(plans)
        found: dict[str, BroadcastState] = {}
        for start in range(0, len(ids), PAGE_SIZE):
            request = self.service.liveBroadcasts().list(
                id=",".join(ids[start : start + PAGE_SIZE]),
                part=BROADCAST_PARTS,
                maxResults=PAGE_SIZE,
            )
            for broadcast in self._call("liveBroadcasts.list", request).get("items", []):
                plan = plans.get(broadcast.get("id"))
                # "revoked": removed by YouTube; for us it is as gone as a deleted one.
                if plan and broadcast.get("status", {}).get("lifeCycleStatus") != "revoked":
                    found[broadcast["id"]] = _state(broadcast, plan)
        return found

    def _bind(self, broadcast: Any, plan: BroadcastPlan) -> BroadcastState:
        stream_id = self._stream_for(plan)
        request = self.service.liveBroadcasts().bind(
            id=broadcast["id"], streamId=stream_id, part="id,contentDetails"
        )
        self._call("liveBroadcasts.bind", request)
        return dataclasses.replace(_state(broadcast, plan), details={"stream_id": stream_id})

    def _stream_for(self, plan: BroadcastPlan) -> str:
        """The series' stream (one stream key for all its sessions), made on first use."""
        configured = plan.settings.get("stream_id")
        if configured:
            return str(configured)
        title = f"vcs {plan.series_slug}"
        streams = self.service.liveStreams()
        request = streams.list(part="id,snippet,cdn", mine=True, maxResults=PAGE_SIZE)
        for stream in self._call("liveStreams.list", request).get("items", []):
            if stream.get("snippet", {}).get("title") == title:
                return str(stream["id"])
        body = {
            "snippet": {"title": title},
            "cdn": {"ingestionType": "rtmp", "resolution": "variable", "frameRate": "variable"},
            "contentDetails": {"isReusable": True},
        }
        request = streams.insert(part="snippet,cdn,contentDetails", body=body)
        return str(self._call("liveStreams.insert", request)["id"])


def marker(uid: str) -> str:
    """The description line that ties a broadcast to our session, for find()."""
    return f"vcs:{uid}"


def title_for(plan: BroadcastPlan) -> str:
    """The broadcast title: one line, no < or > (YouTube refuses them), at most 100 characters."""
    return _clean(" ".join(plan.title.split()))[:MAX_TITLE_CHARS].strip()


def description_for(plan: BroadcastPlan) -> str:
    """The session text, its page and our marker, within YouTube's 5,000 bytes."""
    tail = [_clean(plan.page_url), marker(plan.uid)]
    room = MAX_DESCRIPTION_BYTES - len("\n\n".join(["", *tail]).encode())
    body = _clean(plan.description).strip()
    if len(body.encode()) > room:
        cut = body.encode()[: room - len("…".encode())]
        body = cut.decode("utf-8", errors="ignore").rstrip() + "…"
    return "\n\n".join(part for part in [body, *tail] if part)


def rfc3339(moment: dt.datetime) -> str:
    """An aware time as YouTube writes it: UTC, whole seconds, Z."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _snippet(plan: BroadcastPlan) -> dict[str, str]:
    return {
        "title": title_for(plan),
        "description": description_for(plan),
        "scheduledStartTime": rfc3339(plan.start),
        "scheduledEndTime": rfc3339(plan.end),
    }


def _status(plan: BroadcastPlan) -> dict[str, Any]:
    return {
        "privacyStatus": str(plan.settings.get("privacy", "public")),
        "selfDeclaredMadeForKids": False,
    }


def _state(broadcast: Any, plan: BroadcastPlan) -> BroadcastState:
    snippet, status = broadcast.get("snippet", {}), broadcast.get("status", {})
    started, ended = _parse(snippet.get("actualStartTime")), _parse(snippet.get("actualEndTime"))
    # liveBroadcastContent and lifeCycleStatus lag behind; actualStartTime is set the moment it is.
    if ended or status.get("lifeCycleStatus") == "complete":
        life = "complete"
    elif started:
        life = "live"
    else:
        life = "created"
    watch = WATCH_URL.format(id=broadcast["id"])
    stream_id = broadcast.get("contentDetails", {}).get("boundStreamId")
    return BroadcastState(
        external_id=broadcast["id"],
        status=life,
        watch_url=watch,
        embed_url=EMBED_URL.format(id=broadcast["id"]),
        recording_url=watch if life == "complete" else "",
        actual_start=started,
        actual_end=ended,
        # Only a broadcast still to come is worth repairing; a started one cannot be rescheduled.
        drift=_drift(snippet, status, plan) if life == "created" else (),
        details={"stream_id": stream_id} if stream_id else {},
    )


def _drift(snippet: Any, status: Any, plan: BroadcastPlan) -> tuple[str, ...]:
    wanted, privacy = _snippet(plan), _status(plan)["privacyStatus"]
    differs = {
        "title": _text(snippet.get("title")) != _text(wanted["title"]),
        "description": _text(snippet.get("description")) != _text(wanted["description"]),
        "start": _instant(snippet.get("scheduledStartTime")) != wanted["scheduledStartTime"],
        "end": _instant(snippet.get("scheduledEndTime")) != wanted["scheduledEndTime"],
        "privacy": bool(status) and status.get("privacyStatus") != privacy,
    }
    return tuple(field for field, changed in differs.items() if changed)


def _http_error(name: str, exc: HttpError, now: dt.datetime) -> LivestreamError:
    status = int(exc.resp.status)
    reasons = google_requests.reasons(exc.content)
    first = reasons[0] if reasons else f"HTTP {status}"
    text = f"YouTube refused {name}: {first} — {exc.reason or exc.resp.reason}"
    if status == 403 and QUOTA_REASONS.intersection(reasons):
        return QuotaExceeded(text, retry_after=next_reset(now) - now)
    if status == 401 or (status == 403 and AUTH_REASONS.intersection(reasons)):
        return CredentialsRevoked(text, FIX_COMMAND)
    if status == 404 and "liveStreamNotFound" not in reasons:
        return BroadcastGone(text)
    if status == 429 or status >= 500 or RATE_REASONS.intersection(reasons):
        return TransientError(f"YouTube failed {name} (HTTP {status}): {exc.reason}")
    return RequestRejected(text)


def _parse(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC) if value else None


def _instant(value: str | None) -> str | None:
    moment = _parse(value)
    return rfc3339(moment) if moment else None


def _text(value: str | None) -> str:
    """Text as YouTube may give it back: CRLF or trailing spaces are not a hand edit."""
    return "\n".join(
        line.rstrip() for line in (value or "").replace("\r\n", "\n").strip().split("\n")
    )


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def _clean(text: str) -> str:
    return text.replace("<", "").replace(">", "")


def _check_stream_id(value: Any) -> Problem | None:
    if isinstance(value, str):
        return None
    return Problem(
        "series.livestream.stream-id", N_("must be the id of a YouTube live stream, as text")
    )


def _provider(context: Context, meter: QuotaMeter) -> LivestreamProvider:
    return youtube_from_settings(context.settings, meter)


KIND = ProviderKind(
    name="youtube",
    label=N_("YouTube Live"),
    keys=(
        SeriesKey(
            "privacy",
            N_("Privacy on YouTube"),
            kind="choice",
            choices=(
                ("public", N_("public")),
                ("unlisted", N_("unlisted")),
                ("private", N_("private")),
            ),
            default="public",
        ),
        SeriesKey(
            "stream_id",
            N_("YouTube stream id"),
            hint=N_("Empty: vcs finds or makes a stream for the series."),
            check=_check_stream_id,
        ),
    ),
    factory=_provider,
    daily_quota=lambda settings: settings.livestream.youtube_daily_quota,
    settings=(
        "livestream.youtube_daily_quota",
        "livestream.google_client_secrets",
        "livestream.google_token_file",
    ),
)


API = google_requests.GoogleApi(
    service="YouTube", sign_in="YouTube", fix_command=FIX_COMMAND, http_error=_http_error
)
