"""Links point where the server runs: `vcs serve --port P` without a base_url uses P, and
commands that write links warn while base_url is the default and the server runs elsewhere.
`vcs demo` in development mode makes a staff account and says how to log in."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.integration.test_serve import environment, first_answer, run


def vcs(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vcs", *args],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


def test_serve_on_another_port_puts_that_port_in_links_and_commands_warn(tmp_path: Path) -> None:
    environ = environment(tmp_path)
    run(environ, "demo")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "vcs", "serve", "--port", str(port)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert first_answer(f"{base}/healthz", server).status_code == 200
        home = httpx.get(f"{base}/", timeout=10).text
        assert f'value="{base}/calendar.ics"' in home
        assert "127.0.0.1:8000" not in home
        drafted = vcs(environ, "digest", "draft")
        assert drafted.returncode == 0, drafted.stderr
        assert drafted.stderr == (
            "vcs: warning: links will point at http://127.0.0.1:8000 (the default base_url), "
            f"but `vcs serve` runs at {base}; set VCS_BASE_URL={base}\n"
        )
        # Told where the server is, the command is quiet.
        told = vcs({**environ, "VCS_BASE_URL": base}, "digest", "draft")
        assert told.returncode == 0 and told.stderr == ""
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    # Once the server has stopped, nothing runs elsewhere: no warning.
    assert vcs(environ, "digest", "draft").stderr == ""


def test_a_configured_base_url_is_kept_by_serve(tmp_path: Path) -> None:
    environ = environment(
        tmp_path, VCS_BASE_URL="https://tikls.example.lv", VCS_SECRET_KEY="x" * 40
    )
    environ["VCS_MODE"] = "production"
    run(environ, "init")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "vcs", "serve", "--port", str(port)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first_answer(f"http://127.0.0.1:{port}/healthz", server)
        home = httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text
        assert 'value="https://tikls.example.lv/calendar.ics"' in home
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)


def test_demo_makes_a_staff_account_and_says_how_to_log_in(tmp_path: Path) -> None:
    environ = environment(tmp_path)
    result = vcs(environ, "demo")
    assert result.returncode == 0, result.stderr
    assert "demo: staff account demo@example.lv added (admin)" in result.stdout
    assert (
        "demo: log in at http://127.0.0.1:8000/staff/login as demo@example.lv, "
        "password izmegini-vcs-demo" in result.stdout
    )
    listed = vcs(environ, "staff", "list").stdout
    assert "demo@example.lv" in listed
    again = vcs(environ, "demo")
    assert "added (admin)" not in again.stdout  # safe to run again
    assert "log in at" in again.stdout
