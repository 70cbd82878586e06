"""Series files: the issue's example imports exactly, and a bad file saves nothing at all."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.conftest import isolated_environ
from vcs.bootstrap import initialise
from vcs.clock import FixedClock
from vcs.config import load_settings
from vcs.context import Context
from vcs.planning.materialize import materialize_all
from vcs.planning.series import ImportedSeries, SeriesError, import_series, read_series_file
from vcs.storage.models import AuditEntry, Series, Session

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
SLUG = "jaunatnes-lietu-videokonferences"
NOTHING_DONE = "0 created, 0 updated, 0 removed, 0 cancelled, 0 reinstated"

# Copied exactly from issue 3 ("Example that must work").
ISSUE_EXAMPLE = """\
[[series]]
slug = "jaunatnes-lietu-videokonferences"
title = { lv = "Jaunatnes lietu speciālistu videokonferences", en = "Youth work videoconferences" }
rrule = "FREQ=MONTHLY;BYDAY=2TH"
start = "2026-12-10T10:00"
timezone = "Europe/Riga"
duration = "PT1H30M"
scope = "national"
place = { kind = "online" }
organiser = { name = "Jaunatnes lietu atbalsta tīkls", email = "tikls@example.lv" }
"""

# The example's keys as Python values, for files that change one thing.
EXAMPLE_ENTRY: dict[str, Any] = {
    "slug": SLUG,
    "title": {
        "lv": "Jaunatnes lietu speciālistu videokonferences",
        "en": "Youth work videoconferences",
    },
    "rrule": "FREQ=MONTHLY;BYDAY=2TH",
    "start": "2026-12-10T10:00",
    "timezone": "Europe/Riga",
    "duration": "PT1H30M",
    "scope": "national",
    "place": {"kind": "online"},
    "organiser": {"name": "Jaunatnes lietu atbalsta tīkls", "email": "tikls@example.lv"},
}


# -- factories ---------------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    """A Python value as TOML (JSON strings are valid TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{ " + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + " }"


def series_toml(**overrides: Any) -> str:
    """One [[series]] table: the issue's example with keys replaced, added or (None) removed."""
    entry = {**EXAMPLE_ENTRY, **overrides}
    lines = [f"{key} = {toml_value(value)}" for key, value in entry.items() if value is not None]
    return "[[series]]\n" + "\n".join(lines) + "\n"


def write_file(tmp_path: Path, *tables: str, name: str = "series.toml") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(tables), encoding="utf-8")
    return path


@contextlib.contextmanager
def installation(tmp_path: Path, database_url: str, **environ: str) -> Iterator[Context]:
    """A migrated installation on `database_url` whose clock stands at NOW."""
    settings = load_settings(isolated_environ(tmp_path, VCS_DATABASE_URL=database_url, **environ))
    context = Context.from_settings(settings, clock=FixedClock(NOW))
    initialise(context)
    try:
        yield context
    finally:
        context.close()


def import_file(context: Context, path: Path) -> list[ImportedSeries]:
    specs = read_series_file(path, context.settings.timezone)
    return import_series(context, specs, actor="test")


def riga_starts(context: Context) -> list[str]:
    """Every session's start in Riga time, soonest first."""
    riga = ZoneInfo("Europe/Riga")
    with context.database.session() as db:
        found = db.scalars(select(Session.start).order_by(Session.start))
        return [start.astimezone(riga).isoformat(timespec="minutes") for start in found]


def sessions_snapshot(context: Context) -> list[tuple[Any, ...]]:
    with context.database.session() as db:
        rows = db.execute(
            select(Session.id, Session.uid, Session.start, Session.end, Session.revision)
        )
        return sorted(tuple(row) for row in rows)


def row_counts(context: Context) -> dict[str, int]:
    with context.database.session() as db:
        return {
            model.__tablename__: db.scalar(select(func.count()).select_from(model)) or 0
            for model in (Series, Session, AuditEntry)
        }


def refused(context: Context, path: Path) -> list[str]:
    """The problems an import of `path` is refused with."""
    with pytest.raises(SeriesError) as raised:
        import_file(context, path)
    assert raised.value.problems, "a SeriesError without problems"
    return raised.value.lines()


# -- the issue's example -----------------------------------------------------------------------


def test_the_issue_example_gives_second_thursdays_at_ten_in_riga(
    any_database_url: str, tmp_path: Path
) -> None:
    with installation(tmp_path, any_database_url) as context:
        results = import_file(context, write_file(tmp_path, ISSUE_EXAMPLE))
        created = "6 created, 0 updated, 0 removed, 0 cancelled, 0 reinstated"
        assert results == [ImportedSeries(SLUG, "created", created)]
        # Summer time starts on 28 March 2027: the offset changes, 10.00 stays.
        assert riga_starts(context) == [
            "2026-12-10T10:00+02:00",
            "2027-01-14T10:00+02:00",
            "2027-02-11T10:00+02:00",
            "2027-03-11T10:00+02:00",
            "2027-04-08T10:00+03:00",
            "2027-05-13T10:00+03:00",
        ]


