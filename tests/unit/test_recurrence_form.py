"""The series form's recurrence builder: each choice becomes an RRULE and comes back from it;
every rule the builder shows comes back as the same rule; rules it cannot show are said so."""

from __future__ import annotations

import datetime as dt
from itertools import islice
from typing import Any

import pytest
from dateutil import rrule as du
from hypothesis import given
from hypothesis import strategies as st

from vcs.planning.recurrence_form import (
    WEEKDAYS,
    Builder,
    builder_of,
    choose_rule,
    rule_in_words,
    rule_of,
    show_builder,
)

FIRST_START = dt.datetime(2026, 12, 10, 10, 0)


def occurrences(rule: str, count: int = 40) -> list[dt.datetime]:
    """The first starts of `rule` from a Thursday, by dateutil: what the rule means."""
    return list(islice(du.rrulestr(rule, dtstart=FIRST_START), count))


# -- each choice and back ------------------------------------------------------------------------

CHOICES = [
    (Builder(freq="DAILY"), "FREQ=DAILY"),
    (Builder(freq="DAILY", interval="3"), "FREQ=DAILY;INTERVAL=3"),
    (Builder(freq="WEEKLY"), "FREQ=WEEKLY"),
    (Builder(freq="WEEKLY", byday=("TU", "TH")), "FREQ=WEEKLY;BYDAY=TU,TH"),
    (Builder(freq="WEEKLY", interval="2", byday=("MO",)), "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
    (Builder(freq="MONTHLY"), "FREQ=MONTHLY"),
    (Builder(freq="MONTHLY", monthday="15"), "FREQ=MONTHLY;BYMONTHDAY=15"),
    (
        Builder(freq="MONTHLY", monthly="weekday", setpos="2", setpos_day="TH"),
        "FREQ=MONTHLY;BYDAY=2TH",
    ),
    (
        Builder(freq="MONTHLY", monthly="weekday", setpos="-1", setpos_day="FR"),
        "FREQ=MONTHLY;BYDAY=-1FR",
    ),
    (Builder(freq="YEARLY", interval="2"), "FREQ=YEARLY;INTERVAL=2"),
    (Builder(freq="WEEKLY", end="count", count="6"), "FREQ=WEEKLY;COUNT=6"),
    (
        Builder(
            freq="MONTHLY",
            monthly="weekday",
            setpos="2",
            setpos_day="TH",
            end="until",
            until="2027-06-30",
        ),
        "FREQ=MONTHLY;UNTIL=20270630;BYDAY=2TH",
    ),
]


@pytest.mark.parametrize(("builder", "rule"), CHOICES, ids=[rule for _b, rule in CHOICES])
def test_each_builder_choice_becomes_its_rule_and_comes_back(builder: Builder, rule: str) -> None:
    assert rule_of(builder) == (rule, [])
    assert builder_of(rule) == builder


def test_controls_the_frequency_does_not_use_are_left_out() -> None:
    daily = Builder(freq="DAILY", byday=("MO",), monthday="5", setpos="2", monthly="weekday")
    assert rule_of(daily) == ("FREQ=DAILY", [])
    weekly = Builder(freq="WEEKLY", monthday="5", byday=("FR", "MO"), count="9")
    assert rule_of(weekly) == ("FREQ=WEEKLY;BYDAY=MO,FR", [])


def test_another_spelling_of_a_rule_comes_back_in_the_canonical_one() -> None:
    builder = builder_of("rrule:freq=weekly; byday=th,mo; interval=01; wkst=MO")
    assert builder == Builder(freq="WEEKLY", byday=("MO", "TH"))
    assert rule_of(builder) == ("FREQ=WEEKLY;BYDAY=MO,TH", [])
    assert builder_of("FREQ=MONTHLY;BYDAY=+2TH") == Builder(
        freq="MONTHLY", monthly="weekday", setpos="2", setpos_day="TH"
    )


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"interval": "0"}, "interval", "FREQ=WEEKLY"),
        ({"interval": "divi"}, "interval", "FREQ=WEEKLY"),
        ({"interval": "²"}, "interval", "FREQ=WEEKLY"),
        ({"interval": "9" * 5000}, "interval", "FREQ=WEEKLY"),
        ({"interval": "1001"}, "interval", "FREQ=WEEKLY"),
        ({"end": "count", "count": ""}, "count", "FREQ=WEEKLY"),
        ({"end": "count", "count": "1001"}, "count", "FREQ=WEEKLY"),
        ({"end": "until", "until": "30.06.2027"}, "until", "FREQ=WEEKLY"),
        ({"freq": "MONTHLY", "monthday": "32"}, "monthday", "FREQ=MONTHLY"),
    ],
)
def test_a_control_out_of_bounds_is_a_problem_beside_it_and_left_out_of_the_rule(
    changes: dict[str, str], field: str, rule: str
) -> None:
    made, problems = rule_of(Builder(**changes))
    assert made == rule
    assert [problem.field for problem in problems] == [field]
    text = problems[0].text("lv")
    assert text.startswith("Norādiet"), text


