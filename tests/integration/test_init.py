"""`vcs init`: migrate and load the network; a second run changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from tests.conftest import isolated_environ
from vcs.bootstrap import initialise
from vcs.config import load_settings
from vcs.context import Context
from vcs.storage import migrate
from vcs.storage.models import Base, Municipality


def snapshot(context: Context) -> dict[str, list[tuple[object, ...]]]:
    with context.database.engine.connect() as connection:
        return {
            table.name: [
                tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key))
            ]
            for table in Base.metadata.sorted_tables
        }


def test_init_twice_changes_nothing(any_database_url: str, tmp_path: Path) -> None:
    context = Context.from_settings(
        load_settings(isolated_environ(tmp_path, VCS_DATABASE_URL=any_database_url))
    )
    first = initialise(context)
    assert first.revision_before is None
    assert (first.regions, first.municipalities) == (5, 43)
    assert first.network_changes == 48
    before = snapshot(context)
    second = initialise(context)
    assert second.revision_before == second.revision
    assert second.network_changes == 0
    assert snapshot(context) == before
    with context.database.session() as db:
        riga = db.scalars(select(Municipality).where(Municipality.slug == "riga")).one()
        assert riga.region.slug == "riga"
        assert riga.kind == "valstspilsēta"
    context.close()


def run_vcs(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": "/usr/bin:/bin", **isolated_environ(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-m", "vcs", *args],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_init_command_reports_what_it_did(tmp_path: Path) -> None:
    first = run_vcs(tmp_path, "init")
    assert first.returncode == 0, first.stderr
    assert f"schema: empty -> {migrate.head_revision()}" in first.stdout
    assert "network: 5 regions, 43 municipalities, 48 changed" in first.stdout
    second = run_vcs(tmp_path, "init")
    assert "network: 5 regions, 43 municipalities, 0 changed" in second.stdout


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = run_vcs(tmp_path, "init", VCS_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 1
    assert result.stderr.startswith("vcs: database unreachable: ")
    assert result.stderr.count("\n") == 1


def test_commands_that_need_a_schema_say_so(tmp_path: Path) -> None:
    result = run_vcs(tmp_path, "jobs", "list")
    assert result.returncode == 1
    assert result.stderr == "vcs: the database schema is not current: run `vcs init` first\n"


def test_jobs_run_records_the_run_and_unknown_jobs_are_named(tmp_path: Path) -> None:
    assert run_vcs(tmp_path, "init").returncode == 0
    ran = run_vcs(tmp_path, "jobs", "run", "prune-job-runs")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "prune-job-runs: 0 old job runs deleted\n"
    listed = run_vcs(tmp_path, "jobs", "list")
    assert "prune-job-runs" in listed.stdout and "last ok at" in listed.stdout
    unknown = run_vcs(tmp_path, "jobs", "run", "nosuchjob")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("vcs: no job called 'nosuchjob' (known: ")


def test_demo_loads_once_and_adds_nothing_the_second_time(tmp_path: Path) -> None:
    first = run_vcs(tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    assert "demo: series jaunatnes-lietu-videokonferences created" in first.stdout
    assert "demo: series vidzemes-pieredzes-apmainas-tiksanas created" in first.stdout
    assert "demo: series kurzemes-pieredzes-apmainas-tiksanas created" in first.stdout
    assert "demo: 86 members added" in first.stdout
    assert "demo: 1 digest draft added" in first.stdout
    assert "takes registrations (12 seats): 12 in the room, 4 online, 2 waiting" in first.stdout
    assert "(ended): 7 attended, 7 certificates released, 4 feedback answers" in first.stdout
    second = run_vcs(tmp_path, "demo")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count(" same; sessions: 0 created, 0 updated") == 3
    assert "demo: 0 sessions given topics" in second.stdout
    assert "demo: 0 members added" in second.stdout
    assert "digest" not in second.stdout
    assert "registrations" not in second.stdout and "certificates" not in second.stdout
