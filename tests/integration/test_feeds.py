"""Calendar feeds, read back the way calendar apps read them.

Every feed is parsed with icalendar and with vobject (an independent parser), expanded with
recurring-ical-events, and compared with the sessions in the database.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
import vobject
from httpx import Response
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.factories import (
    MEMBERS,
    NATIONAL,
    VIDZEME,
    browse,
    edit,
    import_entries,
    members_only,
    national,
    session_id,
    vidzeme,
)
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.planning import sessions
from vcs.planning.series import SeriesSpec, import_series
from vcs.storage.models import Member, Region, Series, Session
from vcs.web.app import create_app

RIGA = ZoneInfo("Europe/Riga")
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def spec(**overrides: object) -> SeriesSpec:
    values: dict[str, object] = {
        "slug": "vk",
        "title_lv": "Jaunatnes lietu speciālistu videokonferences",
        "title_en": "Youth work videoconferences",
        "rrule": "FREQ=MONTHLY;BYDAY=2TH",
        "start_local": dt.datetime.fromisoformat("2026-12-10T10:00"),
        "timezone": "Europe/Riga",
        "duration_minutes": 90,
        "organiser_name": "Jaunatnes lietu atbalsta tīkls",
        "organiser_email": "tikls@example.lv",
        "tags": ["jaunatnes politika"],
    }
    values.update(overrides)
    return SeriesSpec(**values)  # type: ignore[arg-type]


def network(context: Context) -> TestClient:
    """The demo-like network: a national series, a Vidzeme one, a members-only one."""
    context.clock = FixedClock(NOW)
    import_series(
        context,
        [
            spec(),
            spec(
                slug="vidzeme",
                title_lv="Vidzemes tikšanās",
                rrule="FREQ=MONTHLY;BYDAY=-1WE",
                start_local=dt.datetime.fromisoformat("2026-12-30T13:00"),
                region="vidzeme",
                place={"kind": "hybrid", "venue": "Jauniešu centrs", "address": "Rīgas iela 10"},
            ),
            spec(slug="iekseja", title_lv="Tikai biedriem", visibility="members"),
        ],
        actor="test",
    )
    return TestClient(create_app(context))


def start_of(context: Context, slug: str, local: str) -> Session:
    start = dt.datetime.fromisoformat(local).replace(tzinfo=RIGA)
    with context.database.session() as db:
        return db.scalars(
            select(Session).join(Session.series).where(Series.slug == slug, Session.start == start)
        ).one()


def events(body: bytes) -> list[icalendar.Event]:
    return list(icalendar.Calendar.from_ical(body).walk("VEVENT"))


def db_sessions(
    context: Context, public: bool = True, region: str | None = None
) -> set[tuple[str, dt.datetime]]:
    with context.database.session() as db:
        found = sessions.between(
            db, NOW - dt.timedelta(days=365), None, region=region, public_only=public
        )
        return {(s.uid, s.start) for s in found if s.status == "scheduled"}


def live_occurrences(body: bytes) -> set[tuple[str, dt.datetime]]:
    calendar = icalendar.Calendar.from_ical(body)
    found = recurring_ical_events.of(calendar).between(
        NOW - dt.timedelta(days=400), NOW + dt.timedelta(days=800)
    )
    return {
        (str(e["UID"]), e["DTSTART"].dt.astimezone(dt.UTC))
        for e in found
        if str(e.get("STATUS")) != "CANCELLED"
    }


def test_the_network_feed_holds_exactly_the_public_sessions_across_summer_time(
    context: Context,
) -> None:
    client = network(context)
    moved = start_of(context, "vk", "2027-01-14T10:00")
    cancelled = start_of(context, "vk", "2027-02-11T10:00")
    with context.database.session() as db:
        sessions.move(
            db, sessions.get(db, moved.id), dt.datetime(2027, 1, 15, 12, 0, tzinfo=RIGA), "staff"
        )
        sessions.cancel(db, sessions.get(db, cancelled.id), "Lektore saslima", "staff")

    body = client.get("/calendar.ics").content
    assert live_occurrences(body) == db_sessions(context)
    by_uid = {str(e["UID"]): e for e in events(body)}
    assert by_uid[moved.uid]["DTSTART"].dt == dt.datetime(2027, 1, 15, 12, 0, tzinfo=RIGA)
    assert by_uid[cancelled.uid]["STATUS"] == "CANCELLED"
    assert str(by_uid[cancelled.uid]["SUMMARY"]).startswith("Atcelta: ")
    summer = start_of(context, "vk", "2027-04-08T10:00")
    assert by_uid[summer.uid]["DTSTART"].dt.utcoffset() == dt.timedelta(hours=3)
    assert by_uid[summer.uid]["DTSTART"].params["TZID"] == "Europe/Riga"
    assert all("DTEND" in e for e in events(body)), "an event without an end"


def test_an_independent_parser_reads_the_same_events(context: Context) -> None:
    body = network(context).get("/calendar.ics").content
    parsed = vobject.readOne(body.decode("utf-8"))
    found = {(e.uid.value, e.dtstart.value.astimezone(dt.UTC)) for e in parsed.vevent_list}
    assert found == db_sessions(context)
    assert {e.dtstart.value.utcoffset() for e in parsed.vevent_list} == {
        dt.timedelta(hours=2),
        dt.timedelta(hours=3),
    }


# -- every feed kind, read back by two parsers across the clock change ------------------------

# December to May: Riga moves its clocks from +02:00 to +03:00 on Sunday 28 March 2027.
DECEMBER_TO_MAY = (dt.datetime(2026, 12, 1, tzinfo=RIGA), dt.datetime(2027, 6, 1, tzinfo=RIGA))
FEED_KINDS = ["network", "series", "region", "moved session", "cancelled session", "member"]
# UID, then start and end as a calendar app shows them: wall clock with the offset in force.
Occurrence = tuple[str, str, str]


@dataclass(frozen=True)
class FactoryNetwork:
    """The factory series, a member who follows two of them, and the sessions staff will change."""

    moved: int
    cancelled: int
    token: str


def factory_network(context: Context, tmp_path: Path) -> tuple[TestClient, FactoryNetwork]:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national(), vidzeme(), members_only())
    with context.database.session() as db:
        followed = db.scalars(select(Series).where(Series.slug.in_([NATIONAL, MEMBERS]))).all()
        member = Member(
            email="anna@example.lv",
            name="Anna",
            status="active",
            feed_token=secrets.token_urlsafe(24),
            follows_all=False,
            followed_series=list(followed),
        )
        db.add(member)
        token = member.feed_token
    # 11 March is in winter time; the session moves past the clock change, to 30 March.
    moved = session_id(context, NATIONAL, "2027-03-11")
    cancelled = session_id(context, NATIONAL, "2027-02-11")
    return browse(context), FactoryNetwork(moved, cancelled, token)


def move_and_cancel(context: Context, network: FactoryNetwork) -> None:
    later = dt.datetime(2027, 3, 30, 12, 0, tzinfo=RIGA)
    edit(context, network.moved, lambda db, s: sessions.move(db, s, later, "staff"))
    edit(context, network.cancelled, lambda db, s: sessions.cancel(db, s, "Slimība", "staff"))


def feed_path(kind: str, network: FactoryNetwork) -> str:
    return {
        "network": "/calendar.ics",
        "series": f"/series/{NATIONAL}.ics",
        "region": "/regions/vidzeme.ics",
        "moved session": f"/sessions/{network.moved}.ics",
        "cancelled session": f"/sessions/{network.cancelled}.ics",
        "member": f"/feeds/{network.token}.ics",
    }[kind]


def in_database(
    context: Context, kind: str, network: FactoryNetwork
) -> tuple[set[Occurrence], set[Occurrence]]:
    """The sessions a feed of this kind should hold from December to May: live, cancelled."""
    start, end = DECEMBER_TO_MAY
    with context.database.session() as db:
        found: list[Session] = []
        if kind == "network":
            found += sessions.between(db, start, end)
        elif kind == "series":
            found += sessions.between(db, start, end, series=NATIONAL)
        elif kind == "region":
            found += sessions.between(db, start, end, region="vidzeme")
        elif kind == "moved session":
            found.append(sessions.get(db, network.moved))
        elif kind == "cancelled session":
            found.append(sessions.get(db, network.cancelled))
        elif kind == "member":
            found += sessions.between(db, start, end, series=NATIONAL)
            found += sessions.between(db, start, end, series=MEMBERS, public_only=False)
        rows = {
            (s.uid, s.start.astimezone(RIGA).isoformat(), s.end.astimezone(RIGA).isoformat()): s
            for s in found
        }
    live = {row for row, s in rows.items() if s.status == "scheduled"}
    return live, {row for row, s in rows.items() if s.status == "cancelled"}


def read_with_icalendar(body: bytes) -> tuple[set[Occurrence], set[Occurrence]]:
    """Occurrences from December to May as recurring-ical-events expands them: live, cancelled."""
    calendar = icalendar.Calendar.from_ical(body)
    live: set[Occurrence] = set()
    cancelled: set[Occurrence] = set()
    for event in recurring_ical_events.of(calendar).between(*DECEMBER_TO_MAY):
        found = (str(event["UID"]), event["DTSTART"].dt.isoformat(), event["DTEND"].dt.isoformat())
        (cancelled if event.get("STATUS") == "CANCELLED" else live).add(found)
    return live, cancelled


def vobject_events(body: bytes) -> list[Any]:
    return list(vobject.readOne(body.decode("utf-8")).contents.get("vevent", []))


def read_with_vobject(body: bytes) -> tuple[set[Occurrence], set[Occurrence]]:
    """The same, read by vobject, which takes the offsets from the feed's own VTIMEZONE."""
    start, end = DECEMBER_TO_MAY
    live: set[Occurrence] = set()
    cancelled: set[Occurrence] = set()
    for event in vobject_events(body):
        if event.dtstart.value < end and event.dtend.value > start:
            found = (
                event.uid.value,
                event.dtstart.value.isoformat(),
                event.dtend.value.isoformat(),
            )
            (cancelled if event.status.value == "CANCELLED" else live).add(found)
    return live, cancelled