def test_importing_the_example_again_is_same_and_creates_nothing(
    any_database_url: str, tmp_path: Path
) -> None:
    with installation(tmp_path, any_database_url) as context:
        path = write_file(tmp_path, ISSUE_EXAMPLE)
        import_file(context, path)
        before = sessions_snapshot(context)
        assert len(before) == 6
        assert import_file(context, path) == [ImportedSeries(SLUG, "same", NOTHING_DONE)]
        assert sessions_snapshot(context) == before
        with context.database.session() as db:
            report = materialize_all(db, NOW, context.settings.horizon, context.settings.host)
        assert str(report) == NOTHING_DONE
        assert sessions_snapshot(context) == before


def test_a_minimal_series_gets_the_documented_defaults(
    any_database_url: str, tmp_path: Path
) -> None:
    minimal = series_toml(
        title="Videokonferences", timezone=None, scope=None, place=None, organiser=None
    )
    with installation(tmp_path, any_database_url) as context:
        import_file(context, write_file(tmp_path, minimal))
        with context.database.session() as db:
            series = db.scalars(select(Series)).one()
            assert (series.title_lv, series.title_en) == ("Videokonferences", "")
            assert series.timezone == "Europe/Riga"
            assert series.region_id is None
            assert series.place == {"kind": "online"}
            assert series.visibility == "public"
            assert series.livestream_provider == "static"
            assert series.active is True
            assert series.revision == 1


def test_a_regional_hybrid_series_keeps_its_region_place_and_funding(
    any_database_url: str, tmp_path: Path
) -> None:
    regional = series_toml(
        slug="vidzemes-tiksanas",
        rrule="rrule:freq=monthly;byday=-1we",
        start="2026-12-30T13:00",
        scope="region",
        region="vidzeme",
        place={
            "kind": "hybrid",
            "venue": "Valmieras jauniešu centrs",
            "address": "Rīgas iela 10, Valmiera",
            "municipality": "valmieras-novads",
        },
        exdates=["2027-03-31T13:00"],
        funding={"text": {"lv": "Ar ESF+ atbalstu.", "en": "Supported by ESF+."}, "project": "4.2"},
    )
    with installation(tmp_path, any_database_url) as context:
        import_file(context, write_file(tmp_path, regional))
        with context.database.session() as db:
            series = db.scalars(select(Series)).one()
            assert series.region is not None and series.region.slug == "vidzeme"
            assert series.rrule == "FREQ=MONTHLY;BYDAY=-1WE"
            assert series.place["municipality"] == "valmieras-novads"
            assert (series.funding_text_lv, series.funding_project) == ("Ar ESF+ atbalstu.", "4.2")
        # The last Wednesday of March is left out by the exdate, in local time.
        assert [start[:10] for start in riga_starts(context)] == [
            "2026-12-30",
            "2027-01-27",
            "2027-02-24",
            "2027-04-28",
        ]


# -- bad input -----------------------------------------------------------------------------------

HYBRID_WITHOUT_VENUE = {"kind": "hybrid", "address": "Rīgas iela 10, Valmiera"}
VENUE_IN_NOWHERE = {"kind": "venue", "venue": "JC", "address": "Iela 1", "municipality": "nav"}

# (what is wrong, the series table, extra settings, the field named, words of the problem)
BAD_INPUTS: list[tuple[str, str, dict[str, str], str, str]] = [
    ("invalid rrule", series_toml(rrule="FREQ=MONTHLY;BYDAY=2XX"), {}, "rrule", "BYDAY=2XX"),
    (
        "unknown time zone",
        series_toml(timezone="Europe/Rigaa"),
        {},
        "timezone",
        "unknown time zone 'Europe/Rigaa'",
    ),
    (
        "until before the start",
        series_toml(rrule="FREQ=MONTHLY;BYDAY=2TH;UNTIL=20261201"),
        {},
        "rrule",
        "is before the first start",
    ),
    ("freq finer than daily", series_toml(rrule="FREQ=HOURLY"), {}, "rrule", "finer than DAILY"),
    (
        "too many sessions in the horizon",
        series_toml(rrule="FREQ=DAILY"),
        {"VCS_SESSIONS_MAX_PER_SERIES": "5"},
        "rrule",
        "more than the allowed 5",
    ),
    ("negative duration", series_toml(duration="-PT1H"), {}, "duration", "'-PT1H'"),
    ("zero duration", series_toml(duration="PT0M"), {}, "duration", "longer than zero"),
    (
        "typo in a key",
        series_toml(title=None, titel={"lv": "Videokonferences"}),
        {},
        "titel",
        "did you mean 'title'?",
    ),
    (
        "unknown region",
        series_toml(scope="region", region="latgalee"),
        {},
        "region",
        "unknown planning region 'latgalee'",
    ),
    (
        "unknown municipality",
        series_toml(place=VENUE_IN_NOWHERE),
        {},
        "place.municipality",
        "unknown municipality 'nav'",
    ),
    (
        "hybrid without venue",
        series_toml(place=HYBRID_WITHOUT_VENUE),
        {},
        "place.venue",
        "needs its venue",
    ),
]
# Problems found only when saving (they need the database) leave out the file and the number.