@pytest.mark.parametrize(
    ("start", "rule"),
    [
        ("2026-12-10T10:00", "FREQ=MONTHLY;BYDAY=2TH"),
        ("2026-12-01T10:00", "FREQ=MONTHLY;BYDAY=1TU"),
        ("2026-12-28T10:00", "FREQ=MONTHLY;BYDAY=4MO"),
        ("2026-12-30T13:00", "FREQ=MONTHLY;BYDAY=-1WE"),
    ],
)
def test_a_weekday_of_the_month_left_as_on_the_first_start_takes_the_starts(
    start: str, rule: str
) -> None:
    made, problems = rule_of(Builder(freq="MONTHLY", monthly="weekday"), start)
    assert (made, problems) == (rule, [])


def test_a_chosen_weekday_of_the_month_wins_over_the_first_start() -> None:
    chosen = Builder(freq="MONTHLY", monthly="weekday", setpos="3", setpos_day="FR")
    assert rule_of(chosen, "2026-12-10T10:00") == ("FREQ=MONTHLY;BYDAY=3FR", [])


def test_the_problems_are_in_the_visitors_language() -> None:
    _rule, problems = rule_of(Builder(interval="0", end="until", until="x"))
    assert [problem.text("en") for problem in problems] == [
        "Give a whole number from 1 to 1000.",
        "Give the last date like 2027-06-30.",
    ]


def test_an_until_before_the_year_1000_is_spelt_with_four_digits() -> None:
    made, _problems = rule_of(Builder(freq="DAILY", end="until", until="0999-01-01"))
    assert made == "FREQ=DAILY;UNTIL=09990101"
    assert builder_of(made) == Builder(freq="DAILY", end="until", until="0999-01-01")


# -- every rule the builder can show round-trips -----------------------------------------------


@st.composite
def builders(draw: st.DrawFn) -> Builder:
    """Any choice a person can make in the builder, with the controls its frequency uses."""
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    fields: dict[str, Any] = {"freq": freq, "interval": str(draw(st.integers(1, 1000)))}
    fields["end"] = draw(st.sampled_from(["never", "count", "until"]))
    if fields["end"] == "count":
        fields["count"] = str(draw(st.integers(1, 1000)))
    elif fields["end"] == "until":
        fields["until"] = draw(st.dates(dt.date(1000, 1, 1), dt.date(9999, 12, 31))).isoformat()
    if freq == "WEEKLY":
        days = draw(st.sets(st.sampled_from(WEEKDAYS)))
        fields["byday"] = tuple(day for day in WEEKDAYS if day in days)
    elif freq == "MONTHLY" and draw(st.booleans()):
        fields.update(
            monthly="weekday",
            setpos=draw(st.sampled_from(["1", "2", "3", "4", "-1"])),
            setpos_day=draw(st.sampled_from(WEEKDAYS)),
        )
    elif freq == "MONTHLY" and draw(st.booleans()):
        fields["monthday"] = str(draw(st.integers(1, 31)))
    return Builder(**fields)


@given(builders())
def test_every_builder_choice_round_trips(builder: Builder) -> None:
    rule, problems = rule_of(builder)
    assert problems == []
    assert builder_of(rule) == builder


PIECES = {
    "FREQ": ["DAILY", "WEEKLY", "MONTHLY", "YEARLY", "HOURLY"],
    "INTERVAL": ["1", "2", "01", "0", "1000", "1001"],
    "COUNT": ["1", "6", "1000", "1001", "0"],
    "UNTIL": ["20270630", "20270630T100000Z"],
    "BYDAY": ["MO", "TH,MO", "MO,MO", "2TH", "+2TH", "-1FR", "5TH", "1MO,3MO", "MO,1TU"],
    "BYMONTHDAY": ["15", "05", "-1", "32"],
    "BYMONTH": ["6"],
    "BYSETPOS": ["-1"],
    "WKST": ["MO", "SU"],
}


@st.composite
def rules(draw: st.DrawFn) -> str:
    """Rules typed by hand: any mix of parts, in any order and case."""
    names = draw(st.lists(st.sampled_from(sorted(PIECES)), unique=True, max_size=3))
    # Mostly with a FREQ, at any place: a rule without one is never the builder's.
    if draw(st.integers(0, 9)) and "FREQ" not in names:
        names.insert(draw(st.integers(0, len(names))), "FREQ")
    pieces = [f"{name}={draw(st.sampled_from(PIECES[name]))}" for name in names]
    text = ";".join(pieces)
    return text.lower() if draw(st.booleans()) else text


@given(rules())
def test_every_rule_the_builder_shows_comes_back_meaning_the_same(rule: str) -> None:
    builder = builder_of(rule)
    if builder is None:
        assert rule_in_words(rule, "en") == rule
        return
    again, problems = rule_of(builder)
    assert problems == []
    assert builder_of(again) == builder
    assert occurrences(again) == occurrences(rule.upper())