def uids_of(context: Context, slug: str) -> set[str]:
    with context.database.session() as db:
        return {s.uid for s in sessions.between(db, series=slug, public_only=False)}


def uid_of(context: Context, session: int) -> str:
    with context.database.session() as db:
        return sessions.get(db, session).uid


@pytest.mark.parametrize("kind", FEED_KINDS)
def test_every_feed_holds_the_database_sessions_for_both_parsers_across_the_clock_change(
    context: Context, tmp_path: Path, kind: str
) -> None:
    client, network = factory_network(context, tmp_path)
    move_and_cancel(context, network)
    body = client.get(feed_path(kind, network)).content
    live, cancelled = in_database(context, kind, network)
    assert read_with_icalendar(body) == (live, cancelled)
    assert read_with_vobject(body) == (live, cancelled)

    # The data really crosses the clock change, and the feeds really hold the changes.
    if kind not in ("moved session", "cancelled session"):
        assert {start[-6:] for _, start, _ in live} == {"+02:00", "+03:00"}
    moved = (uid_of(context, network.moved), "2027-03-30T12:00:00+03:00")
    holds_moved, holds_cancelled = kind != "cancelled session", kind != "moved session"
    assert any(row[:2] == moved for row in live) is holds_moved
    assert bool(cancelled) is holds_cancelled

    # Both parsers read the same events from the whole feed, not only from December to May.
    by_icalendar = {
        (str(e["UID"]), int(e["SEQUENCE"]), str(e["STATUS"]), e["DTSTART"].dt.isoformat())
        for e in events(body)
    }
    by_vobject = {
        (e.uid.value, int(e.sequence.value), e.status.value, e.dtstart.value.isoformat())
        for e in vobject_events(body)
    }
    assert by_icalendar == by_vobject
    # A members-only series is in its followers' feed and in no public one.
    members_only_uids = uids_of(context, MEMBERS) & {uid for uid, *_ in by_icalendar}
    assert bool(members_only_uids) == (kind == "member")


