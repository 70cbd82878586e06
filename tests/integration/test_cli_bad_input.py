"""The CLI never shows a traceback for input: one `vcs:` line, exit 1, nothing half-saved.

The walking tests read the commands and their parameters from the click group itself, so a new
command is covered without touching this file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from tests.conftest import isolated_environ
from vcs.cli import cli, main

# Commands that serve or wait for a person rather than answer: not run here.
LONG_RUNNING = {("serve",), ("web",), ("scheduler",), ("google", "auth")}
BEYOND_ANY_ID = ["2147483648", "99999999999999999999", str(2**70), "9" * 5000]
HOSTILE = ["99999999999999999999", "0001-01-01", "9999-12-31T23:00", "x" * 5000, "-1"]
SERIES = """[[series]]
slug = "{slug}"
title = "Jaunatnes lietu speciālistu videokonferences"
rrule = "FREQ=MONTHLY;BYMONTHDAY=15"
start = "2027-01-15T10:00"
duration = {duration}
"""


def commands(
    group: click.Group = cli, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))
        elif (*prefix, name) not in LONG_RUNNING:
            yield (*prefix, name), command


def ordinary_args(command: click.Command, skip: click.Parameter | None = None) -> list[str]:
    """Plain values for the command's arguments and required options (but `skip`)."""
    args: list[str] = []
    for param in command.params:
        if param is skip:
            continue
        if isinstance(param, click.Argument):
            number = param.type.name in ("id", "integer")
            args.append("1" if number else "/nonexistent/file.csv")
        elif isinstance(param, click.Option) and param.required:
            args += [param.opts[0], "2027-01-15T10:00"]
    return args


def with_value(command: click.Command, param: click.Parameter, value: str) -> list[str]:
    rest = ordinary_args(command, skip=param)
    if isinstance(param, click.Argument):
        arguments = [p for p in command.params if isinstance(p, click.Argument)]
        rest.insert(arguments.index(param), value)
        return rest
    assert isinstance(param, click.Option)
    return [*rest, param.opts[0], value]


def one_vcs_line(result: Result | subprocess.CompletedProcess[str]) -> str:
    """The one `vcs:` line a refused command printed; fails on a traceback or a second line."""
    if isinstance(result, Result):
        code, err = result.exit_code, result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit), err
    else:
        code, err = result.returncode, result.stderr
    assert code == 1, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("vcs: ")]
    assert len(lines) == 1, err
    return lines[0]


def runner(tmp_path: Path, database_url: str | None = None) -> tuple[CliRunner, dict[str, str]]:
    """A runner on an initialised installation under tmp_path (on `database_url` if given)."""
    overrides = {"VCS_DATABASE_URL": database_url} if database_url else {}
    environ = isolated_environ(tmp_path, **overrides)
    run = CliRunner()
    assert run.invoke(cli, ["init"], env=environ).exit_code == 0
    return run, environ