# -- rules the builder cannot show -----------------------------------------------------------------


CANNOT_SHOW = [
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",  # the last weekday
    "FREQ=YEARLY;BYMONTH=6",
    "FREQ=WEEKLY;WKST=SU",
    "FREQ=HOURLY",
    "FREQ=MONTHLY;BYDAY=1MO,3MO",  # two numbered weekdays
    "FREQ=MONTHLY;BYDAY=TH",  # every Thursday of the month
    "FREQ=MONTHLY;BYDAY=5TH",  # a fifth, which the builder does not offer
    "FREQ=MONTHLY;BYMONTHDAY=-1",
    "FREQ=MONTHLY;BYMONTHDAY=1;BYDAY=1MO",
    "FREQ=WEEKLY;BYMONTHDAY=1",
    "FREQ=DAILY;BYDAY=MO",
    "FREQ=WEEKLY;UNTIL=20270630T100000Z",  # a time, not a date
    "FREQ=WEEKLY;COUNT=6;UNTIL=20270630",
    "FREQ=WEEKLY;COUNT=2000",  # beyond the builder's bound
    "FREQ=DAILY;INTERVAL=1001",
    "INTERVAL=2",  # no FREQ
    "FREQ=WEEKLY;FREQ=DAILY",
    "katru nedēļu",
    "",
]


@pytest.mark.parametrize("rule", CANNOT_SHOW)
def test_a_rule_the_builder_cannot_show_is_said_so(rule: str) -> None:
    assert builder_of(rule) is None
    values = {"rrule": rule, "freq": "WEEKLY"}
    assert show_builder(values) is (rule == "")
    assert rule_in_words(rule, "lv") == rule


# -- the form: which of the two wins ---------------------------------------------------------------


def form(**changes: object) -> dict[str, object]:
    """The series form's recurrence fields as sent: the builder on "second Thursdays"."""
    values: dict[str, object] = {
        **Builder(freq="MONTHLY", monthly="weekday", setpos="2", setpos_day="TH").fields(),
        "rrule": "FREQ=MONTHLY;BYDAY=2TH",
        "rrule_shown": "FREQ=MONTHLY;BYDAY=2TH",
    }
    values.update(changes)
    return values


def test_the_builder_writes_the_rule_when_the_raw_field_is_untouched() -> None:
    values = form(setpos="-1")
    assert choose_rule(values) == []
    assert values["rrule"] == "FREQ=MONTHLY;BYDAY=-1TH"


def test_a_rule_typed_by_hand_wins_over_the_builder() -> None:
    values = form(setpos="-1", rrule="FREQ=YEARLY;BYMONTH=6")
    assert choose_rule(values) == []
    assert values["rrule"] == "FREQ=YEARLY;BYMONTH=6"
    # The builder cannot show it: the page disables it and keeps the controls as they were.
    assert show_builder(values) is False
    assert values["setpos"] == "-1"


def test_a_disabled_builder_sends_nothing_and_the_raw_rule_stays() -> None:
    values = form(freq="", rrule="FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1")
    values["rrule_shown"] = values["rrule"]
    assert choose_rule(values) == []
    assert values["rrule"] == "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"


def test_the_builders_problems_come_back_naming_their_controls() -> None:
    values = form(interval="0", end="count", count="x")
    problems = choose_rule(values)
    assert [problem.field for problem in problems] == ["interval", "count"]
    assert values["rrule"] == "FREQ=MONTHLY;BYDAY=2TH"


def test_showing_a_rule_sets_the_controls_and_the_canonical_spelling() -> None:
    values: dict[str, object] = {"rrule": "byday=2th;freq=monthly"}
    assert show_builder(values) is True
    second_thursdays = Builder(freq="MONTHLY", monthly="weekday", setpos="2", setpos_day="TH")
    assert values == {**second_thursdays.fields(), "rrule": "FREQ=MONTHLY;BYDAY=2TH"}
    blank: dict[str, object] = {"rrule": "", "byday": ["MO"]}
    assert show_builder(blank) is True
    assert blank == {**Builder().fields(), "rrule": ""}


# -- in words --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "lang", "words"),
    [
        ("FREQ=MONTHLY;BYDAY=2TH", "lv", "katru mēnesi: otrā ceturtdiena"),
        ("FREQ=MONTHLY;BYDAY=2TH", "en", "every month: second Thursday"),
        (
            "FREQ=WEEKLY;INTERVAL=2;COUNT=6;BYDAY=MO,TH",
            "en",
            "every 2 weeks: Monday, Thursday; sessions in all: 6",
        ),
        (
            "FREQ=MONTHLY;UNTIL=20270630;BYMONTHDAY=15",
            "en",
            "every month: day 15; until 2027-06-30",
        ),
        ("FREQ=DAILY", "en", "every day"),
        ("FREQ=YEARLY;INTERVAL=3", "en", "every 3 years"),
    ],
)
def test_a_rule_in_words(rule: str, lang: str, words: str) -> None:
    assert rule_in_words(rule, lang) == words