@pytest.mark.parametrize("kind", FEED_KINDS)
def test_in_every_feed_a_moved_session_keeps_its_uid_and_a_cancelled_one_is_marked(
    context: Context, tmp_path: Path, kind: str
) -> None:
    client, network = factory_network(context, tmp_path)
    path = feed_path(kind, network)
    before = {e["DTSTART"].dt: e for e in events(client.get(path).content)}
    move_and_cancel(context, network)
    after = events(client.get(path).content)
    by_uid = {str(e["UID"]): e for e in after}
    assert len(by_uid) == len(after), "one VEVENT per session"

    if kind != "cancelled session":
        old = before[dt.datetime(2027, 3, 11, 10, 0, tzinfo=RIGA)]
        moved = by_uid[str(old["UID"])]
        assert moved["DTSTART"].dt.isoformat() == "2027-03-30T12:00:00+03:00"
        assert moved["DTEND"].dt.isoformat() == "2027-03-30T13:30:00+03:00"
        assert moved["DTSTART"].params["TZID"] == "Europe/Riga"
        assert int(moved["SEQUENCE"]) > int(old["SEQUENCE"])
        assert moved["STATUS"] == "CONFIRMED"
    if kind != "moved session":
        # docs/calendar-feeds.md: it stays until its date, marked so no client shows it as live.
        old = before[dt.datetime(2027, 2, 11, 10, 0, tzinfo=RIGA)]
        gone = by_uid[str(old["UID"])]
        assert gone["DTSTART"].dt == old["DTSTART"].dt
        assert int(gone["SEQUENCE"]) > int(old["SEQUENCE"])
        assert gone["STATUS"] == "CANCELLED"
        assert gone["TRANSP"] == "TRANSPARENT"
        assert str(gone["SUMMARY"]).startswith("Atcelta: ")
        assert str(gone["DESCRIPTION"]).startswith("Atcelta: Slimība")


