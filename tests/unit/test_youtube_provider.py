"""The YouTube provider against the discovery document shipped in google-api-python-client.

Google's answers come from googleapiclient.http.HttpMockSequence, which also records every request
we send; no test touches the network.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.http import HttpMockSequence

from tests.conftest import make_settings
from vcs.clock import FixedClock
from vcs.providers.google_auth import save_token
from vcs.providers.provider import (
    BroadcastGone,
    BroadcastPlan,
    CredentialsRevoked,
    QuotaExceeded,
    RequestRejected,
    TransientError,
)
from vcs.providers.quota import MemoryMeter, next_reset
from vcs.providers.youtube import (
    YouTubeProvider,
    build_service,
    description_for,
    title_for,
    youtube_from_settings,
)

RIGA = ZoneInfo("Europe/Riga")
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
UID = "7@vcs.example"
MARKER = f"vcs:{UID}"
BROADCASTS = "/youtube/v3/liveBroadcasts"
STREAMS = "/youtube/v3/liveStreams"
QUOTA_MESSAGE = "The request cannot be completed because you have exceeded your quota."


# -- factories ---------------------------------------------------------------------------------


def plan(**overrides: Any) -> BroadcastPlan:
    """Session 7: Thursday 10 December 2026, 10.00-11.30 Riga time (08.00-09.30 UTC)."""
    values: dict[str, Any] = {
        "session_id": 7,
        "uid": UID,
        "title": "Jaunatnes darbs <tiešsaistē>",
        "description": "Saruna par jauniešu līdzdalību.",
        "start": dt.datetime(2026, 12, 10, 10, 0, tzinfo=RIGA),
        "end": dt.datetime(2026, 12, 10, 11, 30, tzinfo=RIGA),
        "page_url": "https://vcs.example/sessions/7",
        "settings": {"privacy": "unlisted"},
        "series_slug": "jaunatne",
    }
    values.update(overrides)
    return BroadcastPlan(**values)


def ok(body: dict[str, Any]) -> tuple[dict[str, str], str]:
    return {"status": "200"}, json.dumps(body)


def no_content() -> tuple[dict[str, str], str]:
    return {"status": "204"}, ""


def google_error(status: int, reason: str, message: str) -> tuple[dict[str, str], str]:
    """An error body in the shape the YouTube Data API answers with."""
    error = {"code": status, "message": message, "errors": [{"reason": reason, "message": message}]}
    return {"status": str(status)}, json.dumps({"error": error})


def broadcast(broadcast_id: str, the_plan: BroadcastPlan, **snippet: Any) -> dict[str, Any]:
    """A liveBroadcast resource as YouTube returns it for a broadcast we made for the_plan."""
    return {
        "id": broadcast_id,
        "snippet": {
            "title": title_for(the_plan),
            "description": description_for(the_plan),
            "scheduledStartTime": "2026-12-10T08:00:00Z",
            "scheduledEndTime": "2026-12-10T09:30:00Z",
            "liveBroadcastContent": "upcoming",
            **snippet,
        },
        "status": {"privacyStatus": "unlisted", "lifeCycleStatus": "ready"},
        "contentDetails": {"boundStreamId": "stream-1"},
    }


@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class YouTube:
    """A provider over recorded HTTP, with the meter and the sleeps it was given."""

    http: Any
    meter: MemoryMeter = field(default_factory=MemoryMeter)
    sleeps: list[float] = field(default_factory=list)

    @property
    def provider(self) -> YouTubeProvider:
        return YouTubeProvider(
            build_service(self.http), self.meter, sleep=self.sleeps.append, clock=FixedClock(NOW)
        )

    def sent(self) -> list[Sent]:
        requests = []
        for uri, method, body, _headers in self.http.request_sequence:
            parts = urlsplit(uri)
            requests.append(
                Sent(method, parts.path, parse_qs(parts.query), json.loads(body) if body else None)
            )
        return requests


def youtube(*responses: tuple[dict[str, str], str], meter: MemoryMeter | None = None) -> YouTube:
    return YouTube(HttpMockSequence(list(responses)), meter or MemoryMeter())


class TimingOut:
    """An http whose first `failures` requests time out, then answers from `inner`."""

    def __init__(self, inner: HttpMockSequence, failures: int) -> None:
        self.inner, self.failures = inner, failures
        self.request_sequence = inner.request_sequence

    def request(self, uri: str, method: str = "GET", **kwargs: Any) -> Any:
        if self.failures:
            self.failures -= 1
            self.request_sequence.append((uri, method, kwargs.get("body"), kwargs.get("headers")))
            raise TimeoutError("timed out")
        return self.inner.request(uri, method, **kwargs)


# -- create and bind ---------------------------------------------------------------------------


def test_create_inserts_the_broadcast_then_binds_it_to_the_series_stream() -> None:
    session = plan()
    streams_of_the_channel = [
        {"id": "other", "snippet": {"title": "vcs citi"}},
        {"id": "stream-1", "snippet": {"title": "vcs jaunatne"}},
    ]
    yt = youtube(
        ok(broadcast("b1", session)),
        ok({"items": streams_of_the_channel}),
        ok({"id": "b1", "contentDetails": {"boundStreamId": "stream-1"}}),
    )

    state = yt.provider.create(session)

    insert, streams, bind = yt.sent()
    assert (insert.method, insert.path) == ("POST", BROADCASTS)
    assert insert.query["part"] == ["snippet,status,contentDetails"]
    snippet = insert.body["snippet"]
    assert snippet["title"] == "Jaunatnes darbs tiešsaistē"
    assert snippet["scheduledStartTime"] == "2026-12-10T08:00:00Z"
    assert snippet["scheduledEndTime"] == "2026-12-10T09:30:00Z"
    assert snippet["description"] == (
        f"Saruna par jauniešu līdzdalību.\n\nhttps://vcs.example/sessions/7\n\n{MARKER}"
    )
    assert insert.body["status"] == {"privacyStatus": "unlisted", "selfDeclaredMadeForKids": False}
    assert insert.body["contentDetails"] == {
        "enableAutoStart": True,
        "enableAutoStop": True,
        "enableEmbed": True,
        "recordFromStart": True,
        "enableDvr": True,
    }
    assert (streams.method, streams.path) == ("GET", STREAMS)
    assert streams.query["mine"] == ["true"]
    assert streams.query["part"] == ["id,snippet,cdn"]
    assert (bind.method, bind.path) == ("POST", f"{BROADCASTS}/bind")
    assert bind.query["id"] == ["b1"]
    assert bind.query["streamId"] == ["stream-1"]
    assert bind.query["part"] == ["id,contentDetails"]
    assert state.external_id == "b1"
    assert state.status == "created"
    assert state.watch_url == "https://www.youtube.com/watch?v=b1"
    assert state.embed_url == "https://www.youtube-nocookie.com/embed/b1"
    assert state.details == {"stream_id": "stream-1"}
    assert yt.meter.spent_here == 50 + 1 + 50


def test_create_makes_the_series_stream_when_there_is_none() -> None:
    session = plan(settings={})
    yt = youtube(
        ok(broadcast("b1", session)),
        ok({"items": []}),
        ok({"id": "new-stream", "snippet": {"title": "vcs jaunatne"}}),
        ok({"id": "b1", "contentDetails": {"boundStreamId": "new-stream"}}),
    )

    state = yt.provider.create(session)

    insert, _streams, new_stream, bind = yt.sent()
    assert insert.body["status"]["privacyStatus"] == "public"
    assert (new_stream.method, new_stream.path) == ("POST", STREAMS)
    assert new_stream.query["part"] == ["snippet,cdn,contentDetails"]
    assert new_stream.body["snippet"] == {"title": "vcs jaunatne"}
    assert new_stream.body["cdn"] == {
        "ingestionType": "rtmp",
        "resolution": "variable",
        "frameRate": "variable",
    }
    assert bind.query["streamId"] == ["new-stream"]
    assert state.details == {"stream_id": "new-stream"}
    assert yt.meter.spent_here == 50 + 1 + 50 + 50


def test_create_reuses_the_stream_named_in_the_series_settings() -> None:
    session = plan(settings={"stream_id": "series-stream"})
    yt = youtube(ok(broadcast("b1", session)), ok({"id": "b1"}))

    yt.provider.create(session)

    _insert, bind = yt.sent()
    assert bind.query["streamId"] == ["series-stream"]
    assert yt.meter.spent_here == 100


def test_a_meter_without_room_refuses_before_any_request_is_sent() -> None:
    yt = youtube(ok({}), meter=MemoryMeter(daily_limit=49))

    with pytest.raises(QuotaExceeded):
        yt.provider.create(plan())

    assert yt.sent() == []


# -- find --------------------------------------------------------------------------------------


def test_find_locates_the_broadcast_by_its_marker_across_pages() -> None:
    session = plan()
    someone_else = plan(uid="17@vcs.example")
    yt = youtube(
        ok({"items": [broadcast("x1", someone_else)], "nextPageToken": "page-2"}),
        ok({"items": [broadcast("x2", someone_else), broadcast("b1", session)]}),
    )

    state = yt.provider.find(session)

    assert state is not None
    assert (state.external_id, state.status) == ("b1", "created")
    first, second = yt.sent()
    assert (first.method, first.path) == ("GET", BROADCASTS)
    assert first.query["broadcastStatus"] == ["all"]
    assert first.query["broadcastType"] == ["all"]
    assert first.query["maxResults"] == ["50"]
    assert "pageToken" not in first.query
    assert second.query["pageToken"] == ["page-2"]
    assert yt.meter.spent_here == 2


def test_find_returns_none_when_no_broadcast_carries_the_marker() -> None:
    yt = youtube(ok({"items": [broadcast("x1", plan(uid="17@vcs.example"))]}))

    assert yt.provider.find(plan()) is None


def test_find_binds_a_broadcast_an_interrupted_run_left_unbound() -> None:
    session = plan(settings={"stream_id": "series-stream"})
    unbound = {**broadcast("b1", session), "contentDetails": {}}
    yt = youtube(ok({"items": [unbound]}), ok({"id": "b1"}))

    state = yt.provider.find(session)

    assert state is not None
    assert state.details == {"stream_id": "series-stream"}
    assert yt.sent()[1].path == f"{BROADCASTS}/bind"


# -- update and cancel -------------------------------------------------------------------------


def test_moved_session_updates_broadcast_start() -> None:
    moved = plan(
        start=dt.datetime(2026, 12, 17, 14, 0, tzinfo=RIGA),
        end=dt.datetime(2026, 12, 17, 15, 0, tzinfo=RIGA),
    )
    answer = broadcast(
        "b1",
        moved,
        scheduledStartTime="2026-12-17T12:00:00Z",
        scheduledEndTime="2026-12-17T13:00:00Z",
    )
    yt = youtube(ok(answer))

    state = yt.provider.update("b1", moved)

    (put,) = yt.sent()
    assert (put.method, put.path) == ("PUT", BROADCASTS)
    assert put.query["part"] == ["snippet,status"]
    assert put.body["id"] == "b1"
    assert put.body["snippet"]["scheduledStartTime"] == "2026-12-17T12:00:00Z"
    assert put.body["snippet"]["scheduledEndTime"] == "2026-12-17T13:00:00Z"
    # update replaces the whole snippet and status, so nothing we set may be left out.
    assert put.body["snippet"]["title"] == "Jaunatnes darbs tiešsaistē"
    assert put.body["snippet"]["description"].endswith(MARKER)
    assert put.body["status"]["privacyStatus"] == "unlisted"
    assert (state.status, state.drift) == ("created", ())
    assert yt.meter.spent_here == 50


def test_update_of_a_broadcast_deleted_at_youtube_raises_broadcast_gone() -> None:
    yt = youtube(google_error(404, "liveBroadcastNotFound", "Broadcast not found"))

    with pytest.raises(BroadcastGone, match="liveBroadcastNotFound"):
        yt.provider.update("b1", plan())


def test_cancel_deletes_the_broadcast() -> None:
    yt = youtube(no_content())

    yt.provider.cancel("b1")

    (delete,) = yt.sent()
    assert (delete.method, delete.path, delete.query["id"]) == ("DELETE", BROADCASTS, ["b1"])
    assert yt.meter.spent_here == 50


def test_cancel_of_a_broadcast_already_gone_is_fine() -> None:
    yt = youtube(google_error(404, "liveBroadcastNotFound", "Broadcast not found"))

    yt.provider.cancel("b1")


# -- status ------------------------------------------------------------------------------------


def test_statuses_trust_actual_start_time_over_a_lagging_live_broadcast_content() -> None:
    session = plan()
    live = broadcast("b1", session, actualStartTime="2026-12-10T08:01:30Z")
    live["snippet"]["liveBroadcastContent"] = "upcoming"
    ended = broadcast(
        "b2",
        session,
        actualStartTime="2026-12-10T08:00:00Z",
        actualEndTime="2026-12-10T09:31:00Z",
    )
    yt = youtube(ok({"items": [live, ended]}))

    states = yt.provider.statuses([("b1", session), ("b2", session), ("b3", session)], NOW)

    (request,) = yt.sent()
    assert (request.method, request.path) == ("GET", BROADCASTS)
    assert request.query["id"] == ["b1,b2,b3"]
    assert request.query["part"] == ["id,snippet,status,contentDetails"]
    assert set(states) == {"b1", "b2"}
    assert states["b1"].status == "live"
    assert states["b1"].actual_start == dt.datetime(2026, 12, 10, 8, 1, 30, tzinfo=dt.UTC)
    assert states["b1"].recording_url == ""
    assert states["b2"].status == "complete"
    assert states["b2"].actual_end == dt.datetime(2026, 12, 10, 9, 31, tzinfo=dt.UTC)
    assert states["b2"].recording_url == "https://www.youtube.com/watch?v=b2"
    assert yt.meter.spent_here == 1


def test_statuses_ask_for_fifty_broadcasts_per_request() -> None:
    session = plan()
    ids = [f"b{n}" for n in range(51)]
    yt = youtube(ok({"items": [broadcast(i, session) for i in ids[:50]]}), ok({"items": []}))

    states = yt.provider.statuses([(i, session) for i in ids], NOW)

    first, second = yt.sent()
    assert first.query["id"] == [",".join(ids[:50])]
    assert second.query["id"] == ["b50"]
    assert len(states) == 50
    assert yt.meter.spent_here == 2


def test_a_title_and_start_edited_by_hand_show_up_as_drift() -> None:
    session = plan()
    edited = broadcast(
        "b1", session, title="Kāds cits nosaukums", scheduledStartTime="2026-12-10T09:00:00Z"
    )
    yt = youtube(ok({"items": [edited, broadcast("b2", session)]}))

    states = yt.provider.statuses([("b1", session), ("b2", session)], NOW)

    assert states["b1"].drift == ("title", "start")
    assert states["b2"].drift == ()


# -- faults ------------------------------------------------------------------------------------


def test_quota_exceeded_stops_until_midnight_pacific() -> None:
    yt = youtube(google_error(403, "quotaExceeded", QUOTA_MESSAGE))

    with pytest.raises(QuotaExceeded) as caught:
        yt.provider.create(plan())

    assert (
        str(caught.value)
        == f"YouTube refused liveBroadcasts.insert: quotaExceeded — {QUOTA_MESSAGE}"
    )
    assert caught.value.retry_after == next_reset(NOW) - NOW
    assert len(yt.sent()) == 1
    assert yt.sleeps == []


def test_server_errors_are_retried_with_growing_delays() -> None:
    session = plan()
    yt = youtube(
        google_error(500, "backendError", "Backend Error"),
        google_error(503, "backendError", "Backend Error"),
        ok({"items": [broadcast("b1", session)]}),
    )

    states = yt.provider.statuses([("b1", session)], NOW)

    assert states["b1"].status == "created"
    assert len(yt.sent()) == 3
    assert yt.sleeps == [1, 2]
    assert yt.meter.spent_here == 3


def test_three_server_errors_give_up_with_a_transient_error() -> None:
    yt = youtube(*[google_error(500, "backendError", "Backend Error")] * 3)

    with pytest.raises(TransientError) as caught:
        yt.provider.statuses([("b1", plan())], NOW)

    assert str(caught.value) == (
        "YouTube failed liveBroadcasts.list (HTTP 500): Backend Error; gave up after 3 attempts"
    )

    assert len(yt.sent()) == 3
    assert yt.sleeps == [1, 2]


def test_a_timeout_is_retried() -> None:
    inner = HttpMockSequence([ok({"items": []})])
    yt = YouTube(TimingOut(inner, failures=1))

    assert yt.provider.statuses([("b1", plan())], NOW) == {}
    assert len(yt.sent()) == 2
    assert yt.sleeps == [1]


def test_a_revoked_token_asks_for_vcs_google_auth() -> None:
    token_endpoint = "https://oauth2.googleapis.com/token"
    expired = Credentials(
        token="old-access-token",
        refresh_token="revoked-refresh-token",
        token_uri=token_endpoint,
        client_id="client-id",
        client_secret="client-secret",
        expiry=dt.datetime(2000, 1, 1),
    )
    revoked = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    mock = HttpMockSequence([({"status": "400"}, json.dumps(revoked))])
    yt = YouTube(AuthorizedHttp(expired, http=mock))

    with pytest.raises(CredentialsRevoked, match="invalid_grant") as caught:
        yt.provider.statuses([("b1", plan())], NOW)

    assert caught.value.fix_command == "vcs google auth"
    assert [(uri, method) for uri, method, _body, _headers in mock.request_sequence] == [
        (token_endpoint, "POST")
    ]
    assert yt.sleeps == []


@pytest.mark.parametrize(
    ("status", "reason"), [(401, "authError"), (403, "insufficientPermissions")]
)
def test_refused_credentials_ask_for_vcs_google_auth(status: int, reason: str) -> None:
    yt = youtube(google_error(status, reason, "Invalid Credentials"))

    with pytest.raises(CredentialsRevoked) as caught:
        yt.provider.update("b1", plan())

    assert caught.value.fix_command == "vcs google auth"
    assert len(yt.sent()) == 1


def test_another_refusal_carries_googles_message() -> None:
    message = "Scheduled start time is required."
    yt = youtube(google_error(400, "invalidScheduledStartTime", message))

    with pytest.raises(RequestRejected) as caught:
        yt.provider.update("b1", plan())

    assert str(caught.value) == (
        f"YouTube refused liveBroadcasts.update: invalidScheduledStartTime — {message}"
    )
    assert len(yt.sent()) == 1


# -- text --------------------------------------------------------------------------------------


def test_a_long_description_is_cut_to_5000_bytes_and_keeps_link_and_marker() -> None:
    text = description_for(plan(description="<b>ā</b>" * 2000, title="x" * 300))

    assert len(text.encode()) <= 5000
    assert text.endswith(f"…\n\nhttps://vcs.example/sessions/7\n\n{MARKER}")
    assert "<" not in text and ">" not in text
    assert len(title_for(plan(title="x" * 300))) == 100


# -- from settings -----------------------------------------------------------------------------


def test_the_provider_is_built_from_the_stored_token_without_the_network(tmp_path: Path) -> None:
    token_file = tmp_path / "google" / "token.json"
    save_token(
        Credentials(
            token="t",
            refresh_token="r",
            token_uri="https://oauth2.googleapis.com/token",
            client_id="c",
            client_secret="s",
        ),
        token_file,
    )
    settings = make_settings(tmp_path, VCS_LIVESTREAM_GOOGLE_TOKEN_FILE=str(token_file))

    provider = youtube_from_settings(settings, MemoryMeter())

    assert provider.name == "youtube"


def test_without_a_stored_token_the_provider_asks_for_vcs_google_auth(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, VCS_LIVESTREAM_GOOGLE_TOKEN_FILE=str(tmp_path / "none.json"))

    with pytest.raises(CredentialsRevoked) as caught:
        youtube_from_settings(settings, MemoryMeter())

    assert str(tmp_path / "none.json") in str(caught.value)
    assert caught.value.fix_command == "vcs google auth"
