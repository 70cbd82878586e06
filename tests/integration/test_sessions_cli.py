"""`vcs series` and `vcs sessions` from the shell, against a temporary SQLite file.

These run `python -m vcs` with the real clock, so the series start next January: far enough
ahead to be in the future whenever the tests run, and inside a horizon of 800 days.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import isolated_environ

YEAR = dt.date.today().year + 1
SLUG = "jaunatnes-lietu-videokonferences"
NOTHING_DONE = "0 created, 0 updated, 0 removed, 0 cancelled, 0 reinstated"


# -- factories ---------------------------------------------------------------------------------


def vcs(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `vcs ARGS` on the installation under tmp_path."""
    environ = {
        "PATH": "/usr/bin:/bin",
        **isolated_environ(tmp_path, VCS_SESSIONS_HORIZON_DAYS="800"),
    }
    return subprocess.run(
        [sys.executable, "-m", "vcs", *args],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


def ok(tmp_path: Path, *args: str) -> str:
    """Run a command that must succeed; its standard output."""
    result = vcs(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def series_toml(**overrides: str) -> str:
    """One [[series]] table: on the 15th of every month at 10.00 Riga time from next January."""
    values = {
        "slug": f'"{SLUG}"',
        "title": '{ lv = "Jaunatnes lietu speciālistu videokonferences", en = "Youth work" }',
        "rrule": '"FREQ=MONTHLY;BYMONTHDAY=15"',
        "start": f'"{YEAR}-01-15T10:00"',
        "timezone": '"Europe/Riga"',
        "duration": '"PT1H30M"',
        "place": '{ kind = "online" }',
        **overrides,
    }
    return "[[series]]\n" + "".join(f"{key} = {value}\n" for key, value in values.items())


def write_file(tmp_path: Path, *tables: str, name: str = "series.toml") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(tables), encoding="utf-8")
    return path


def installed_with_series(tmp_path: Path, *tables: str) -> Path:
    """`vcs init`, then `vcs series import` of a file with `tables` (the default series if none)."""
    ok(tmp_path, "init")
    path = write_file(tmp_path, *(tables or (series_toml(),)))
    ok(tmp_path, "series", "import", str(path))
    return path


def sessions_json(tmp_path: Path, *args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(ok(tmp_path, "sessions", "list", "--json", *args))
    return rows


def first_quarter(tmp_path: Path) -> list[dict[str, Any]]:
    """The default series' sessions in January and February next year."""
    return sessions_json(
        tmp_path, "--series", SLUG, "--from", f"{YEAR}-01-01", "--to", f"{YEAR}-03-01"
    )


# -- vcs series --------------------------------------------------------------------------------


def test_series_import_prints_created_then_same(tmp_path: Path) -> None:
    ok(tmp_path, "init")
    path = write_file(tmp_path, series_toml())
    first = ok(tmp_path, "series", "import", str(path)).splitlines()
    assert len(first) == 1
    assert first[0].startswith(f"{SLUG}: created; sessions: ")
    assert not first[0].startswith(f"{SLUG}: created; sessions: 0 created")
    second = ok(tmp_path, "series", "import", str(path))
    assert second == f"{SLUG}: same; sessions: {NOTHING_DONE}\n"


def test_a_bad_file_exits_1_with_one_line_per_problem_and_saves_nothing(tmp_path: Path) -> None:
    ok(tmp_path, "init")
    good = series_toml(slug='"cits"')
    bad = series_toml(duration='"PT0M"', timezone='"Europe/Rigaa"')
    path = write_file(tmp_path, good, bad, name="slikts.toml")
    result = vcs(tmp_path, "series", "import", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "vcs: nothing was saved:"
    label = f"{path}: series #2 ({SLUG})"
    assert lines[1:] == [
        f"{label}: timezone: unknown time zone 'Europe/Rigaa' (use an IANA name like Europe/Riga)",
        f"{label}: duration: PT0M must be longer than zero",
    ]
    assert json.loads(ok(tmp_path, "series", "list", "--json")) == []
    assert sessions_json(tmp_path) == []


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    ok(tmp_path, "init")
    result = vcs(tmp_path, "series", "import", str(tmp_path / "nav.toml"))
    assert result.returncode == 1
    assert result.stderr == f"vcs: nothing was saved:\n{tmp_path / 'nav.toml'}: no such file\n"


def test_series_list_json_has_the_slug_and_the_canonical_rule(tmp_path: Path) -> None:
    installed_with_series(tmp_path, series_toml(rrule='"rrule:freq=monthly;bymonthday=15"'))
    rows = json.loads(ok(tmp_path, "series", "list", "--json"))
    assert [(row["slug"], row["rrule"]) for row in rows] == [(SLUG, "FREQ=MONTHLY;BYMONTHDAY=15")]
    assert rows[0]["start"] == f"{YEAR}-01-15T10:00"
    assert (rows[0]["scope"], rows[0]["revision"]) == ("national", 1)


# -- vcs sessions ------------------------------------------------------------------------------


def test_sessions_list_filters_by_series_and_dates(tmp_path: Path) -> None:
    members = series_toml(slug='"koordinatori"', visibility='"members"')
    installed_with_series(tmp_path, series_toml(), members)
    rows = first_quarter(tmp_path)
    assert [(row["series"], row["start"]) for row in rows] == [
        (SLUG, f"{YEAR}-01-15T10:00:00+02:00"),
        (SLUG, f"{YEAR}-02-15T10:00:00+02:00"),
    ]
    assert rows[0]["end"] == f"{YEAR}-01-15T11:30:00+02:00"
    # Staff see members-only series too.
    january = sessions_json(tmp_path, "--from", f"{YEAR}-01-01", "--to", f"{YEAR}-02-01")
    assert sorted(row["series"] for row in january) == sorted([SLUG, "koordinatori"])


def test_a_moved_session_keeps_its_uid_and_materialize_leaves_it_moved(tmp_path: Path) -> None:
    installed_with_series(tmp_path)
    january = first_quarter(tmp_path)[0]
    moved = ok(tmp_path, "sessions", "move", str(january["id"]), "--start", f"{YEAR}-01-16T10:00")
    assert moved == f"session {january['id']} moved to {YEAR}-01-16T10:00:00+02:00\n"
    after = first_quarter(tmp_path)[0]
    assert (after["id"], after["uid"]) == (january["id"], january["uid"])
    assert after["revision"] == january["revision"] + 1
    assert (after["start"], after["end"]) == (
        f"{YEAR}-01-16T10:00:00+02:00",
        f"{YEAR}-01-16T11:30:00+02:00",
    )
    everything = sessions_json(tmp_path)
    assert ok(tmp_path, "jobs", "run", "materialize") == f"materialize: {NOTHING_DONE}\n"
    assert sessions_json(tmp_path) == everything
    assert [row["start"][:10] for row in first_quarter(tmp_path)] == [
        f"{YEAR}-01-16",
        f"{YEAR}-02-15",
    ]


def test_a_session_can_be_cancelled_with_a_reason_and_reinstated(tmp_path: Path) -> None:
    installed_with_series(tmp_path)
    february = first_quarter(tmp_path)[1]
    session = str(february["id"])
    cancelled = ok(tmp_path, "sessions", "cancel", session, "--reason", "Lektore saslima")
    assert cancelled == f"session {session} cancelled\n"
    row = first_quarter(tmp_path)[1]
    assert (row["status"], row["cancel_reason"]) == ("cancelled", "Lektore saslima")
    assert "[cancelled]" in ok(tmp_path, "sessions", "list", "--series", SLUG)
    # A staff cancellation is an edit: materializing does not reinstate it.
    ok(tmp_path, "jobs", "run", "materialize")
    assert first_quarter(tmp_path)[1]["status"] == "cancelled"
    assert ok(tmp_path, "sessions", "reinstate", session) == f"session {session} reinstated\n"
    row = first_quarter(tmp_path)[1]
    assert (row["status"], row["cancel_reason"]) == ("scheduled", "")
    assert row["revision"] == february["revision"] + 2
    assert row["uid"] == february["uid"]


def test_cancelling_twice_or_without_a_reason_is_refused(tmp_path: Path) -> None:
    installed_with_series(tmp_path)
    session = str(first_quarter(tmp_path)[0]["id"])
    blank = vcs(tmp_path, "sessions", "cancel", session, "--reason", "  ")
    assert (blank.returncode, blank.stderr) == (
        1,
        "vcs: reason: say why the session is cancelled\n",
    )
    ok(tmp_path, "sessions", "cancel", session, "--reason", "Svētki")
    again = vcs(tmp_path, "sessions", "cancel", session, "--reason", "Svētki")
    assert (again.returncode, again.stderr) == (1, f"vcs: session {session} is already cancelled\n")


def test_an_unknown_session_id_is_named(tmp_path: Path) -> None:
    installed_with_series(tmp_path)
    result = vcs(tmp_path, "sessions", "move", "999", "--start", f"{YEAR}-01-15T10:00")
    assert result.returncode == 1
    assert result.stderr == "vcs: no session with id 999\n"
    assert vcs(tmp_path, "sessions", "cancel", "999", "--reason", "x").stderr == (
        "vcs: no session with id 999\n"
    )


def test_a_bad_start_for_a_move_is_one_line(tmp_path: Path) -> None:
    installed_with_series(tmp_path)
    session = str(first_quarter(tmp_path)[0]["id"])
    result = vcs(tmp_path, "sessions", "move", session, "--start", "rīt desmitos")
    assert result.returncode == 1
    assert result.stderr == (
        "vcs: 'rīt desmitos' is not a date and time like 11.03.2027 10:00 or 2027-03-11T10:00\n"
    )