def test_a_series_feed_holds_exactly_that_series_and_bears_its_name(
    context: Context, tmp_path: Path
) -> None:
    client, _ = factory_network(context, tmp_path)
    titles = {
        NATIONAL: ("Jaunatnes lietu speciālistu videokonferences", "Youth work videoconferences"),
        VIDZEME: (
            "Vidzemes pieredzes apmaiņas tikšanās",
            "Vidzeme experience-sharing meetings",
        ),
    }
    everything = uids_of(context, NATIONAL) | uids_of(context, VIDZEME) | uids_of(context, MEMBERS)
    for slug, (latvian, english) in titles.items():
        body = client.get(f"/series/{slug}.ics").content
        held = {str(e["UID"]) for e in events(body)}
        assert held == uids_of(context, slug) != set()
        assert not held & (everything - uids_of(context, slug)), "another series' session"
        calendar = icalendar.Calendar.from_ical(body)
        assert calendar["NAME"] == calendar["X-WR-CALNAME"] == latvian
        calendar = icalendar.Calendar.from_ical(client.get(f"/series/{slug}.ics?lang=en").content)
        assert calendar["NAME"] == calendar["X-WR-CALNAME"] == english


def test_region_feeds_hold_national_sessions_and_that_regions_only(context: Context) -> None:
    client = network(context)
    vidzeme = client.get("/regions/vidzeme.ics").content
    assert live_occurrences(vidzeme) == db_sessions(context, region="vidzeme")
    kurzeme = client.get("/regions/kurzeme.ics").content
    assert live_occurrences(kurzeme) == db_sessions(context, region="kurzeme")
    assert len(live_occurrences(vidzeme)) > len(live_occurrences(kurzeme)) > 0
    assert client.get("/regions/nowhere.ics").status_code == 404


