"""The Google Calendar mirror: events imported by UID, moved, cancelled, repaired, and faults
survived, against the Calendar v3 discovery document shipped in google-api-python-client.

Google is played by FakeGoogle, an httplib2 stand-in in the manner of
googleapiclient.http.HttpMockSequence: it records every request the client sends and answers
from a small in-memory calendar (or with the errors a test queues). No test touches the network.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httplib2
import pytest
from click.testing import CliRunner
from google.oauth2.credentials import Credentials
from sqlalchemy import select

from tests.conftest import isolated_environ, make_settings
from tests.factories import (
    NATIONAL,
    VIDZEME,
    browse,
    edit,
    import_entries,
    national,
    session_id,
    vidzeme,
)
from vcs.bootstrap import initialise
from vcs.cli import cli
from vcs.clock import FixedClock
from vcs.config import ConfigError
from vcs.context import Context
from vcs.planning import sessions
from vcs.providers import google_auth
from vcs.providers.google_calendar import GoogleCalendar, build_service
from vcs.providers.quota import DatabaseMeter, MemoryMeter, next_reset
from vcs.reach.calendar_mirror import MirrorError, default_client, mirror
from vcs.storage.models import CalendarEvent, ProviderHealth, QuotaUsage, Session

DEC_1 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
NETWORK = "tikls@group.calendar.google.com"
VIDZEME_CALENDAR = "vidzeme@group.calendar.google.com"
EVENTS = f"/calendar/v3/calendars/{NETWORK}/events"


@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class FakeGoogle:
    """Google Calendar for one test: events by id, every request recorded, errors on demand."""

    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Sent] = field(default_factory=list)
    # (status, reason) answered, in turn, before the calendar itself answers again.
    failures: list[tuple[int, str]] = field(default_factory=list)
    made: int = 0

    def request(
        self, uri: str, method: str = "GET", body: Any = None, headers: Any = None, **_: Any
    ) -> tuple[httplib2.Response, bytes]:
        parts = urlsplit(uri)
        sent = Sent(method, unquote(parts.path), parse_qs(parts.query), json.loads(body or "null"))
        self.requests.append(sent)
        if self.failures:
            status, reason = self.failures.pop(0)
            error = {"code": status, "message": reason, "errors": [{"reason": reason}]}
            return _answer(status, {"error": error})
        return self._answer(sent)

    def _answer(self, sent: Sent) -> tuple[httplib2.Response, bytes]:
        found = re.fullmatch(r"/calendar/v3/calendars/([^/]+)/events(?:/(.+))?", sent.path)
        assert found, sent.path
        calendar, tail = found.group(1), found.group(2)
        if sent.method == "GET" and tail is None:
            return _answer(200, {"items": self._list(calendar, sent.query)})
        if sent.method == "POST" and tail == "import":
            return _answer(200, self._import(calendar, sent.body))
        event = self.events.get(tail or "")
        if event is None or (event["status"] == "cancelled" and sent.method == "DELETE"):
            return _answer(404 if event is None else 410, {"error": {"code": 404, "errors": []}})
        if sent.method == "PATCH":
            event.update(sent.body)
            return _answer(200, event)
        if sent.method == "DELETE":
            event["status"] = "cancelled"
            return _answer(204, None)
        raise AssertionError(f"unexpected request {sent}")

    def _list(self, calendar: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        key, _, value = query["privateExtendedProperty"][0].partition("=")
        since = dt.datetime.fromisoformat(query["timeMin"][0])
        return [
            event
            for event in self.events.values()
            if event["calendar"] == calendar
            and event.get("extendedProperties", {}).get("private", {}).get(key) == value
            and dt.datetime.fromisoformat(event["end"]["dateTime"]) > since
            and (event["status"] != "cancelled" or query.get("showDeleted") == ["true"])
        ]

    def _import(self, calendar: str, body: dict[str, Any]) -> dict[str, Any]:
        for event in self.events.values():
            if event["calendar"] == calendar and event["iCalUID"] == body["iCalUID"]:
                event.update(body)
                return event
        self.made += 1
        event = {**body, "id": f"ev{self.made}", "calendar": calendar}
        self.events[event["id"]] = event
        return event

    def calls(self) -> list[tuple[str, str]]:
        """(method, what) of each request, the calendar left out: ("PATCH", "ev1")."""
        return [(r.method, r.path.rpartition("/events")[2].lstrip("/")) for r in self.requests]

    def of(self, uid: str, calendar: str = NETWORK) -> dict[str, Any]:
        found = self.events.values()
        return next(e for e in found if e["iCalUID"] == uid and e["calendar"] == calendar)


def _answer(status: int, body: Any) -> tuple[httplib2.Response, bytes]:
    content = b"" if body is None else json.dumps(body).encode()
    return httplib2.Response({"status": str(status)}), content


@dataclass
class Mirror:
    context: Context
    google: FakeGoogle
    sleeps: list[float]

    def run(self) -> Any:
        self.google.requests.clear()
        return mirror(self.context, self.client)

    def client(self, context: Context) -> GoogleCalendar:
        meter = DatabaseMeter(context.database, context.clock, "google-calendar", 20000)
        return GoogleCalendar(
            build_service(self.google), meter, sleep=self.sleeps.append, clock=context.clock
        )


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Mirror]:
    settings = make_settings(
        tmp_path,
        VCS_BASE_URL="https://tikls.example.lv",
        VCS_SESSIONS_HORIZON_DAYS="35",
        VCS_GOOGLE_CALENDAR_NETWORK=NETWORK,
        VCS_GOOGLE_CALENDAR_REGIONS=f"vidzeme={VIDZEME_CALENDAR}",
        VCS_GOOGLE_CALENDAR_TOKEN_FILE=str(tmp_path / "no-token.json"),
    )
    context = Context.from_settings(settings, clock=FixedClock(DEC_1))
    initialise(context)
    import_entries(context, tmp_path, national(), vidzeme())
    yield Mirror(context, FakeGoogle(), [])
    context.close()


def december_10(setup: Mirror) -> int:
    return session_id(setup.context, NATIONAL, "2026-12-10")


def uid_of(setup: Mirror, session: int) -> str:
    with setup.context.database.session() as db:
        return db.get_one(Session, session).uid


def row_of(setup: Mirror, session: int, calendar: str = NETWORK) -> CalendarEvent:
    with setup.context.database.session() as db:
        row = db.scalars(
            select(CalendarEvent).where(
                CalendarEvent.session_id == session, CalendarEvent.calendar_id == calendar
            )
        ).one()
        db.expunge(row)
        return row


# -- create ------------------------------------------------------------------------------------


def test_a_new_session_is_imported_by_its_uid_after_one_look_at_the_calendar(
    setup: Mirror,
) -> None:
    report = setup.run()

    national_uid = uid_of(setup, december_10(setup))
    network = [r for r in setup.google.requests if NETWORK in r.path]
    listing, *imports = network
    assert (listing.method, listing.path) == ("GET", EVENTS)
    insert = next(r for r in imports if r.body["iCalUID"] == national_uid)
    assert listing.query["privateExtendedProperty"] == ["vcs=tikls.example.lv"]
    assert listing.query["showDeleted"] == ["true"]
    assert listing.query["timeMin"] == ["2026-12-01T09:00:00Z"]
    assert (insert.method, insert.path) == ("POST", f"{EVENTS}/import")
    body = insert.body
    assert body["iCalUID"] == national_uid
    assert body["summary"] == "Jaunatnes lietu speciālistu videokonferences"
    assert body["start"] == {"dateTime": "2026-12-10T10:00:00+02:00", "timeZone": "Europe/Riga"}
    assert body["end"] == {"dateTime": "2026-12-10T11:30:00+02:00", "timeZone": "Europe/Riga"}
    assert body["status"] == "confirmed"
    assert body["visibility"] == "public"
    assert body["extendedProperties"] == {"private": {"vcs": "tikls.example.lv"}}
    assert f"https://tikls.example.lv/sessions/{december_10(setup)}" in body["description"]
    assert body["source"]["url"] == f"https://tikls.example.lv/sessions/{december_10(setup)}"
    # The network calendar holds every public session (both); the region's its own and the national.
    assert [r.method for r in imports] == ["POST", "POST"]
    assert report.created == 4
    row = row_of(setup, december_10(setup))
    assert (row.event_id, row.status, row.audience) == ("ev1", "created", "network")


def test_the_region_calendar_holds_its_meetings_and_the_national_sessions(setup: Mirror) -> None:
    setup.run()

    events = setup.google.events.values()
    in_vidzeme = {e["iCalUID"] for e in events if e["calendar"] == VIDZEME_CALENDAR}
    meeting = session_id(setup.context, VIDZEME, "2026-12-30")
    assert in_vidzeme == {uid_of(setup, december_10(setup)), uid_of(setup, meeting)}
    assert row_of(setup, meeting, VIDZEME_CALENDAR).audience == "region:vidzeme"


def test_a_second_run_with_nothing_changed_only_looks(setup: Mirror) -> None:
    setup.run()

    report = setup.run()

    assert setup.google.calls() == [("GET", ""), ("GET", "")]
    assert str(report) == "all in line"


def test_a_run_that_died_before_recording_the_import_leaves_one_event(setup: Mirror) -> None:
    setup.run()
    with setup.context.database.session() as db:
        for row in db.scalars(select(CalendarEvent)):
            db.delete(row)

    setup.run()

    assert len(setup.google.events) == 4


# -- change ------------------------------------------------------------------------------------


def test_a_moved_session_is_patched_in_place_at_once(setup: Mirror) -> None:
    setup.run()
    first = december_10(setup)
    event_id = row_of(setup, first).event_id
    later = dt.datetime(2026, 12, 11, 12, 0, tzinfo=dt.UTC)
    edit(setup.context, first, lambda db, s: sessions.move(db, s, later, "test"))

    report = setup.run()

    patches = [r for r in setup.google.requests if r.method == "PATCH"]
    assert [r.path for r in patches] == [
        f"{EVENTS}/{event_id}",
        f"/calendar/v3/calendars/{VIDZEME_CALENDAR}/events/ev3",
    ]
    assert patches[0].query["sendUpdates"] == ["none"]
    assert patches[0].body["start"]["dateTime"] == "2026-12-11T14:00:00+02:00"
    assert "iCalUID" not in patches[0].body
    assert report.updated == 2
    moved = setup.google.of(uid_of(setup, first))
    assert moved["start"]["dateTime"] == "2026-12-11T14:00:00+02:00"
    with setup.context.database.session() as db:
        assert row_of(setup, first).synced_revision == db.get_one(Session, first).revision


def test_a_cancelled_session_deletes_its_event_once(setup: Mirror) -> None:
    setup.run()
    first = december_10(setup)
    edit(setup.context, first, lambda db, s: sessions.cancel(db, s, "Lektore saslima", "test"))

    report = setup.run()
    again = setup.run()

    assert report.cancelled == 2
    assert setup.google.of(uid_of(setup, first))["status"] == "cancelled"
    assert row_of(setup, first).status == "cancelled"
    assert again.cancelled == 0
    assert [m for m, _ in setup.google.calls()] == ["GET", "GET"]


def test_a_reinstated_session_comes_back_to_the_calendar(setup: Mirror) -> None:
    setup.run()
    first = december_10(setup)
    edit(setup.context, first, lambda db, s: sessions.cancel(db, s, "Telpa aizņemta", "test"))
    setup.run()
    edit(setup.context, first, lambda db, s: sessions.reinstate(db, s, "test"))

    setup.run()

    assert setup.google.of(uid_of(setup, first))["status"] == "confirmed"
    assert row_of(setup, first).status == "created"


def test_a_session_made_members_only_leaves_the_public_calendar(setup: Mirror) -> None:
    setup.run()
    with setup.context.database.session() as db:
        db.get_one(Session, december_10(setup)).series.visibility = "members"

    report = setup.run()

    assert ("DELETE", "ev1") in setup.google.calls()
    assert setup.google.of(uid_of(setup, december_10(setup)))["status"] == "cancelled"
    assert report.cancelled == 2


# -- repair ------------------------------------------------------------------------------------


def test_an_event_edited_by_hand_is_put_back(setup: Mirror) -> None:
    setup.run()
    event = setup.google.events["ev1"]
    wanted = dict(event)
    event["summary"] = "Atcelts?"
    event["start"] = {"dateTime": "2026-12-10T12:00:00+02:00", "timeZone": "Europe/Riga"}

    report = setup.run()

    assert ("PATCH", "ev1") in setup.google.calls()
    assert event["summary"] == wanted["summary"]
    assert event["start"]["dateTime"] == "2026-12-10T10:00:00+02:00"
    assert report.repaired == 1


def test_an_event_deleted_by_hand_is_restored(setup: Mirror) -> None:
    setup.run()
    setup.google.events["ev1"]["status"] = "cancelled"

    report = setup.run()

    assert ("PATCH", "ev1") in setup.google.calls()
    assert setup.google.events["ev1"]["status"] == "confirmed"
    assert report.repaired == 1


def test_an_event_purged_by_hand_is_imported_again(setup: Mirror) -> None:
    setup.run()
    uid = setup.google.events.pop("ev1")["iCalUID"]

    report = setup.run()

    assert ("POST", "import") in setup.google.calls()
    assert setup.google.of(uid)["id"] == "ev5"
    assert row_of(setup, december_10(setup)).event_id == "ev5"
    assert report.repaired == 1


def test_a_patch_of_an_event_gone_for_good_imports_it_again(setup: Mirror) -> None:
    setup.run()
    first = december_10(setup)
    edit(
        setup.context,
        first,
        lambda db, s: sessions.move(db, s, dt.datetime(2026, 12, 11, 8, tzinfo=dt.UTC), "test"),
    )
    # Listed a moment ago, purged before the patch.
    original = setup.google._answer

    def purge_then_answer(sent: Sent) -> Any:
        if sent.method == "PATCH" and sent.path.endswith("/ev1"):
            setup.google.events.pop("ev1", None)
        return original(sent)

    setup.google._answer = purge_then_answer  # type: ignore[method-assign]

    setup.run()

    moved = setup.google.of(uid_of(setup, first))
    assert moved["start"]["dateTime"] == "2026-12-11T10:00:00+02:00"


# -- faults ------------------------------------------------------------------------------------


def test_quota_exceeded_blocks_the_mirror_until_googles_reset(setup: Mirror) -> None:
    setup.google.failures = [(403, "quotaExceeded")]

    report = setup.run()

    with setup.context.database.session() as db:
        health = db.get_one(ProviderHealth, "google-calendar")
        assert health.state == "quota"
        assert health.until == next_reset(DEC_1)
    assert report.blocked
    assert len(setup.google.requests) == 1
    setup.run()
    assert setup.google.requests == []
    setup.context.clock = FixedClock(next_reset(DEC_1) + dt.timedelta(minutes=1))
    assert setup.run().created == 4


def test_requests_are_counted_per_quota_day(setup: Mirror) -> None:
    setup.run()

    with setup.context.database.session() as db:
        usage = db.scalars(select(QuotaUsage).where(QuotaUsage.provider == "google-calendar")).one()
    # Two listings and four imports.
    assert usage.units == 6


def test_a_5xx_is_retried_with_backoff_and_then_passes(setup: Mirror) -> None:
    setup.google.failures = [(503, "backendError")]

    report = setup.run()

    assert setup.sleeps == [1]
    assert report.created == 4


def test_an_event_that_keeps_failing_waits_before_it_is_tried_again(setup: Mirror) -> None:
    # The network listing passes; its import fails three times.
    original = setup.google._answer
    failing = {"left": 3}

    def fail_imports(sent: Sent) -> Any:
        if sent.path == f"{EVENTS}/import" and failing["left"]:
            failing["left"] -= 1
            return _answer(500, {"error": {"code": 500, "errors": [{"reason": "backendError"}]}})
        return original(sent)

    setup.google._answer = fail_imports  # type: ignore[method-assign]

    with pytest.raises(MirrorError, match="gave up after 3 attempts"):
        setup.run()

    row = row_of(setup, december_10(setup))
    assert row.error_count == 1
    assert row.next_attempt_at == DEC_1 + dt.timedelta(seconds=60)
    assert setup.sleeps == [1, 2]
    # The region's calendar went on regardless.
    assert row_of(setup, december_10(setup), VIDZEME_CALENDAR).status == "created"
    report = setup.run()
    assert report.waiting == 1
    setup.context.clock = FixedClock(DEC_1 + dt.timedelta(minutes=2))
    assert setup.run().created == 1


def test_revoked_credentials_stop_the_mirror_and_name_the_fix(setup: Mirror) -> None:
    setup.google.failures = [(401, "authError")]

    report = setup.run()

    with setup.context.database.session() as db:
        health = db.get_one(ProviderHealth, "google-calendar")
        assert health.state == "revoked"
        assert health.fix_command == "vcs google auth --calendar"
    assert report.blocked
    setup.run()
    assert setup.google.requests == []


def test_a_calendar_not_shared_with_the_account_is_reported_as_credentials(setup: Mirror) -> None:
    setup.google.failures = [(403, "requiredAccessLevel")]

    setup.run()

    with setup.context.database.session() as db:
        health = db.get_one(ProviderHealth, "google-calendar")
        assert health.state == "revoked"
        assert "share the calendar" in health.fix_command


def test_without_a_token_the_mirror_is_blocked_until_vcs_google_auth_calendar(
    setup: Mirror,
) -> None:
    report = mirror(setup.context, default_client)

    with setup.context.database.session() as db:
        health = db.get_one(ProviderHealth, "google-calendar")
        assert health.state == "revoked"
        assert "no-token.json" in health.message
    assert report.blocked


def test_without_calendars_set_nothing_is_asked(tmp_path: Path) -> None:
    context = Context.from_settings(make_settings(tmp_path), clock=FixedClock(DEC_1))
    initialise(context)
    google = FakeGoogle()

    report = mirror(context, lambda ctx: GoogleCalendar(build_service(google), MemoryMeter()))

    assert google.requests == []
    assert "no Google calendars set" in str(report)
    context.close()


# -- the subscribe box -------------------------------------------------------------------------


def test_the_subscribe_box_offers_the_mirrored_google_calendar_first(setup: Mirror) -> None:
    client = browse(setup.context)

    home = client.get("/").text
    region = client.get("/regions/vidzeme").text

    first = re.compile(r'<ul class="subscribe__links">\s*<li><a href="([^"]+)"')
    home_link = first.search(home)
    region_link = first.search(region)
    assert home_link and region_link
    assert home_link.group(1) == (
        "https://calendar.google.com/calendar/r?cid=tikls%40group.calendar.google.com"
    )
    assert region_link.group(1) == (
        "https://calendar.google.com/calendar/r?cid=vidzeme%40group.calendar.google.com"
    )
    assert "(izmaiņas redzamas uzreiz)" in home


# -- signing in --------------------------------------------------------------------------------


def test_vcs_google_auth_calendar_asks_only_for_calendar_events_and_unblocks_the_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "VCS_LIVESTREAM_GOOGLE_CLIENT_SECRETS": str(tmp_path / "google" / "client.json"),
        "VCS_LIVESTREAM_GOOGLE_TOKEN_FILE": str(tmp_path / "google" / "youtube.json"),
        "VCS_GOOGLE_CALENDAR_TOKEN_FILE": str(tmp_path / "google" / "calendar.json"),
        "VCS_GOOGLE_CALENDAR_NETWORK": NETWORK,
    }
    client_file = tmp_path / "google" / "client.json"
    client_file.parent.mkdir()
    client_file.write_text('{"installed": {}}', encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env=isolated_environ(tmp_path, **files)).exit_code == 0
    context = Context.from_settings(make_settings(tmp_path, **files), clock=FixedClock(DEC_1))
    mirror(context, default_client)  # no token yet: blocked as revoked
    asked: list[list[str]] = []

    def flow(secrets: Path, scopes: Any, browser: bool) -> Credentials:
        asked.append(list(scopes))
        return Credentials(
            token="access",
            refresh_token="refresh-me",
            token_uri="https://oauth2.googleapis.com/token",
            client_id="client-id.apps.googleusercontent.com",
            client_secret="client-secret",
            scopes=list(scopes),
        )

    monkeypatch.setattr(google_auth, "run_installed_app_flow", flow)

    result = runner.invoke(
        cli,
        ["google", "auth", "--calendar", "--no-browser"],
        env=isolated_environ(tmp_path, **files),
    )

    assert result.exit_code == 0, result.output
    assert asked == [["https://www.googleapis.com/auth/calendar.events"]]
    calendar_token = tmp_path / "google" / "calendar.json"
    assert stat.S_IMODE(calendar_token.stat().st_mode) == 0o600
    assert not (tmp_path / "google" / "youtube.json").exists()
    with context.database.session() as db:
        assert db.get_one(ProviderHealth, "google-calendar").state == "ok"
    status = runner.invoke(
        cli, ["google-calendar", "status"], env=isolated_environ(tmp_path, **files)
    )
    assert status.output.splitlines() == [
        "google-calendar: ok, 0 of 20000 requests today",
        f"network              {NETWORK}: 0 events, 0 cancelled, 0 failing",
    ]
    context.close()


# -- settings ----------------------------------------------------------------------------------


def test_region_calendars_are_a_table_in_the_settings_file(tmp_path: Path) -> None:
    override = tmp_path / "override.toml"
    override.write_text(
        '[google_calendar]\nnetwork = "n@group.calendar.google.com"\n'
        'regions = { kurzeme = "k@group.calendar.google.com", latgale = "" }\n',
        encoding="utf-8",
    )

    settings = make_settings(tmp_path, VCS_CONFIG=str(override))

    assert settings.google_calendar.calendars == {
        "network": "n@group.calendar.google.com",
        "region:kurzeme": "k@group.calendar.google.com",
    }


def test_a_calendar_id_that_is_not_one_names_the_region(tmp_path: Path) -> None:
    where = r"google_calendar.regions \(VCS_GOOGLE_CALENDAR_REGIONS\)"
    with pytest.raises(ConfigError, match=where + ": kurzeme: not a calendar id"):
        make_settings(tmp_path, VCS_GOOGLE_CALENDAR_REGIONS="kurzeme=kurzemes-kalendars")
