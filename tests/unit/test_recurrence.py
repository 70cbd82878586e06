"""Recurrence rules: strict RFC 5545 checking and expansion in Riga local time."""

from __future__ import annotations

import datetime as dt
from itertools import islice
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from dateutil import rrule as du
from hypothesis import given, settings
from hypothesis import strategies as st

from vcs.planning.recurrence import RecurrenceError, canonical, expand, parse_rule, to_local

RIGA = ZoneInfo("Europe/Riga")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


# -- factories ---------------------------------------------------------------------------------


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A naive wall-clock time in Riga, the way series store their first start."""
    return dt.datetime(year, month, day, hour, minute)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def starts(
    text: str,
    start: dt.datetime,
    days: int = 3 * 366,
    exdates: frozenset[dt.datetime] = frozenset(),
) -> list[dt.datetime]:
    """UTC starts of a series from its first start over the next `days` days."""
    rule = parse_rule(text, start, RIGA)
    window_start = to_local(start, RIGA)
    return expand(rule, start, RIGA, window_start, window_start + dt.timedelta(days=days), exdates)


def riga(instants: list[dt.datetime]) -> list[str]:
    """Instants as ISO strings in Riga time, to the minute."""
    return [instant.astimezone(RIGA).isoformat(timespec="minutes") for instant in instants]


def dates(instants: list[dt.datetime]) -> list[str]:
    """Local dates of instants: enough where the rule only picks days."""
    return [instant.astimezone(RIGA).date().isoformat() for instant in instants]


def problem(text: str, start: dt.datetime | None = None) -> str:
    """The problem staff are shown for a rule that parse_rule refuses."""
    with pytest.raises(RecurrenceError) as refused:
        parse_rule(text, start or local(2027, 1, 7), RIGA)
    return refused.value.problems[0].text()


# -- the example -----------------------------------------------------------------------


def test_second_thursday_monthly_keeps_ten_oclock_into_summer_time() -> None:
    series = starts("FREQ=MONTHLY;BYDAY=2TH", local(2026, 12, 10), days=150)
    assert riga(series) == [
        "2026-12-10T10:00+02:00",
        "2027-01-14T10:00+02:00",
        "2027-02-11T10:00+02:00",
        "2027-03-11T10:00+02:00",
        "2027-04-08T10:00+03:00",
    ]


def test_second_thursday_monthly_is_eight_utc_in_winter_and_seven_in_summer() -> None:
    series = starts("FREQ=MONTHLY;BYDAY=2TH", local(2026, 12, 10), days=150)
    assert all(instant.tzinfo is dt.UTC for instant in series)
    assert [instant.hour for instant in series] == [8, 8, 8, 8, 7]


# -- each rule form ----------------------------------------------------------------------------


def test_daily_repeats_every_day_across_a_month_end() -> None:
    series = starts("FREQ=DAILY;COUNT=3", local(2027, 1, 30))
    assert dates(series) == ["2027-01-30", "2027-01-31", "2027-02-01"]


def test_weekly_without_byday_repeats_on_the_first_starts_weekday() -> None:
    series = starts("FREQ=WEEKLY;COUNT=3", local(2027, 1, 7))
    assert dates(series) == ["2027-01-07", "2027-01-14", "2027-01-21"]


def test_weekly_with_plain_weekdays_repeats_on_each_of_them() -> None:
    series = starts("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4", local(2027, 1, 4))
    assert dates(series) == ["2027-01-04", "2027-01-06", "2027-01-11", "2027-01-13"]


def test_monthly_without_byxxx_skips_months_too_short_for_the_day() -> None:
    # RFC 5545 3.3.10: a date that does not exist (31 February) is ignored, not moved.
    series = starts("FREQ=MONTHLY;COUNT=3", local(2027, 1, 31))
    assert dates(series) == ["2027-01-31", "2027-03-31", "2027-05-31"]


def test_yearly_repeats_on_the_same_date() -> None:
    series = starts("FREQ=YEARLY;COUNT=3", local(2027, 3, 15), days=4 * 366)
    assert dates(series) == ["2027-03-15", "2028-03-15", "2029-03-15"]


def test_interval_skips_periods() -> None:
    series = starts("FREQ=WEEKLY;INTERVAL=2;COUNT=3", local(2027, 1, 7))
    assert dates(series) == ["2027-01-07", "2027-01-21", "2027-02-04"]


@pytest.mark.parametrize(
    ("wkst", "expected"),
    [
        ("MO", ["2027-01-05", "2027-01-10", "2027-01-19", "2027-01-24"]),
        ("SU", ["2027-01-05", "2027-01-17", "2027-01-19", "2027-01-31"]),
    ],
)
def test_week_start_decides_which_weeks_an_interval_skips(wkst: str, expected: list[str]) -> None:
    # The RFC 5545 3.3.10 example: the same rule gives different days with WKST=MO and SU.
    series = starts(f"FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST={wkst}", local(2027, 1, 5))
    assert dates(series) == expected


def test_numbered_weekday_picks_the_nth_in_the_month() -> None:
    series = starts("FREQ=MONTHLY;BYDAY=2TH;COUNT=3", local(2027, 1, 14))
    assert dates(series) == ["2027-01-14", "2027-02-11", "2027-03-11"]


def test_negative_numbered_weekday_counts_from_the_month_end() -> None:
    series = starts("FREQ=MONTHLY;BYDAY=-1FR;COUNT=3", local(2027, 1, 29))
    assert dates(series) == ["2027-01-29", "2027-02-26", "2027-03-26"]


def test_bymonthday_picks_days_of_the_month() -> None:
    series = starts("FREQ=MONTHLY;BYMONTHDAY=1,15;COUNT=4", local(2027, 1, 1))
    assert dates(series) == ["2027-01-01", "2027-01-15", "2027-02-01", "2027-02-15"]


def test_negative_bymonthday_is_the_last_day_of_each_month_including_a_leap_february() -> None:
    series = starts("FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=4", local(2027, 12, 31))
    assert dates(series) == ["2027-12-31", "2028-01-31", "2028-02-29", "2028-03-31"]


def test_bymonth_limits_a_yearly_rule_to_those_months() -> None:
    series = starts("FREQ=YEARLY;BYMONTH=1,7;COUNT=3", local(2027, 1, 15))
    assert dates(series) == ["2027-01-15", "2027-07-15", "2028-01-15"]


def test_bymonth_with_a_numbered_weekday_is_the_nth_weekday_of_those_months() -> None:
    series = starts("FREQ=YEARLY;BYMONTH=3,9;BYDAY=1MO;COUNT=4", local(2027, 3, 1))
    assert dates(series) == ["2027-03-01", "2027-09-06", "2028-03-06", "2028-09-04"]


def test_count_ends_the_series_however_wide_the_window() -> None:
    series = starts("FREQ=DAILY;COUNT=5", local(2027, 1, 1), days=3650)
    assert len(series) == 5


def test_until_as_a_date_includes_that_whole_day() -> None:
    series = starts("FREQ=WEEKLY;UNTIL=20270121", local(2027, 1, 7, 18, 0))
    assert riga(series) == [
        "2027-01-07T18:00+02:00",
        "2027-01-14T18:00+02:00",
        "2027-01-21T18:00+02:00",
    ]


@pytest.mark.parametrize(
    ("until", "last"),
    [("20270121T100000", "2027-01-21"), ("20270121T095959", "2027-01-14")],
)
def test_until_as_local_date_time_is_inclusive_to_the_second(until: str, last: str) -> None:
    series = starts(f"FREQ=WEEKLY;UNTIL={until}", local(2027, 1, 7))
    assert dates(series)[-1] == last


@pytest.mark.parametrize(
    ("until", "last"),
    [
        # 10:00 in Riga is 08:00Z in winter ...
        ("20270121T080000Z", "2027-01-21"),
        ("20270121T075959Z", "2027-01-14"),
        # ... and 07:00Z in summer.
        ("20270701T070000Z", "2027-07-01"),
        ("20270701T065959Z", "2027-06-24"),
    ],
)
def test_until_in_utc_is_compared_as_an_instant(until: str, last: str) -> None:
    start = local(2027, 1, 7) if until.startswith("202701") else local(2027, 6, 17)
    series = starts(f"FREQ=WEEKLY;UNTIL={until}", start)
    assert dates(series)[-1] == last


def test_bysetpos_picks_the_last_weekday_of_each_month() -> None:
    series = starts("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=4", local(2027, 1, 29))
    assert dates(series) == ["2027-01-29", "2027-02-26", "2027-03-31", "2027-04-30"]


def test_exdate_skips_one_occurrence() -> None:
    series = starts(
        "FREQ=WEEKLY", local(2027, 1, 7), days=21, exdates=frozenset([local(2027, 1, 14)])
    )
    assert dates(series) == ["2027-01-07", "2027-01-21"]


def test_exdate_does_not_extend_a_counted_series() -> None:
    # RFC 5545 3.8.5.1: EXDATE removes instances from the set COUNT has already produced.
    exdates = frozenset([local(2027, 1, 14)])
    series = starts("FREQ=WEEKLY;COUNT=3", local(2027, 1, 7), exdates=exdates)
    assert dates(series) == ["2027-01-07", "2027-01-21"]


def test_exdate_at_another_time_of_day_skips_nothing() -> None:
    exdates = frozenset([local(2027, 1, 14, 11, 0)])
    series = starts("FREQ=WEEKLY;COUNT=3", local(2027, 1, 7), exdates=exdates)
    assert dates(series) == ["2027-01-07", "2027-01-14", "2027-01-21"]


def test_window_includes_its_start_and_excludes_its_end() -> None:
    start = local(2027, 1, 7)
    rule = parse_rule("FREQ=WEEKLY", start, RIGA)
    series = expand(rule, start, RIGA, utc(2027, 1, 14, 8), utc(2027, 1, 28, 8))
    assert riga(series) == ["2027-01-14T10:00+02:00", "2027-01-21T10:00+02:00"]


def test_window_before_the_first_start_is_empty() -> None:
    start = local(2027, 1, 7)
    rule = parse_rule("FREQ=WEEKLY", start, RIGA)
    assert expand(rule, start, RIGA, utc(2026, 1, 1), utc(2027, 1, 7, 8)) == []


def test_rrule_prefix_and_lower_case_are_accepted() -> None:
    assert parse_rule("rrule:freq=monthly;byday=2th", local(2027, 1, 14), RIGA) == parse_rule(
        "FREQ=MONTHLY;BYDAY=2TH", local(2027, 1, 14), RIGA
    )


def test_canonical_upper_cases_drops_the_prefix_and_orders_the_parts() -> None:
    assert canonical("rrule:byday=2th;freq=monthly") == "FREQ=MONTHLY;BYDAY=2TH"
    assert (
        canonical("RRULE:WKST=SU;BYDAY=MO;COUNT=5;INTERVAL=2;FREQ=WEEKLY")
        == "FREQ=WEEKLY;INTERVAL=2;COUNT=5;BYDAY=MO;WKST=SU"
    )


def test_canonical_is_idempotent() -> None:
    once = canonical("until=20270630T000000z;bysetpos=-1;byday=mo,tu;freq=monthly")
    assert once == "FREQ=MONTHLY;UNTIL=20270630T000000Z;BYDAY=MO,TU;BYSETPOS=-1"
    assert canonical(once) == once


def test_canonical_accepts_the_spacing_parse_rule_accepts() -> None:
    text = "FREQ = WEEKLY ; BYDAY = MO, TH"
    parse_rule(text, local(2027, 1, 7), RIGA)
    assert canonical(text) == "FREQ=WEEKLY;BYDAY=MO,TH"


# -- summer time -------------------------------------------------------------------------------


def test_weekly_session_keeps_ten_oclock_across_both_summer_time_changes() -> None:
    # Riga: summer time starts on 2027-03-28 and ends on 2027-10-31, both Sundays.
    series = starts("FREQ=WEEKLY", local(2027, 3, 21), days=240)
    by_date = dict(zip(dates(series), riga(series), strict=True))
    assert by_date["2027-03-21"] == "2027-03-21T10:00+02:00"
    assert by_date["2027-03-28"] == "2027-03-28T10:00+03:00"
    assert by_date["2027-10-24"] == "2027-10-24T10:00+03:00"
    assert by_date["2027-10-31"] == "2027-10-31T10:00+02:00"
    assert {instant.astimezone(RIGA).strftime("%H:%M") for instant in series} == {"10:00"}


def test_time_in_the_spring_gap_takes_the_offset_from_before_the_gap() -> None:
    # Clocks go 03:00 -> 04:00; RFC 5545 3.3.5 reads 03:30 with the +02:00 offset, i.e. 04:30.
    series = starts("FREQ=DAILY;COUNT=3", local(2027, 3, 27, 3, 30))
    assert riga(series) == [
        "2027-03-27T03:30+02:00",
        "2027-03-28T04:30+03:00",
        "2027-03-29T03:30+03:00",
    ]
    assert [instant.strftime("%H:%M") for instant in series] == ["01:30", "01:30", "00:30"]


def test_repeated_autumn_time_means_its_first_instance() -> None:
    # Clocks go 04:00 -> 03:00, so 03:30 happens twice; RFC 5545 3.3.5 means the first.
    series = starts("FREQ=DAILY;COUNT=3", local(2027, 10, 30, 3, 30))
    assert riga(series) == [
        "2027-10-30T03:30+03:00",
        "2027-10-31T03:30+03:00",
        "2027-11-01T03:30+02:00",
    ]
    assert [instant.strftime("%H:%M") for instant in series] == ["00:30", "00:30", "01:30"]


def test_to_local_follows_rfc_5545_in_the_gap_and_the_fold() -> None:
    assert to_local(local(2027, 3, 28, 3, 30), RIGA).astimezone(dt.UTC) == utc(2027, 3, 28, 1, 30)
    assert to_local(local(2027, 10, 31, 3, 30), RIGA).astimezone(dt.UTC) == utc(2027, 10, 31, 0, 30)


def test_until_in_utc_just_after_the_spring_gap_drops_a_later_occurrence() -> None:
    series = starts("FREQ=DAILY;UNTIL=20270328T011500Z", local(2027, 3, 26, 3, 30))
    assert [instant.isoformat() for instant in series] == [
        "2027-03-26T01:30:00+00:00",
        "2027-03-27T01:30:00+00:00",
    ]


def test_until_in_utc_during_the_repeated_hour_keeps_an_earlier_occurrence() -> None:
    series = starts("FREQ=DAILY;UNTIL=20271031T011500Z", local(2027, 10, 29, 3, 30))
    assert [instant.isoformat() for instant in series] == [
        "2027-10-29T00:30:00+00:00",
        "2027-10-30T00:30:00+00:00",
        "2027-10-31T00:30:00+00:00",
    ]


# -- refused rules -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "RRULE:", "rrule: "])
def test_empty_rule_is_refused_with_an_example(text: str) -> None:
    assert problem(text) == "the rule is empty (e.g. FREQ=MONTHLY;BYDAY=2TH)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FREQ=WEEKLY;COUNT", "'COUNT' is not NAME=VALUE"),
        ("FREQ=WEEKLY;COUNT=", "'COUNT=' is not NAME=VALUE"),
        ("FREQ=WEEKLY;", "'' is not NAME=VALUE"),
        (
            "FREQ=WEEKLY;BYDAI=TH",
            "BYDAI is not supported (use FREQ, INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY, "
            "BYMONTH, BYSETPOS, WKST)",
        ),
        (
            "FREQ=DAILY;BYHOUR=10",
            "BYHOUR is not supported (use FREQ, INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY, "
            "BYMONTH, BYSETPOS, WKST)",
        ),
        ("FREQ=WEEKLY;BYDAY=TH;BYDAY=FR", "BYDAY is given twice"),
        ("BYDAY=TH", "FREQ is missing"),
        ("FREQ=MONTLY", "FREQ=MONTLY is not DAILY, WEEKLY, MONTHLY or YEARLY"),
    ],
)
def test_rule_text_that_is_not_a_rule_is_refused(text: str, expected: str) -> None:
    assert problem(text) == expected


@pytest.mark.parametrize("freq", ["HOURLY", "MINUTELY", "SECONDLY"])
def test_frequency_finer_than_daily_is_refused(freq: str) -> None:
    expected = f"FREQ={freq} is finer than DAILY; sessions repeat at most daily"
    assert problem(f"FREQ={freq}") == expected


@pytest.mark.parametrize(
    ("until", "expected"),
    [
        ("20270106", "UNTIL (2027-01-06 23:59) is before the first start (2027-01-07 10:00)"),
        (
            "20270107T095959",
            "UNTIL (2027-01-07 09:59) is before the first start (2027-01-07 10:00)",
        ),
        (
            "20270107T075959Z",
            "UNTIL (2027-01-07 09:59) is before the first start (2027-01-07 10:00)",
        ),
    ],
)
def test_until_before_the_first_start_is_refused(until: str, expected: str) -> None:
    assert problem(f"FREQ=WEEKLY;UNTIL={until}") == expected


def test_count_and_until_together_are_refused() -> None:
    expected = "COUNT and UNTIL cannot both be given (RFC 5545)"
    assert problem("FREQ=WEEKLY;COUNT=3;UNTIL=20270630") == expected


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ("COUNT=0", "COUNT=0 must be a whole number of at least 1"),
        ("COUNT=two", "COUNT=TWO must be a whole number of at least 1"),
        ("INTERVAL=-1", "INTERVAL=-1 must be a whole number of at least 1"),
        ("INTERVAL=0", "INTERVAL=0 must be a whole number of at least 1"),
    ],
)
def test_count_and_interval_must_be_at_least_one(part: str, expected: str) -> None:
    assert problem(f"FREQ=WEEKLY;{part}") == expected


@pytest.mark.parametrize("freq", ["DAILY", "WEEKLY"])
def test_numbered_weekday_needs_monthly_or_yearly(freq: str) -> None:
    expected = "BYDAY=2TH: a numbered weekday needs FREQ=MONTHLY or YEARLY"
    assert problem(f"FREQ={freq};BYDAY=2TH") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY=32 is out of range (1..31 or -31..-1)"),
        ("FREQ=MONTHLY;BYMONTHDAY=-32", "BYMONTHDAY=-32 is out of range (1..31 or -31..-1)"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY=0 is out of range (1..31 or -31..-1)"),
        ("FREQ=MONTHLY;BYMONTHDAY=last", "BYMONTHDAY=LAST is not a number"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH=13 is out of range (1..12)"),
        ("FREQ=YEARLY;BYMONTH=-1", "BYMONTH=-1 is out of range (1..12)"),
        ("FREQ=MONTHLY;BYDAY=6TH", "BYDAY=6TH: the number must be 1..5 or -5..-1"),
        ("FREQ=MONTHLY;BYDAY=-6TH", "BYDAY=-6TH: the number must be 1..5 or -5..-1"),
        ("FREQ=MONTHLY;BYDAY=0TH", "BYDAY=0TH: the number must be 1..5 or -5..-1"),
        ("FREQ=YEARLY;BYMONTH=1;BYDAY=6TH", "BYDAY=6TH: the number must be 1..5 or -5..-1"),
        ("FREQ=YEARLY;BYDAY=54TH", "BYDAY=54TH: the number must be 1..53 or -53..-1"),
        ("FREQ=MONTHLY;BYSETPOS=367;BYDAY=TH", "BYSETPOS=367 is out of range (1..366 or -366..-1)"),
    ],
)
def test_out_of_range_values_are_refused(text: str, expected: str) -> None:
    assert problem(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FREQ=WEEKLY;BYDAY=THU", "BYDAY=THU is not a weekday like TH, 2TH or -1FR"),
        ("FREQ=WEEKLY;BYDAY=TH,,FR", "empty item in 'TH,,FR'"),
        ("FREQ=WEEKLY;WKST=SUN", "WKST=SUN is not a weekday (MO, TU, WE, TH, FR, SA, SU)"),
        ("FREQ=MONTHLY;BYSETPOS=-1", "BYSETPOS needs another BYxxx part to select from"),
    ],
)
def test_malformed_values_are_refused(text: str, expected: str) -> None:
    assert problem(text) == expected


@pytest.mark.parametrize(
    "until", ["2027-06-30", "20270630T10", "20270630T100000+0300", "20271350", "20270630T250000Z"]
)
def test_until_in_an_unknown_format_is_refused(until: str) -> None:
    expected = f"UNTIL={until.upper()} is not a date (20270630) or a date-time (20270630T000000Z)"
    assert problem(f"FREQ=WEEKLY;UNTIL={until}") == expected


def test_first_start_that_is_not_an_occurrence_is_refused_with_the_first_occurrence() -> None:
    assert problem("FREQ=MONTHLY;BYDAY=2TH", local(2026, 12, 3)) == (
        "the first start 2026-12-03 10:00 is not an occurrence of the rule; "
        "its first occurrence is 2026-12-10 10:00"
    )


def test_first_start_of_a_rule_with_no_occurrence_after_it_is_refused_without_a_hint() -> None:
    assert problem("FREQ=WEEKLY;BYDAY=MO;UNTIL=20270109", local(2027, 1, 7)) == (
        "the first start 2027-01-07 10:00 is not an occurrence of the rule, and the rule gives "
        "no session in the 5 years after it"
    )


def test_an_impossible_rule_is_refused_quickly() -> None:
    assert problem("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", local(2027, 1, 7)).endswith(
        "gives no session in the 5 years after it"
    )


def test_plain_and_numbered_weekdays_together_are_refused() -> None:
    # dateutil would intersect them (a Monday that is the first Tuesday) and find nothing,
    # where RFC 5545 means either; refusing is honest, a wrong expansion would not be.
    assert problem("FREQ=MONTHLY;BYDAY=MO,1TU", local(2027, 1, 4)) == (
        "BYDAY=MO,1TU mixes plain and numbered weekdays; use one kind per series"
    )


def test_bymonthday_with_weekly_is_refused() -> None:
    assert problem("FREQ=WEEKLY;BYMONTHDAY=7", local(2027, 1, 7)) == (
        "BYMONTHDAY cannot be used with FREQ=WEEKLY (RFC 5545 3.3.10)"
    )


def test_number_with_an_underscore_is_refused() -> None:
    assert problem("FREQ=MONTHLY;BYMONTHDAY=1_0", local(2027, 1, 10)) == (
        "BYMONTHDAY=1_0 is not a number"
    )


# -- agreement with an independent RFC 5545 implementation -------------------------------------

# 03:30 is inside the spring gap and the autumn fold in Riga, so it is drawn often.
TIMES = st.one_of(
    st.just(dt.time(3, 30)),
    st.sampled_from([dt.time(0, 0), dt.time(3, 0), dt.time(4, 0), dt.time(10, 0), dt.time(23, 30)]),
    st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
)


@st.composite
def byday(draw: st.DrawFn, numbered: bool) -> str:
    """Plain weekdays, or (where allowed) numbered ones.

    Never a mix like MO,1TU: dateutil, under both vcs and recurring_ical_events, intersects
    the two kinds instead of uniting them, so a comparison could not see that bug; it is
    kept visible by test_plain_and_numbered_weekdays_together_are_refused.
    """
    numbers = st.sampled_from([1, 2, 3, 4, -1, -2, -3, -4])
    ordinals = numbers if numbered and draw(st.booleans()) else st.none()
    tokens = draw(
        st.lists(
            st.tuples(ordinals, st.sampled_from(WEEKDAYS)), min_size=1, max_size=3, unique=True
        )
    )
    return ",".join(f"{'' if n is None else n}{day}" for n, day in tokens)


@st.composite
def series(
    draw: st.DrawFn,
    first_day: dt.date = dt.date(2026, 1, 1),
    last_day: dt.date = dt.date(2028, 12, 31),
) -> tuple[str, dt.datetime]:
    """A rule text and a first start that is the rule's first occurrence."""
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts = [f"FREQ={freq}"]
    interval = draw(st.integers(1, 4))
    if interval > 1 or draw(st.booleans()):
        parts.append(f"INTERVAL={interval}")
    seed_day = draw(st.dates(first_day, last_day))
    seed = dt.datetime.combine(seed_day, draw(TIMES))
    bymonth = freq in ("MONTHLY", "YEARLY") and draw(st.booleans())
    if bymonth:
        months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True))
        # FREQ=MONTHLY;INTERVAL=2 from January only visits odd months (12 is a multiple of
        # every interval drawn): keep at least one visited month so the rule ever occurs.
        if freq == "MONTHLY" and all((m - seed.month) % interval for m in months):
            months.append(seed.month)
        parts.append("BYMONTH=" + ",".join(map(str, months)))
    numbered = freq == "MONTHLY" or (freq == "YEARLY" and bymonth)
    weekdays = draw(byday(numbered)) if draw(st.booleans()) else ""
    if weekdays:
        parts.append("BYDAY=" + weekdays)
    # A month day together with a numbered weekday is often never true (the 1st as the 2nd
    # Monday), which leaves no first occurrence to start from.
    if freq in ("MONTHLY", "YEARLY") and not any(c.isdigit() for c in weekdays):
        monthdays = st.one_of(st.integers(1, 28), st.integers(-3, -1))
        if draw(st.booleans()):
            chosen = draw(st.lists(monthdays, min_size=1, max_size=3, unique=True))
            parts.append("BYMONTHDAY=" + ",".join(map(str, chosen)))
    if bymonth and not any(part.startswith(("BYDAY", "BYMONTHDAY")) for part in parts):
        # Then the day comes from the first start: 31 with BYMONTH=4 would never occur.
        seed = seed.replace(day=min(seed.day, 28))
    if freq == "WEEKLY" and draw(st.booleans()):
        parts.append("WKST=" + draw(st.sampled_from(WEEKDAYS)))
    recurrence = du.rrulestr(";".join(parts), dtstart=seed)
    start = recurrence.after(seed, inc=True)
    assert start is not None, (parts, seed)
    ending = draw(st.sampled_from(["none", "count", "until"]))
    if ending == "count":
        parts.append(f"COUNT={draw(st.integers(1, 30))}")
    elif ending == "until":
        # UNTIL near an occurrence (on it, just before or after it), so the bound matters.
        nth = draw(st.integers(1, 40))
        occurrence = list(islice(du.rrulestr(";".join(parts), dtstart=start), nth))[-1]
        minutes = draw(st.sampled_from([0, -1, 1, 45, 90, 24 * 60]))
        instant = to_local(occurrence, RIGA).astimezone(dt.UTC) + dt.timedelta(minutes=minutes)
        until = max(instant, to_local(start, RIGA).astimezone(dt.UTC))
        parts.append(f"UNTIL={until:%Y%m%dT%H%M%SZ}")
    return ";".join(parts), start