def test_members_only_series_stay_out_of_public_feeds(context: Context) -> None:
    client = network(context)
    for path in ("/calendar.ics", "/regions/vidzeme.ics"):
        assert b"Tikai biedriem" not in client.get(path).content
    assert client.get("/series/iekseja.ics").status_code == 404
    hidden = start_of(context, "iekseja", "2026-12-10T10:00")
    assert client.get(f"/sessions/{hidden.id}.ics").status_code == 404


def add_member(context: Context, **values: object) -> Member:
    with context.database.session() as db:
        member = Member(
            email=f"{secrets.token_hex(4)}@example.lv",
            name="Anna Bērziņa",
            status="active",
            feed_token=secrets.token_urlsafe(24),
            **values,
        )
        db.add(member)
        return member


def test_a_personal_feed_holds_what_the_member_follows_and_nothing_else(context: Context) -> None:
    client = network(context)
    with context.database.session() as db:
        vidzeme = db.scalars(select(Region).where(Region.slug == "vidzeme")).one()
        internal = db.scalars(select(Series).where(Series.slug == "iekseja")).one()
        member = Member(
            email="anna@example.lv",
            name="Anna",
            status="active",
            feed_token=secrets.token_urlsafe(24),
            follows_all=False,
            followed_series=[internal],
        )
        db.add(member)
        token = member.feed_token
    response = client.get(f"/feeds/{token}.ics")
    assert response.headers["cache-control"].startswith("private")
    assert response.headers["referrer-policy"] == "no-referrer"
    with context.database.session() as db:
        wanted = {
            (s.uid, s.start) for s in sessions.between(db, series="iekseja", public_only=False)
        }
    assert live_occurrences(response.content) == wanted

    with context.database.session() as db:
        member = db.scalars(select(Member).where(Member.feed_token == token)).one()
        member.followed_series = []
        member.followed_regions = [vidzeme]
    following_region = client.get(f"/feeds/{token}.ics").content
    # Members see members-only national series too; never another region's meetings.
    assert live_occurrences(following_region) == db_sessions(
        context, public=False, region="vidzeme"
    )


def test_a_rotated_feed_token_stops_working(context: Context) -> None:
    client = network(context)
    member = add_member(context)
    assert client.get(f"/feeds/{member.feed_token}.ics").status_code == 200
    with context.database.session() as db:
        db.scalars(select(Member).where(Member.id == member.id)).one().feed_token = (
            "new-" + secrets.token_urlsafe(8)
        )
    assert client.get(f"/feeds/{member.feed_token}.ics").status_code == 404


def test_lines_end_in_crlf_and_fold_at_75_octets_without_splitting_a_letter(
    context: Context,
) -> None:
    client = network(context)
    target = start_of(context, "vk", "2026-12-10T10:00")
    with context.database.session() as db:
        sessions.update_details(
            db,
            sessions.get(db, target.id),
            "staff",
            topic_lv="Jauniešu līdzdalība pašvaldību lēmumos: ūdeņi, ķērpji, ģērbšanās un šķūņi "
            * 3,
        )
    body = client.get("/calendar.ics").content
    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")
    for line in body.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")  # a character split over two lines would not decode


def test_text_values_are_escaped_and_read_back_intact(context: Context) -> None:
    client = network(context)
    target = start_of(context, "vk", "2026-12-10T10:00")
    # A topic is one line (vcs/text.py); the line break goes into the description.
    tricky = "Komati, semikoli; slīpsvītra \\ un"
    lines = "Pirmā rinda;\njauna rinda"
    with context.database.session() as db:
        sessions.update_details(
            db, sessions.get(db, target.id), "staff", topic_lv=tricky, description_lv=lines
        )
    body = client.get("/calendar.ics").content
    unfolded = body.replace(b"\r\n ", b"").decode()
    assert "Komati\\, semikoli\\; slīpsvītra \\\\ un" in unfolded
    assert "Pirmā rinda\\;\\njauna rinda" in unfolded
    event = next(e for e in events(body) if str(e["UID"]) == target.uid)
    assert str(event["SUMMARY"]).endswith(": " + tricky)
    assert str(event["DESCRIPTION"]).startswith(tricky)
    assert lines in str(event["DESCRIPTION"])


