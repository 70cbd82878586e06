"""Dates the Latvian way and the English way, through the one formatting helper."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from vcs.dates import (
    format_countdown,
    format_datetime,
    format_time_range,
    in_sentence,
    is_date_only,
    parse_typed,
)

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


@pytest.mark.parametrize(
    ("style", "lv"),
    [
        ("full", "ceturtdien, 2026. gada 10. decembrī, 10.00"),
        ("date", "ceturtdien, 2026. gada 10. decembrī"),
        ("day", "ceturtdien, 10. decembrī"),
        ("short", "10. decembrī, 10.00"),
    ],
)
def test_a_date_in_a_sentence_takes_the_latvian_locative(style: str, lv: str) -> None:
    start = dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC)
    assert in_sentence(start, "lv", RIGA, style) == lv  # type: ignore[arg-type]
    # English says it the same way in a sentence and in a list.
    assert in_sentence(start, "en", RIGA, style) == format_datetime(start, "en", RIGA, style)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("11.03.2027 10:00", dt.datetime(2027, 3, 11, 10, 0, tzinfo=RIGA)),
        ("11.03.2027 10.00", dt.datetime(2027, 3, 11, 10, 0, tzinfo=RIGA)),
        ("1.3.2027 9:05", dt.datetime(2027, 3, 1, 9, 5, tzinfo=RIGA)),
        ("  11.03.2027   10:00 ", dt.datetime(2027, 3, 11, 10, 0, tzinfo=RIGA)),
        ("11.03.2027", dt.datetime(2027, 3, 11, 0, 0, tzinfo=RIGA)),
        ("11.03.2027.", dt.datetime(2027, 3, 11, 0, 0, tzinfo=RIGA)),
        ("2027-03-11T10:00", dt.datetime(2027, 3, 11, 10, 0, tzinfo=RIGA)),
        ("2027-03-11 10:00", dt.datetime(2027, 3, 11, 10, 0, tzinfo=RIGA)),
        ("2027-03-11", dt.datetime(2027, 3, 11, 0, 0, tzinfo=RIGA)),
        ("2027-03-11T10:00+00:00", dt.datetime(2027, 3, 11, 10, 0, tzinfo=dt.UTC)),
    ],
)
def test_dates_are_read_as_people_type_them(typed: str, expected: dt.datetime) -> None:
    parsed = parse_typed(typed, RIGA)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "typed", ["31.02.2027", "11.03.27", "11/03/2027 10:00", "rīt", "11.03.2027 25:00", ""]
)
def test_what_is_not_a_date_is_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        parse_typed(typed, RIGA)


def test_a_date_alone_is_told_from_a_date_with_a_time() -> None:
    assert is_date_only("11.03.2027") and is_date_only("2027-03-11")
    assert not is_date_only("11.03.2027 10:00") and not is_date_only("2027-03-11T10:00")