def vevent(text: str, start: dt.datetime) -> icalendar.Calendar:
    """A calendar with one recurring event in Riga time; no VTIMEZONE: the TZID is an IANA name."""
    end = start + dt.timedelta(hours=1)
    return icalendar.Calendar.from_ical(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//vcs//tests//EN\r\n"
        "BEGIN:VEVENT\r\nUID:series@vcs.test\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART;TZID=Europe/Riga:{start:%Y%m%dT%H%M%S}\r\n"
        f"DTEND;TZID=Europe/Riga:{end:%Y%m%dT%H%M%S}\r\n"
        f"RRULE:{text}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def reference_starts(
    text: str, start: dt.datetime, window_start: dt.datetime, window_end: dt.datetime
) -> list[dt.datetime]:
    """UTC starts in [window_start, window_end) according to recurring_ical_events."""
    # between() returns events that overlap the span; keep only those that start in it.
    events = recurring_ical_events.of(vevent(text, start)).between(
        window_start - dt.timedelta(days=1), window_end
    )
    instants = sorted(event["DTSTART"].dt.astimezone(dt.UTC) for event in events)
    return [instant for instant in instants if window_start <= instant < window_end]


def test_reference_reads_the_tzid_without_a_vtimezone() -> None:
    instants = reference_starts(
        "FREQ=DAILY;COUNT=2", local(2027, 3, 27, 3, 30), utc(2027, 1, 1), utc(2028, 1, 1)
    )
    assert instants == [utc(2027, 3, 27, 1, 30), utc(2027, 3, 28, 1, 30)]


# Mostly a window from about the first start for two years, sometimes a later or shorter one.
WINDOW_OFFSET_DAYS = st.one_of(st.integers(-1, 3), st.integers(-2, 400))
WINDOW_LENGTH_DAYS = st.one_of(st.just(2 * 365), st.integers(1, 2 * 365))


@settings(max_examples=300, deadline=None)
@given(series(), WINDOW_OFFSET_DAYS, WINDOW_LENGTH_DAYS)
def test_expansion_agrees_with_recurring_ical_events(
    drawn: tuple[str, dt.datetime], offset_days: int, length_days: int
) -> None:
    text, start = drawn
    rule = parse_rule(text, start, RIGA)
    window_start = to_local(start, RIGA).astimezone(dt.UTC) + dt.timedelta(days=offset_days)
    window_end = window_start + dt.timedelta(days=length_days)
    ours = expand(rule, start, RIGA, window_start, window_end)
    assert ours == reference_starts(text, start, window_start, window_end)