def test_every_tzid_has_a_vtimezone_with_the_real_offsets(context: Context) -> None:
    body = network(context).get("/calendar.ics").content
    calendar = icalendar.Calendar.from_ical(body)
    used = set(re.findall(rb"TZID=([^:;]+)", body))
    defined = {str(tz["TZID"]).encode() for tz in calendar.walk("VTIMEZONE")}
    assert used == defined == {b"Europe/Riga"}
    # lookup_tzid=False: build the zone from our VTIMEZONE, not from the TZID in zoneinfo.
    vtimezone = calendar.walk("VTIMEZONE")[0].to_tz(lookup_tzid=False)
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    while moment < dt.datetime(2028, 1, 1, tzinfo=dt.UTC):
        assert moment.astimezone(vtimezone).utcoffset() == moment.astimezone(RIGA).utcoffset(), (
            moment
        )
        moment += dt.timedelta(minutes=30)
    daylight = calendar.walk("VTIMEZONE")[0].walk("DAYLIGHT")[0]
    assert daylight["DTSTART"].dt.time() == dt.time(3, 0), "summer time starts at 03:00 in Riga"


def test_calendar_level_properties(context: Context) -> None:
    body = network(context).get("/calendar.ics").content
    calendar = icalendar.Calendar.from_ical(body)
    assert calendar["VERSION"] == "2.0"
    assert str(calendar["PRODID"]).startswith("-//vcs//")
    assert (
        calendar["NAME"] == calendar["X-WR-CALNAME"] == "Jaunatnes lietu speciālistu atbalsta tīkls"
    )
    assert calendar["DESCRIPTION"] == calendar["X-WR-CALDESC"]
    assert calendar["X-WR-TIMEZONE"] == "Europe/Riga"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in body
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in body


def test_event_properties(context: Context) -> None:
    client = network(context)
    hybrid = start_of(context, "vidzeme", "2026-12-30T13:00")
    body = client.get("/calendar.ics").content
    event = next(e for e in events(body) if str(e["UID"]) == hybrid.uid)
    assert event["LOCATION"] == "Jauniešu centrs, Rīgas iela 10"
    assert event["URL"] == f"http://127.0.0.1:8000/sessions/{hybrid.id}"
    assert event["ORGANIZER"] == "mailto:tikls@example.lv"
    assert event["ORGANIZER"].params["CN"] == "Jaunatnes lietu atbalsta tīkls"
    assert event["CATEGORIES"].cats == ["jaunatnes politika"]
    assert event["STATUS"] == "CONFIRMED"
    assert event["DTSTAMP"].dt == event["LAST-MODIFIED"].dt
    assert "CREATED" in event
    online = next(
        e for e in events(body) if "vk" not in str(e["URL"]) and e["LOCATION"].startswith("http")
    )
    assert online["LOCATION"] == online["URL"]


def test_uids_are_unique_stable_and_sequence_rises_with_every_change(context: Context) -> None:
    client = network(context)
    target = start_of(context, "vk", "2027-03-11T10:00")

    def event() -> icalendar.Event:
        body = client.get("/calendar.ics").content
        uids = [str(e["UID"]) for e in events(body)]
        assert len(uids) == len(set(uids))
        assert all(uid.endswith("@127.0.0.1") for uid in uids)
        return next(e for e in events(body) if str(e["UID"]) == target.uid)

    sequences = [int(event()["SEQUENCE"])]
    with context.database.session() as db:
        sessions.move(
            db, sessions.get(db, target.id), dt.datetime(2027, 3, 12, 10, tzinfo=RIGA), "staff"
        )
    sequences.append(int(event()["SEQUENCE"]))
    with context.database.session() as db:
        sessions.update_details(db, sessions.get(db, target.id), "staff", topic_lv="Jauna tēma")
    sequences.append(int(event()["SEQUENCE"]))
    with context.database.session() as db:
        sessions.cancel(db, sessions.get(db, target.id), "Slimība", "staff")
    final = event()
    sequences.append(int(final["SEQUENCE"]))
    assert sequences == sorted(set(sequences)), sequences
    assert final["STATUS"] == "CANCELLED"