def vcs(tmp_path: Path, *args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    """The real `vcs` command (its main(), as people run it) on the installation under tmp_path."""
    environ = {"PATH": "/usr/bin:/bin", **isolated_environ(tmp_path, **overrides)}
    return subprocess.run(
        [sys.executable, "-m", "vcs", *args], env=environ, capture_output=True, text=True
    )


# -- ids, dates, durations ------------------------------------------------------------------------


def test_every_id_argument_beyond_any_row_is_not_found_in_one_line(
    any_database_url: str, tmp_path: Path
) -> None:
    run, environ = runner(tmp_path, any_database_url)
    checked = 0
    for path, command in commands():
        for param in command.params:
            # A row id: vcs.cli.RowId ("id"), or a plain integer named like one.
            if param.type.name not in ("id", "integer") or not (param.name or "").endswith("_id"):
                continue
            for value in BEYOND_ANY_ID:
                result = run.invoke(cli, [*path, *with_value(command, param, value)], env=environ)
                line = one_vcs_line(result)
                assert line.startswith("vcs: no ") and line.endswith(f" with id {value}"), line
                checked += 1
    assert checked >= 20


def test_every_command_answers_hostile_values_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hostile values reach --output too: whatever they name is written here, not in the checkout.
    monkeypatch.chdir(tmp_path)
    run, environ = runner(tmp_path)
    checked = 0
    for path, command in commands():
        for param in command.params:
            if isinstance(param, click.Option) and (param.is_flag or param.name == "help"):
                continue
            for value in HOSTILE:
                args = [*path, *with_value(command, param, value)]
                result = run.invoke(cli, args, env=environ, input="")
                where = " ".join(arg[:30] for arg in args)
                assert result.exception is None or isinstance(result.exception, SystemExit), (
                    where,
                    repr(result.exception),
                )
                assert "Traceback" not in result.output, where
                checked += 1
    assert checked >= 100


def test_dates_outside_the_supported_years_are_one_line_and_nothing_moves(
    tmp_path: Path,
) -> None:
    run, environ = runner(tmp_path)
    (tmp_path / "series.toml").write_text(SERIES.format(slug="s", duration='"PT1H"'))
    imported = run.invoke(cli, ["series", "import", str(tmp_path / "series.toml")], env=environ)
    assert imported.exit_code == 0, imported.output
    before = run.invoke(cli, ["sessions", "list", "--json"], env=environ).stdout
    first = str(json.loads(before)[0]["id"])
    for args in (
        ["sessions", "list", "--from", "0001-01-01"],
        ["sessions", "list", "--to", "9999-12-31"],
        ["sessions", "move", first, "--start", "9999-12-31T23:00"],
        ["sessions", "move", first, "--start", "0001-01-01T00:00"],
        ["sessions", "move", first, "--start", "2027-01-15T11:00", "--end", "9999-12-31T23:00"],
    ):
        line = one_vcs_line(run.invoke(cli, args, env=environ))
        assert "the year must be from 1900 to 2999" in line, (args, line)
    assert run.invoke(cli, ["sessions", "list", "--json"], env=environ).stdout == before


def test_huge_or_odd_numbers_in_a_series_file_are_refused_and_nothing_is_saved(
    tmp_path: Path,
) -> None:
    run, environ = runner(tmp_path)
    tables = [SERIES.format(slug="kartiga", duration='"PT1H"')]
    huge = ['"P1000000000000D"', '"PT100000000000000000000M"', "1000000000000"]
    tables += [SERIES.format(slug=f"milziga-{n}", duration=value) for n, value in enumerate(huge)]
    rules = [
        "FREQ=DAILY;INTERVAL=²",
        "FREQ=DAILY;COUNT=" + "9" * 5000,
        "FREQ=MONTHLY;BYMONTHDAY=" + "9" * 5000,
    ]
    tables += [
        SERIES.format(slug=f"noteikums-{n}", duration='"PT1H"').replace(
            "FREQ=MONTHLY;BYMONTHDAY=15", rule
        )
        for n, rule in enumerate(rules)
    ]
    (tmp_path / "series.toml").write_text("\n".join(tables))
    result = run.invoke(cli, ["series", "import", str(tmp_path / "series.toml")], env=environ)
    assert one_vcs_line(result) == "vcs: nothing was saved:"
    for n in range(len(huge)):
        assert f"(milziga-{n}): duration: " in result.stderr
    for n in range(len(rules)):
        assert f"(noteikums-{n}): rrule: " in result.stderr
    assert json.loads(run.invoke(cli, ["series", "list", "--json"], env=environ).stdout) == []


def deeply_nested(levels: int = 100_000) -> str:
    return "[" * levels + "]" * levels


def test_deeply_nested_toml_is_refused_in_one_line(tmp_path: Path) -> None:
    assert vcs(tmp_path, "init").returncode == 0
    series = tmp_path / "series.toml"
    series.write_text(SERIES.format(slug="s", duration='"PT1H"') + f"tags = {deeply_nested()}\n")
    line = one_vcs_line(vcs(tmp_path, "series", "import", str(series)))
    assert line == "vcs: nothing was saved:"
    config = tmp_path / "settings.toml"
    config.write_text(f"[web]\nframe_sources = {deeply_nested()}\n")
    line = one_vcs_line(vcs(tmp_path, "init", VCS_CONFIG=str(config)))
    assert line == f"vcs: config: {config}: not valid TOML: nested too deeply"
    network = tmp_path / "network.toml"
    network.write_text(f"regions = {deeply_nested()}\n")
    line = one_vcs_line(vcs(tmp_path, "init", VCS_NETWORK_FILE=str(network)))
    assert line == f"vcs: network file: {network}: not valid TOML: nested too deeply"


# -- NUL ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["sessions", "list", "--series", "kurz\x00eme"],
        ["staff", "disable", "anna\x00@example.lv"],
        ["series", "import", "series\x00.toml"],
        ["members", "export", "--output", "members\x00.csv"],
        ["jobs", "run", "digest\x00"],
    ],
)
def test_nul_in_an_argument_is_refused_before_anything_runs(
    any_database_url: str, tmp_path: Path, args: list[str]
) -> None:
    run, environ = runner(tmp_path, any_database_url)
    line = one_vcs_line(run.invoke(cli, args, env=environ))
    assert line.startswith("vcs: an argument contains a NUL character: "), line


# -- the top level --------------------------------------------------------------------------------


def test_a_vcs_error_that_reaches_the_top_is_printed_as_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from vcs.errors import VcsError
    from vcs.i18n import N_

    @cli.command("test-refuses")
    def refuses() -> None:
        raise VcsError.one("test.refused", N_("no such thing: %(name)s"), name="x")

    try:
        monkeypatch.setattr(sys, "argv", ["vcs", "test-refuses"])
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        del cli.commands["test-refuses"]
    assert exited.value.code == 1
    assert capsys.readouterr().err == "vcs: no such thing: x\n"
