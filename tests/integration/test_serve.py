"""`vcs serve` as people run it: a real process on a free port, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, isolated_environ


def run(environ: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vcs", *args],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def serve_and_fetch(
    environ: dict[str, str],
    *paths: str,
    vcs: tuple[str | Path, ...] = (sys.executable, "-m", "vcs"),
    cwd: Path | None = None,
) -> tuple[httpx.Response, list[httpx.Response], str]:
    """Start `vcs serve` on a free port, GET /healthz once it answers, then `paths`; stop it."""
    port = free_port()
    process = subprocess.Popen(
        [*vcs, "serve", "--port", str(port)],
        cwd=cwd,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        health = first_answer(f"{base}/healthz", process)
        pages = [httpx.get(f"{base}{path}", timeout=10) for path in paths]
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    return health, pages, output


def first_answer(url: str, process: subprocess.Popen[str], seconds: float = 60) -> httpx.Response:
    """GET `url` once the server started by `process` answers (it may take seconds to start)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.2)


def environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], **isolated_environ(tmp_path, **overrides)}


def test_serve_on_sqlite_shows_the_latvian_demo_home_page(tmp_path: Path) -> None:
    environ = environment(tmp_path)
    run(environ, "demo")
    health, (home,), output = serve_and_fetch(environ, "/")
    assert health.status_code == 200
    assert home.status_code == 200
    assert '<html lang="lv">' in home.text
    assert "Jaunatnes lietu speciālistu atbalsta tīkls" in home.text
    assert "scheduler lock taken" in output


@pytest.mark.postgres
def test_serve_on_postgresql_works_the_same(tmp_path: Path, postgres_url: str) -> None:
    environ = environment(tmp_path, VCS_DATABASE_URL=postgres_url)
    run(environ, "init")
    health, (home,), output = serve_and_fetch(environ, "/")
    assert health.status_code == 200, output
    assert '<html lang="lv">' in home.text
    assert "scheduler lock taken" in output


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vcs", "serve"],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == "vcs: the database schema is not current: run `vcs init` first\n"
