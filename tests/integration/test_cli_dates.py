"""Dates typed the way people in Latvia write them, wherever a command takes one, and tables
whose columns stay in line whatever their width."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_sessions_cli import (
    SLUG,
    YEAR,
    first_quarter,
    installed_with_series,
    ok,
    series_toml,
    sessions_json,
)


def test_a_session_moves_to_a_date_and_time_typed_day_first(tmp_path: Path) -> None:
    installed_with_series(tmp_path)
    session = first_quarter(tmp_path)[0]
    assert session["start"] == f"{YEAR}-01-15T10:00:00+02:00"
    ok(tmp_path, "sessions", "move", str(session["id"]), "--start", f"16.01.{YEAR} 14:30")
    moved = sessions_json(tmp_path, "--from", f"16.01.{YEAR}", "--to", f"16.01.{YEAR}")
    assert [(row["id"], row["start"]) for row in moved] == [
        (session["id"], f"{YEAR}-01-16T14:30:00+02:00")
    ]
    assert moved[0]["end"] == f"{YEAR}-01-16T16:00:00+02:00"  # the length is kept


def test_a_day_typed_for_to_includes_that_whole_day(tmp_path: Path) -> None:
    installed_with_series(tmp_path)
    through_january = sessions_json(tmp_path, "--from", f"01.01.{YEAR}", "--to", f"15.01.{YEAR}")
    assert [row["start"][:10] for row in through_january] == [f"{YEAR}-01-15"]


def test_series_list_columns_stay_aligned_with_a_long_rule(tmp_path: Path) -> None:
    long_rule = '"FREQ=MONTHLY;BYMONTHDAY=15;BYMONTH=1,2,3,4,5,6,9,10,11,12;INTERVAL=1"'
    installed_with_series(
        tmp_path,
        series_toml(),
        series_toml(slug='"garais-noteikums"', rrule=long_rule),
    )
    lines = ok(tmp_path, "series", "list").splitlines()
    assert len(lines) == 2
    # The start date column begins at the same place on every line.
    starts = [line.index(f"{YEAR}-01-15") for line in lines]
    assert starts[0] == starts[1]
    assert any(line.startswith(SLUG) for line in lines)