def test_dtstamp_is_not_the_download_time(context: Context) -> None:
    client = network(context)
    first = client.get("/calendar.ics")
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(dt.timedelta(minutes=5))
    second = client.get("/calendar.ics")
    assert first.content == second.content
    assert first.headers["etag"] == second.headers["etag"]


def test_conditional_requests_get_304_until_something_changes(context: Context) -> None:
    client = network(context)
    first = client.get("/calendar.ics")
    assert first.status_code == 200
    assert first.headers["content-type"] == "text/calendar; charset=utf-8"
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert re.fullmatch(r'"[0-9a-f]{32}(-gz)?"', etag), "a strong ETag"
    assert "max-age=" in first.headers["cache-control"]

    again = client.get("/calendar.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert (
        client.get("/calendar.ics", headers={"If-None-Match": f'"other", {etag}'}).status_code
        == 304
    )
    assert client.get("/calendar.ics", headers={"If-Modified-Since": modified}).status_code == 304
    assert (
        client.get(
            "/calendar.ics", headers={"If-None-Match": '"other"', "If-Modified-Since": modified}
        ).status_code
        == 200
    )

    target = start_of(context, "vk", "2027-03-11T10:00")
    with context.database.session() as db:
        sessions.update_details(db, sessions.get(db, target.id), "staff", topic_lv="Jauna tēma")
    changed = client.get("/calendar.ics", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


def test_head_answers_with_the_headers_of_get_and_no_body(context: Context) -> None:
    client = network(context)
    for encoding in ("identity", "gzip"):
        with client.stream("GET", "/calendar.ics", headers={"Accept-Encoding": encoding}) as get:
            sent = b"".join(get.iter_raw())
        head = client.head("/calendar.ics", headers={"Accept-Encoding": encoding})
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(sent))
        assert head.headers["etag"] == get.headers["etag"]