@pytest.mark.parametrize(
    ("table", "environ", "field", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUTS],
)
def test_a_bad_series_names_the_series_field_and_problem_and_saves_nothing(
    any_database_url: str,
    tmp_path: Path,
    table: str,
    environ: dict[str, str],
    field: str,
    words: str,
) -> None:
    with installation(tmp_path, any_database_url, **environ) as context:
        before = row_counts(context)
        problems = refused(context, write_file(tmp_path, table))
        matching = [p for p in problems if f"{field}: " in p and words in p]
        assert len(matching) == 1, problems
        assert SLUG in matching[0]
        assert row_counts(context) == before


@pytest.mark.parametrize(
    ("table", "environ", "field"),
    [
        pytest.param(
            *case[1:4],
            id=case[0],
        )
        for case in BAD_INPUTS
    ],
)
def test_every_problem_starts_with_the_file_and_the_series_number(
    any_database_url: str, tmp_path: Path, table: str, environ: dict[str, str], field: str
) -> None:
    with installation(tmp_path, any_database_url, **environ) as context:
        path = write_file(tmp_path, table, name="videokonferences.toml")
        problems = refused(context, path)
        prefix = f"{path}: series #1 ({SLUG}): {field}: "
        assert any(problem.startswith(prefix) for problem in problems), problems


def test_duplicate_slugs_in_one_file_are_refused(any_database_url: str, tmp_path: Path) -> None:
    with installation(tmp_path, any_database_url) as context:
        path = write_file(tmp_path, series_toml(), series_toml(title="Otrā"))
        problems = refused(context, path)
        assert problems == [
            f"{path}: slug {SLUG!r} is used by more than one series: series #1 and series #2"
        ]
        assert row_counts(context) == {"series": 0, "sessions": 0, "audit_log": 0}


def test_duplicate_slugs_name_the_series_that_share_them(tmp_path: Path) -> None:
    path = write_file(tmp_path, series_toml(), series_toml(title="Otrā"))
    with pytest.raises(SeriesError) as raised:
        read_series_file(path)
    assert any("series #2" in problem for problem in raised.value.lines())


def test_a_file_whose_second_series_is_bad_saves_neither(
    any_database_url: str, tmp_path: Path
) -> None:
    good = series_toml()
    bad = series_toml(slug="latgales-tiksanas", scope="region", region="latgalee")
    with installation(tmp_path, any_database_url) as context:
        problems = refused(context, write_file(tmp_path, good, bad))
        assert len(problems) == 1 and "latgales-tiksanas" in problems[0]
        assert row_counts(context) == {"series": 0, "sessions": 0, "audit_log": 0}


def test_a_failed_file_also_undoes_its_changes_to_existing_series(
    any_database_url: str, tmp_path: Path
) -> None:
    with installation(tmp_path, any_database_url) as context:
        import_file(context, write_file(tmp_path, ISSUE_EXAMPLE, name="first.toml"))
        before, sessions = row_counts(context), sessions_snapshot(context)
        changed = series_toml(title="Jauns nosaukums", rrule="FREQ=MONTHLY;BYDAY=2TH;COUNT=2")
        bad = series_toml(slug="latgales-tiksanas", scope="region", region="latgalee")
        refused(context, write_file(tmp_path, changed, bad, name="second.toml"))
        assert row_counts(context) == before
        assert sessions_snapshot(context) == sessions
        with context.database.session() as db:
            series = db.scalars(select(Series)).one()
            assert (series.title_lv, series.rrule, series.revision) == (
                "Jaunatnes lietu speciālistu videokonferences",
                "FREQ=MONTHLY;BYDAY=2TH",
                1,
            )


@pytest.mark.parametrize(
    ("watch_url", "problem"),
    [
        ("https://meet.jit.si/{room}", "only {date}, {slug} and {id} can be filled in"),
        ("meet.jit.si/tikls", "'meet.jit.si/tikls' is not an http(s) address"),
    ],
)
def test_a_bad_watch_url_is_refused(
    any_database_url: str, tmp_path: Path, watch_url: str, problem: str
) -> None:
    table = series_toml(livestream={"provider": "static", "watch_url": watch_url})
    with installation(tmp_path, any_database_url) as context:
        path = write_file(tmp_path, table)
        problems = refused(context, path)
        assert problems == [f"{path}: series #1 ({SLUG}): livestream.watch_url: {problem}"]
        assert row_counts(context) == {"series": 0, "sessions": 0, "audit_log": 0}


