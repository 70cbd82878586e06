"""Dates the Latvian way and the English way, through the one formatting helper."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from vcs.dates import format_countdown, format_datetime, format_time_range

RIGA = ZoneInfo("Europe/Riga")


def test_latvian_full_form_in_winter() -> None:
    start = dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC)
    assert format_datetime(start, "lv", RIGA) == "ceturtdiena, 2026. gada 10. decembris, 10.00"


def test_latvian_full_form_in_summer_time_keeps_the_local_hour() -> None:
    start = dt.datetime(2027, 4, 8, 7, 0, tzinfo=dt.UTC)
    assert format_datetime(start, "lv", RIGA) == "ceturtdiena, 2027. gada 8. aprīlis, 10.00"


def test_english_full_form() -> None:
    start = dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC)
    assert format_datetime(start, "en", RIGA) == "Thursday, 10 December 2026, 10:00"


@pytest.mark.parametrize(
    ("style", "lv", "en"),
    [
        ("date", "pirmdiena, 2027. gada 1. februāris", "Monday, 1 February 2027"),
        ("day", "pirmdiena, 1. februāris", "Monday, 1 February"),
        ("short", "1. februāris, 14.30", "1 February, 14:30"),
        ("time", "14.30", "14:30"),
    ],
)
def test_each_style_in_both_languages(style: str, lv: str, en: str) -> None:
    value = dt.datetime(2027, 2, 1, 12, 30, tzinfo=dt.UTC)
    assert format_datetime(value, "lv", RIGA, style) == lv  # type: ignore[arg-type]
    assert format_datetime(value, "en", RIGA, style) == en  # type: ignore[arg-type]


def test_time_range_uses_an_en_dash() -> None:
    start = dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC)
    end = start + dt.timedelta(minutes=90)
    assert format_time_range(start, end, "lv", RIGA) == "10.00–11.30"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_datetime(dt.datetime(2026, 12, 10, 10, 0), "lv", RIGA)


@pytest.mark.parametrize(
    ("ahead", "lv", "en"),
    [
        (dt.timedelta(days=14, hours=3), "pēc 14 dienām", "in 14 days"),  # not "2 weeks"
        (dt.timedelta(days=21), "pēc 21 dienas", "in 21 days"),  # Latvian: 21 takes the singular
        (dt.timedelta(days=1, hours=5), "pēc 29 stundām", "in 29 hours"),
        (dt.timedelta(hours=2), "pēc 2 stundām", "in 2 hours"),
        (dt.timedelta(minutes=119), "pēc 119 minūtēm", "in 119 minutes"),
        (dt.timedelta(minutes=1, seconds=1), "pēc 2 minūtēm", "in 2 minutes"),
        (dt.timedelta(seconds=5), "pēc 1 minūtes", "in 1 minute"),
    ],
)
def test_countdown_counts_days_then_hours_then_minutes(
    ahead: dt.timedelta, lv: str, en: str
) -> None:
    now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    assert format_countdown(now + ahead, now, "lv") == lv
    assert format_countdown(now + ahead, now, "en") == en