def test_gzip_is_served_when_asked_and_unzips_to_the_plain_bytes(context: Context) -> None:
    client = network(context)
    plain = client.get("/calendar.ics", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding, Cookie"
    with client.stream("GET", "/calendar.ics", headers={"Accept-Encoding": "gzip"}) as zipped:
        sent = b"".join(zipped.iter_raw())  # the bytes on the wire, before httpx decodes them
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding, Cookie"
    assert gzip.decompress(sent) == plain.content
    assert int(zipped.headers["content-length"]) == len(sent) < len(plain.content)


def test_gzipped_and_plain_bytes_have_their_own_strong_etag_and_either_gets_a_304(
    context: Context,
) -> None:
    client = network(context)

    def get(encoding: str, held: str | None = None) -> Response:
        headers = {"Accept-Encoding": encoding} | ({"If-None-Match": held} if held else {})
        return client.get("/calendar.ics", headers=headers)

    plain, zipped = get("identity").headers["etag"], get("gzip").headers["etag"]
    # RFC 9110 8.8.3: two content codings are two representations, so two strong tags.
    assert re.fullmatch(r'"[0-9a-f]{32}"', plain)
    assert re.fullmatch(r'"[0-9a-f]{32}-gz"', zipped)
    assert plain != zipped
    for held in (plain, zipped):
        for encoding, tag in (("identity", plain), ("gzip", zipped)):
            answer = get(encoding, held)
            assert answer.status_code == 304, (held, encoding)
            assert answer.headers["etag"] == tag, "a 304 names what a 200 would have sent"

    target = start_of(context, "vk", "2027-03-11T10:00")
    with context.database.session() as db:
        sessions.update_details(db, sessions.get(db, target.id), "staff", topic_lv="Jauna tēma")
    for held in (plain, zipped):
        assert get("gzip", held).status_code == 200


def test_a_feed_is_built_once_per_change_not_per_request(context: Context) -> None:
    client = network(context)
    cache = client.app.state.feed_cache  # type: ignore[attr-defined]
    for _ in range(5):
        client.get("/calendar.ics")
    assert cache.builds == 1
    client.get("/calendar.ics?lang=en")
    assert cache.builds == 2
    target = start_of(context, "vk", "2027-03-11T10:00")
    with context.database.session() as db:
        sessions.cancel(db, sessions.get(db, target.id), "Slimība", "staff")
    for _ in range(3):
        client.get("/calendar.ics")
    assert cache.builds == 3


def test_english_feeds_speak_english(context: Context) -> None:
    client = network(context)
    body = client.get("/calendar.ics?lang=en").content
    calendar = icalendar.Calendar.from_ical(body)
    assert calendar["X-WR-CALNAME"] == "Youth Work Specialists' Support Network"
    assert any(str(e["SUMMARY"]) == "Youth work videoconferences" for e in events(body))


def test_one_session_downloads_as_an_attachment(context: Context) -> None:
    client = network(context)
    target = start_of(context, "vk", "2026-12-10T10:00")
    response = client.get(f"/sessions/{target.id}.ics")
    assert (
        response.headers["content-disposition"] == f'attachment; filename="session-{target.id}.ics"'
    )
    assert [str(e["UID"]) for e in events(response.content)] == [target.uid]
    assert client.get("/sessions/99999.ics").status_code == 404


def test_past_sessions_keep_their_recording_and_leave_after_a_year(context: Context) -> None:
    client = network(context)
    target = start_of(context, "vk", "2026-12-10T10:00")
    with context.database.session() as db:
        sessions.get(db, target.id).recording_url = "https://video.example.lv/ieraksts-1"
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(dt.timedelta(days=40))
    event = next(
        e for e in events(client.get("/calendar.ics").content) if str(e["UID"]) == target.uid
    )
    assert "https://video.example.lv/ieraksts-1" in str(event["DESCRIPTION"])
    context.clock.advance(dt.timedelta(days=366))
    uids = [str(e["UID"]) for e in events(client.get("/calendar.ics").content)]
    assert target.uid not in uids


def test_a_cancelled_session_leaves_the_feed_once_its_date_has_passed(context: Context) -> None:
    client = network(context)
    target = start_of(context, "vk", "2026-12-10T10:00")
    with context.database.session() as db:
        sessions.cancel(db, sessions.get(db, target.id), "Slimība", "staff")
    assert target.uid in [str(e["UID"]) for e in events(client.get("/calendar.ics").content)]
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(dt.timedelta(days=20))
    assert target.uid not in [str(e["UID"]) for e in events(client.get("/calendar.ics").content)]


def test_every_orm_write_to_what_feeds_show_raises_the_change_stamp(context: Context) -> None:
    from vcs.storage.changes import current_stamp

    def stamp() -> int:
        with context.database.engine.connect() as connection:
            return current_stamp(connection)

    network(context)
    before = stamp()
    target = start_of(context, "vk", "2027-03-11T10:00")
    with context.database.session() as db:
        sessions.update_details(db, sessions.get(db, target.id), "staff", topic_lv="Tēma")
    assert stamp() == before + 1
    with context.database.session() as db:
        db.scalars(select(Series).where(Series.slug == "vk")).one().description_lv = "Jauns"
    assert stamp() == before + 2
    with context.database.session() as db:
        db.add(Member(email="x@example.lv", name="X", feed_token="t"))
    assert stamp() == before + 3
    with context.database.session() as db:
        db.scalars(select(Member)).one()  # reading changes nothing
    assert stamp() == before + 3


def test_a_feed_in_the_cookies_language_tells_caches_it_varies_by_cookie(
    context: Context,
) -> None:
    client = network(context)
    latvian = client.get("/calendar.ics")
    client.cookies.set("lang", "en")
    english = client.get("/calendar.ics")
    assert latvian.content != english.content
    # A shared cache that kept the Latvian bytes must not hand them to this visitor.
    assert "Cookie" in english.headers["vary"].split(", ")
