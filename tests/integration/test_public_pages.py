"""Public pages and /api/sessions: Latvian first, members-only series kept out, offsets right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.factories import (
    MEMBERS,
    NATIONAL,
    NOW,
    RULE_CHANGED_LV,
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
from vcs.storage.models import Session
from vcs.web.app import create_app

# -- the home page -------------------------------------------------------------------------------


def test_home_groups_upcoming_sessions_under_latvian_month_headings(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national())
    html = browse(context).get("/").text
    headings = [
        "2026. gada decembris",
        "2027. gada janvāris",
        "2027. gada februāris",
        "2027. gada marts",
        "2027. gada aprīlis",
        "2027. gada maijs",
    ]
    positions = [html.index(f'<h3 class="month">{heading}</h3>') for heading in headings]
    assert positions == sorted(positions)
    assert html.count('<h3 class="month">') == 6
    assert "ceturtdiena, 2027. gada 8. aprīlis, 10.00–11.30" in html


def test_home_in_english_has_english_month_headings(context: Context, tmp_path: Path) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national())
    html = browse(context).get("/?lang=en").text
    assert '<h3 class="month">December 2026</h3>' in html
    assert '<h3 class="month">May 2027</h3>' in html
    assert "Thursday, 14 January 2027, 10:00–11:30" in html
    assert "Youth work videoconferences" in html


def test_two_series_in_one_month_share_its_heading(context: Context, tmp_path: Path) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national(), vidzeme())
    html = browse(context).get("/").text
    december = html.split('<h3 class="month">2026. gada decembris</h3>')[1]
    december = december.split('<h3 class="month">')[0]
    assert "ceturtdiena, 2026. gada 10. decembris" in december
    assert "trešdiena, 2026. gada 30. decembris, 13.00–16.00" in december
    assert html.count('<h3 class="month">2026. gada decembris</h3>') == 1


# -- series pages ----------------------------------------------------------------------------------


def test_series_page_shows_title_organiser_funding_and_upcoming_sessions(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, vidzeme())
    response = browse(context).get(f"/series/{VIDZEME}")
    assert response.status_code == 200
    html = response.text
    assert "<h1>Vidzemes pieredzes apmaiņas tikšanās</h1>" in html
    assert "Vidzemes plānošanas reģions" in html
    assert 'href="mailto:jaunatne@example.lv"' in html
    assert (
        '<p class="funding">Tikšanās notiek ar Eiropas Sociālā fonda Plus atbalstu. '
        "Projekta Nr. 4.2.4.1/1/24/I/001</p>"
    ) in html
    first = session_id(context, VIDZEME, "2026-12-30")
    assert f'<a href="/sessions/{first}">' in html
    assert "trešdiena, 2026. gada 30. decembris, 13.00–16.00" in html
    assert "trešdiena, 2027. gada 28. aprīlis, 13.00–16.00" in html


def test_series_page_in_english_shows_the_english_funding_statement(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, vidzeme())
    html = browse(context).get(f"/series/{VIDZEME}?lang=en").text
    assert "The meetings are supported by the European Social Fund Plus." in html
    assert "Project No. 4.2.4.1/1/24/I/001" in html


def test_a_funding_statement_without_a_project_number_has_no_number(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, vidzeme(funding={"text": "Ar valsts budžeta atbalstu."}))
    html = browse(context).get(f"/series/{VIDZEME}").text
    assert '<p class="funding">Ar valsts budžeta atbalstu.</p>' in html
    assert "Projekta Nr." not in html


def test_a_series_without_funding_shows_no_funding_statement(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national())
    html = browse(context).get(f"/series/{NATIONAL}").text
    assert "<h1>Jaunatnes lietu speciālistu videokonferences</h1>" in html
    assert 'class="funding"' not in html


def test_an_unknown_series_is_a_latvian_404_page(context: Context) -> None:
    response = browse(context).get("/series/nav-tadas-serijas")
    assert response.status_code == 404
    assert '<html lang="lv">' in response.text
    assert "<h1>Lapa nav atrasta</h1>" in response.text


# -- members-only series ---------------------------------------------------------------------------


def test_members_only_series_stay_out_of_every_public_page(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national(), members_only())
    hidden = session_id(context, MEMBERS, "2026-12-01")
    client = browse(context)
    home = client.get("/").text
    assert "Jaunatnes lietu speciālistu videokonferences" in home
    assert "Koordinatoru slēgtās sanāksmes" not in home
    assert f"/sessions/{hidden}" not in home
    assert client.get(f"/series/{MEMBERS}").status_code == 404
    page = client.get(f"/sessions/{hidden}")
    assert page.status_code == 404
    assert "Koordinatoru" not in page.text
    listed = client.get("/api/sessions").json()
    assert {row["series"] for row in listed} == {NATIONAL}
    # Asking for it by name answers as for a series that does not exist.
    by_name = client.get(f"/api/sessions?series={MEMBERS}")
    assert by_name.status_code == 400
    assert by_name.json() == {"error": f"series: no public series {MEMBERS!r}"}


# -- session pages ---------------------------------------------------------------------------------


def test_session_page_shows_latvian_date_place_speakers_and_watch_link(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national())
    january = session_id(context, NATIONAL, "2027-01-14")
    speakers = [
        {"name": "Anna Bērziņa", "role": "speciāliste", "organisation": "Cēsu novads"},
        {"name": "Jānis Kalniņš", "role": "", "organisation": ""},
    ]
    edit(context, january, lambda db, s: sessions.update_details(db, s, "test", speakers=speakers))
    response = browse(context).get(f"/sessions/{january}")
    assert response.status_code == 200
    html = response.text
    assert "ceturtdiena, 2027. gada 14. janvāris, 10.00–11.30" in html
    assert "<dd>Tiešsaistē</dd>" in html
    assert "<li>Anna Bērziņa, speciāliste (Cēsu novads)</li>" in html
    assert "<li>Jānis Kalniņš</li>" in html
    assert '<a href="https://meet.jit.si/tikls-2027-01-14">Atvērt tiešraidi</a>' in html


def test_a_speaker_with_only_a_name_is_shown(context: Context, tmp_path: Path) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national())
    january = session_id(context, NATIONAL, "2027-01-14")
    speakers = [{"name": "Jānis Kalniņš"}]
    edit(context, january, lambda db, s: sessions.update_details(db, s, "test", speakers=speakers))
    response = TestClient(create_app(context), raise_server_exceptions=False).get(
        f"/sessions/{january}"
    )
    assert response.status_code == 200
    assert "<li>Jānis Kalniņš</li>" in response.text


def test_session_page_of_a_hybrid_meeting_shows_venue_address_and_funding(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, vidzeme())
    html = browse(context).get(f"/sessions/{session_id(context, VIDZEME, '2027-04-28')}").text
    assert "trešdiena, 2027. gada 28. aprīlis, 13.00–16.00" in html
    assert "Valmieras jauniešu centrs „Vinda“, Rīgas iela 10, Valmiera · un tiešsaistē" in html
    assert "Projekta Nr. 4.2.4.1/1/24/I/001" in html


def test_a_session_cannot_move_to_a_venue_without_an_address(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national())
    january = session_id(context, NATIONAL, "2027-01-14")
    place = {"kind": "venue", "venue": "Cēsu jauniešu centrs"}
    with pytest.raises(
        sessions.SessionError, match=r"^place\.address: a venue meeting needs its address$"
    ):
        edit(context, january, lambda db, s: sessions.update_details(db, s, "test", place=place))
    # Pages that show the place still render.
    client = browse(context)
    assert client.get("/").status_code == 200
    assert "<dd>Tiešsaistē</dd>" in client.get(f"/sessions/{january}").text


def test_a_session_moved_to_another_venue_shows_it(context: Context, tmp_path: Path) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, vidzeme())
    march = session_id(context, VIDZEME, "2027-03-31")
    place = {"kind": "venue", "venue": "Cēsu jauniešu centrs", "address": "Raunas iela 12, Cēsis"}
    edit(context, march, lambda db, s: sessions.update_details(db, s, "test", place=place))
    client = browse(context)
    assert (
        "<dd>Cēsu jauniešu centrs, Raunas iela 12, Cēsis</dd>"
        in client.get(f"/sessions/{march}").text
    )
    row = next(r for r in api(client, f"?series={VIDZEME}") if r["id"] == march)
    assert row["place"] == place


def test_an_unknown_session_is_a_404_page(context: Context) -> None:
    response = browse(context).get("/sessions/999")
    assert response.status_code == 404
    assert "<h1>Lapa nav atrasta</h1>" in response.text


def test_a_cancelled_session_says_atcelta_with_its_reason_and_no_watch_link(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national())
    february = session_id(context, NATIONAL, "2027-02-11")
    edit(context, february, lambda db, s: sessions.cancel(db, s, "Lektore saslima", "test"))
    client = browse(context)
    html = client.get(f"/sessions/{february}").text
    assert "<strong>Atcelta</strong>: Lektore saslima" in html
    assert "Atvērt tiešraidi" not in html
    home = client.get("/").text
    assert "<strong>Atcelta</strong>: Lektore saslima" in home


def test_a_session_the_new_rule_drops_after_its_announcement_says_why(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national())
    january = session_id(context, NATIONAL, "2027-01-14")
    with context.database.session() as db:
        db.get_one(Session, january).announced_at = NOW
    # Every other month from December: January is no longer on the schedule.
    import_entries(context, tmp_path, national(rrule="FREQ=MONTHLY;INTERVAL=2;BYDAY=2TH"))
    client = browse(context)
    html = client.get(f"/sessions/{january}").text
    assert f"<strong>Atcelta</strong>: {RULE_CHANGED_LV}" in html
    english = client.get(f"/sessions/{january}?lang=en").text
    assert (
        "<strong>Cancelled</strong>: The series schedule changed and no longer includes this date."
    ) in english
    row = next(r for r in client.get("/api/sessions").json() if r["id"] == january)
    assert row["status"] == "cancelled"
    assert row["cancel_reason"] == "The series schedule changed and no longer includes this date."


# -- /api/sessions -------------------------------------------------------------------------------


def api(client: TestClient, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/sessions{query}")
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def test_api_sessions_gives_each_field_with_the_riga_offset(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national())
    rows = api(browse(context))
    assert len(rows) == 6
    first = rows[0]
    assert first["id"] == session_id(context, NATIONAL, "2026-12-10")
    assert first["uid"].endswith("@127.0.0.1")
    assert first["series"] == NATIONAL
    assert first["title"] == {
        "lv": "Jaunatnes lietu speciālistu videokonferences",
        "en": "Youth work videoconferences",
    }
    assert (first["start"], first["end"]) == (
        "2026-12-10T10:00:00+02:00",
        "2026-12-10T11:30:00+02:00",
    )
    assert first["status"] == "scheduled"
    assert first["place"] == {"kind": "online"}
    assert first["livestream_url"] == "https://meet.jit.si/tikls-2026-12-10"
    assert first["recording_url"] == ""
    assert len({row["uid"] for row in rows}) == 6
    assert [row["start"] for row in rows] == [
        "2026-12-10T10:00:00+02:00",
        "2027-01-14T10:00:00+02:00",
        "2027-02-11T10:00:00+02:00",
        "2027-03-11T10:00:00+02:00",
        "2027-04-08T10:00:00+03:00",
        "2027-05-13T10:00:00+03:00",
    ]
    assert rows[4]["end"] == "2027-04-08T11:30:00+03:00"


def test_api_sessions_filters_by_dates_series_and_region(context: Context, tmp_path: Path) -> None:
    context.clock = FixedClock(NOW)
    zemgale = vidzeme(slug="zemgales-tiksanas", region="zemgale", place={"kind": "online"})
    import_entries(context, tmp_path, national(), vidzeme(), zemgale)
    client = browse(context)

    def starts(query: str) -> list[tuple[str, str]]:
        return [(row["series"], row["start"][:10]) for row in api(client, query)]

    assert starts("?from=2027-01-01&to=2027-02-01") == [
        (NATIONAL, "2027-01-14"),
        (VIDZEME, "2027-01-27"),
        ("zemgales-tiksanas", "2027-01-27"),
    ]
    assert starts(f"?series={VIDZEME}&from=2027-03-01") == [
        (VIDZEME, "2027-03-31"),
        (VIDZEME, "2027-04-28"),
    ]
    # A region's view: the national sessions and that region's own.
    assert starts("?region=zemgale&from=2027-02-01&to=2027-03-01") == [
        (NATIONAL, "2027-02-11"),
        ("zemgales-tiksanas", "2027-02-24"),
    ]
    assert starts("?region=kurzeme&to=2027-01-01") == [(NATIONAL, "2026-12-10")]


def test_api_sessions_dates_are_riga_days(context: Context, tmp_path: Path) -> None:
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national())
    client = browse(context)
    # A plain `to` date includes that whole day in Riga.
    assert [row["start"][:10] for row in api(client, "?from=2027-01-14&to=2027-01-14")] == [
        "2027-01-14"
    ]
    # Date-times are exact: a session ending at `from` or starting at `to` is outside.
    assert api(client, "?from=2027-01-14T11:30&to=2027-02-11T10:00") == []
    assert len(api(client, "?from=2027-01-14T11:29&to=2027-02-11T10:01")) == 2


def test_bad_parameters_are_a_400_naming_them(context: Context) -> None:
    client = browse(context)
    response = client.get("/api/sessions?from=rīt")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "from: 'rīt' is not a date (2027-01-31) or date-time"}
    bad_to = client.get("/api/sessions?to=2027-13-01")
    assert bad_to.status_code == 400
    assert bad_to.json()["error"].startswith("to: '2027-13-01'")
    unknown_region = client.get("/api/sessions?region=latgalee")
    assert unknown_region.status_code == 400
    assert unknown_region.json() == {"error": "region: no planning region 'latgalee'"}
