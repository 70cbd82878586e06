"""/api/sessions: filters, inclusive dates, clear 400s."""

from __future__ import annotations

import datetime as dt

import pytest
from starlette.testclient import TestClient

from tests.integration.test_feeds import network, spec
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.planning.series import SeriesError, import_series, parse_series
from vcs.web.app import create_app


def test_a_plain_to_date_includes_that_day(context: Context) -> None:
    client = network(context)
    found = client.get("/api/sessions?series=vk&from=2027-01-01&to=2027-01-14").json()
    assert [s["start"] for s in found] == ["2027-01-14T10:00:00+02:00"]
    assert client.get("/api/sessions?series=vk&from=2027-01-01&to=2027-01-14T09:00").json() == []


def test_unknown_series_or_region_is_a_400_not_an_empty_list(context: Context) -> None:
    client = network(context)
    series = client.get("/api/sessions?series=nav")
    assert series.status_code == 400
    assert series.json() == {"error": "series: no public series 'nav'"}
    region = client.get("/api/sessions?region=vidzem")
    assert region.status_code == 400
    assert region.json() == {"error": "region: no planning region 'vidzem'"}
    assert client.get("/api/sessions?series=iekseja").status_code == 400


def test_without_from_the_list_starts_a_year_back(context: Context) -> None:
    client = network(context)
    assert client.get("/api/sessions?series=vk").json()[0]["start"].startswith("2026-12-10")
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(dt.timedelta(days=400))
    assert client.get("/api/sessions?series=vk").json()[0]["start"].startswith("2027-01-14")


def test_a_watch_url_with_other_braces_is_refused_in_files_and_left_alone_in_pages(
    context: Context,
) -> None:
    entry = {
        "slug": "x",
        "title": "X",
        "rrule": "FREQ=WEEKLY",
        "start": "2026-12-10T10:00",
        "duration": "PT1H",
        "livestream": {"provider": "static", "watch_url": "https://meet.example.lv/{room}"},
    }
    with pytest.raises(SeriesError) as refused:
        parse_series(entry, "Europe/Riga")
    assert refused.value.lines() == [
        "livestream.watch_url: only {date}, {slug} and {id} can be filled in"
    ]
    context.clock = FixedClock(dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC))
    import_series(
        context,
        [spec(livestream_settings={"watch_url": "https://meet.example.lv/{room}/{date}"})],
        actor="test",
    )
    first = TestClient(create_app(context)).get("/api/sessions").json()[0]
    assert first["livestream_url"] == "https://meet.example.lv/{room}/2026-12-10"