def test_a_typo_in_a_livestream_key_is_refused(any_database_url: str, tmp_path: Path) -> None:
    table = series_toml(livestream={"provider": "static", "watch_ulr": "https://meet.jit.si/x"})
    with installation(tmp_path, any_database_url) as context:
        problems = refused(context, write_file(tmp_path, table))
        assert any("livestream.watch_ulr: " in problem for problem in problems), problems


def test_a_start_as_toml_local_date_time_is_the_same_as_text(
    any_database_url: str, tmp_path: Path
) -> None:
    unquoted = ISSUE_EXAMPLE.replace('start = "2026-12-10T10:00"', "start = 2026-12-10T10:00:00")
    with installation(tmp_path, any_database_url) as context:
        import_file(context, write_file(tmp_path, ISSUE_EXAMPLE))
        assert import_file(context, write_file(tmp_path, unquoted, name="unquoted.toml")) == [
            ImportedSeries(SLUG, "same", NOTHING_DONE)
        ]


def test_a_start_without_a_time_is_refused(any_database_url: str, tmp_path: Path) -> None:
    with installation(tmp_path, any_database_url) as context:
        problems = refused(context, write_file(tmp_path, series_toml(start="2026-12-10")))
        assert any("start: " in problem for problem in problems), problems


def test_an_empty_title_is_refused(any_database_url: str, tmp_path: Path) -> None:
    with installation(tmp_path, any_database_url) as context:
        problems = refused(context, write_file(tmp_path, series_toml(title="  ")))
        assert any("title" in problem for problem in problems), problems


# -- updating through a changed file -------------------------------------------------------------


def test_a_changed_title_is_a_new_revision_with_before_and_after_in_the_audit_log(
    any_database_url: str, tmp_path: Path
) -> None:
    with installation(tmp_path, any_database_url) as context:
        import_file(context, write_file(tmp_path, ISSUE_EXAMPLE))
        sessions = sessions_snapshot(context)
        renamed = series_toml(title={"lv": "Tīkla videokonferences", "en": "Network meetings"})
        results = import_file(context, write_file(tmp_path, renamed, name="renamed.toml"))
        assert results == [ImportedSeries(SLUG, "changed", NOTHING_DONE)]
        # The same sessions; calendars see the new title through a higher SEQUENCE.
        assert sessions_snapshot(context) == [(*row[:-1], row[-1] + 1) for row in sessions]
        with context.database.session() as db:
            series = db.scalars(select(Series)).one()
            assert (series.title_lv, series.revision) == ("Tīkla videokonferences", 2)
            update = db.scalars(select(AuditEntry).where(AuditEntry.action == "update")).one()
            assert update.actor == "test"
            assert (update.entity, update.entity_id) == ("series", str(series.id))
            assert update.before == {
                "title_lv": "Jaunatnes lietu speciālistu videokonferences",
                "title_en": "Youth work videoconferences",
            }
            assert update.after == {
                "title_lv": "Tīkla videokonferences",
                "title_en": "Network meetings",
            }


def test_a_key_left_out_of_a_later_file_takes_its_default_again(
    any_database_url: str, tmp_path: Path
) -> None:
    described = series_toml(description={"lv": "Ikmēneša videokonference"}, tags=["pieredze"])
    with installation(tmp_path, any_database_url) as context:
        import_file(context, write_file(tmp_path, described, name="first.toml"))
        results = import_file(context, write_file(tmp_path, ISSUE_EXAMPLE, name="second.toml"))
        assert [result.outcome for result in results] == ["changed"]
        with context.database.session() as db:
            series = db.scalars(select(Series)).one()
            assert (series.description_lv, series.tags, series.revision) == ("", [], 2)


def test_a_series_left_out_of_a_later_file_stays(any_database_url: str, tmp_path: Path) -> None:
    other = series_toml(slug="vidzemes-tiksanas", start="2026-12-10T13:00")
    with installation(tmp_path, any_database_url) as context:
        import_file(context, write_file(tmp_path, ISSUE_EXAMPLE, other, name="both.toml"))
        before = sessions_snapshot(context)
        assert len(before) == 12
        assert import_file(context, write_file(tmp_path, ISSUE_EXAMPLE, name="one.toml")) == [
            ImportedSeries(SLUG, "same", NOTHING_DONE)
        ]
        assert sessions_snapshot(context) == before
        with context.database.session() as db:
            assert sorted(db.scalars(select(Series.slug))) == [SLUG, "vidzemes-tiksanas"]
