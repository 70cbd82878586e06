"""`vcs jobs run provision` and `vcs livestream status` from the shell, without Google credentials.

A YouTube series on a fresh machine has no token yet: the job says so once, names the command
that fixes it, and `vcs livestream status` keeps showing it until someone runs that command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import isolated_environ
from tests.integration.test_sessions_cli import SLUG, series_toml


def vcs(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": "/usr/bin:/bin",
        **isolated_environ(
            tmp_path,
            VCS_SESSIONS_HORIZON_DAYS="800",
            VCS_LIVESTREAM_PROVISION_DAYS="800",
            VCS_LIVESTREAM_GOOGLE_TOKEN_FILE=str(tmp_path / "no-token.json"),
        ),
    }
    return subprocess.run(
        [sys.executable, "-m", "vcs", *args], env=environ, capture_output=True, text=True
    )


def test_a_youtube_series_without_a_token_names_the_command_that_fixes_it(
    tmp_path: Path,
) -> None:
    assert vcs(tmp_path, "init").returncode == 0
    path = tmp_path / "series.toml"
    path.write_text(series_toml(livestream='{ provider = "youtube" }'), encoding="utf-8")
    assert vcs(tmp_path, "series", "import", str(path)).returncode == 0

    failed = vcs(tmp_path, "jobs", "run", "provision")
    assert failed.returncode == 1
    message = failed.stderr.splitlines()[-1]
    assert message.startswith("vcs: job provision failed: session ")
    token = tmp_path / "no-token.json"
    assert message.endswith(f"(youtube): no Google token at {token}: YouTube was never authorised")
    assert "Traceback" not in failed.stderr
    assert "fix it with `vcs google auth`" in failed.stderr

    # The next run is not a new failure: the provider is known to be blocked.
    again = vcs(tmp_path, "jobs", "run", "provision")
    assert again.returncode == 0, again.stderr
    assert "blocked" in again.stdout

    token = tmp_path / "no-token.json"
    shown = vcs(tmp_path, "livestream", "status")
    assert shown.returncode == 0, shown.stderr
    first_line = shown.stdout.splitlines()[1]
    assert first_line.startswith("youtube: revoked, 0 of 10000 units today - ")
    assert first_line.endswith("(fix: vcs google auth)")
    assert str(tmp_path / "no-token.json") in first_line

    report = json.loads(vcs(tmp_path, "livestream", "status", "--json").stdout)
    first = report["broadcasts"][0]
    assert (first["series"], first["provider"], first["status"]) == (SLUG, "youtube", "error")
    assert first["last_error"] == (
        f"CredentialsRevoked: no Google token at {token}: YouTube was never authorised"
    )
    assert [row["status"] for row in report["broadcasts"][1:]] == ["not yet"] * (
        len(report["broadcasts"]) - 1
    )
