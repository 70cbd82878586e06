"""Calendar feeds, read back the way calendar apps read them.

Every feed is parsed with icalendar and with vobject (an independent parser), expanded with
recurring-ical-events, and compared with the sessions in the database.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import secrets
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
import vobject
from sqlalchemy import select
from starlette.testclient import TestClient

from vcs import sessions
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.series import SeriesSpec, import_series
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
    tricky = "Komati, semikoli; slīpsvītra \\ un\njauna rinda"
    with context.database.session() as db:
        sessions.update_details(db, sessions.get(db, target.id), "staff", topic_lv=tricky)
    body = client.get("/calendar.ics").content
    unfolded = body.replace(b"\r\n ", b"").decode()
    assert "Komati\\, semikoli\\; slīpsvītra \\\\ un\\njauna rinda" in unfolded
    event = next(e for e in events(body) if str(e["UID"]) == target.uid)
    assert str(event["SUMMARY"]).endswith(": " + tricky)
    assert str(event["DESCRIPTION"]).startswith(tricky)


def test_every_tzid_has_a_vtimezone_with_the_real_offsets(context: Context) -> None:
    body = network(context).get("/calendar.ics").content
    calendar = icalendar.Calendar.from_ical(body)
    used = set(re.findall(rb"TZID=([^:;]+)", body))
    defined = {str(tz["TZID"]).encode() for tz in calendar.walk("VTIMEZONE")}
    assert used == defined == {b"Europe/Riga"}
    vtimezone = calendar.walk("VTIMEZONE")[0].to_tz()
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
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag), "a strong ETag"
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


def test_head_and_gzip(context: Context) -> None:
    client = network(context)
    plain = client.get("/calendar.ics", headers={"Accept-Encoding": "identity"})
    head = client.head("/calendar.ics", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(plain.content))
    assert head.headers["etag"] == plain.headers["etag"]
    raw = client.get("/calendar.ics", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.headers["vary"] == "Accept-Encoding"
    assert raw.content == plain.content  # httpx decodes gzip; the bytes behind it were gzipped
    assert int(raw.headers["content-length"]) < len(plain.content)
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content


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
