"""No default secret in the wild: the development secret never signs for a server others reach.

The development secret is a constant in vcs's source, so with it anyone can sign a staff cookie
and walk into the staff area as an admin. `vcs serve`, `vcs web` and the ASGI app uvicorn loads
refuse to start with it behind an https base_url or on an address other machines reach, and say
which setting to set; on the developer's own loopback address it still serves. The servers run
as real processes on free ports, as people start them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from itsdangerous import URLSafeSerializer

from tests.conftest import free_port, isolated_environ
from vcs import config
from vcs.config import DEVELOPMENT_SECRET, ConfigError, load_settings

HTTPS_BASE = "https://tikls.example.lv"
ADMIN = "admin@example.lv"


def environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], **isolated_environ(tmp_path, **overrides)}


def vcs(environ: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vcs", *args],
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def installed(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """An initialised installation with one admin account (id 1), as its environment."""
    environ = environment(tmp_path, **overrides)
    assert vcs(environ, "init").returncode == 0
    added = vcs(
        environ, "staff", "add", ADMIN, "--role", "admin", "--password-stdin",
        stdin="correct horse battery staple\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    return environ


def forged_admin_cookie() -> str:
    """A staff session for account 1, signed with the development secret from the source."""
    signer = URLSafeSerializer(DEVELOPMENT_SECRET, salt="vcs.staff-session")
    return str(signer.dumps({"c": "forged", "u": 1, "e": 0, "t": int(time.time())}))


def start(environ: dict[str, str], command: list[str], port: int) -> tuple[int, str]:
    """Run a server; (exit code, stderr) when it refuses to start.

    When it starts instead, the test fails, saying what a forged admin cookie got from it.
    """
    process = subprocess.Popen(
        command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while process.poll() is None and time.monotonic() < deadline:
            try:
                staff = httpx.get(f"{base}/staff", cookies={"vcs_staff": forged_admin_cookie()})
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            pytest.fail(
                f"it started with the development secret; a forged admin cookie got "
                f"{staff.status_code} from /staff"
            )
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=30)
    return process.returncode, err


def assert_one_line_naming_the_secret(code: int, stderr: str, reason: str) -> None:
    assert code == 1, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("vcs: config: secret_key"), stderr
    assert "VCS_SECRET_KEY" in lines[0] and "vcs init --generate-secret" in lines[0]
    assert reason in lines[0]


def test_serve_refuses_the_development_secret_behind_an_https_base_url(tmp_path: Path) -> None:
    environ = installed(tmp_path, VCS_BASE_URL=HTTPS_BASE)
    port = free_port()
    command = [sys.executable, "-m", "vcs", "serve", "--host", "127.0.0.1", "--port", str(port)]
    code, stderr = start(environ, command, port)
    assert_one_line_naming_the_secret(code, stderr, f"base_url is https ({HTTPS_BASE})")


def test_web_refuses_the_development_secret_on_an_address_others_reach(tmp_path: Path) -> None:
    environ = installed(tmp_path)
    port = free_port()
    everywhere = "0.0.0.0"  # noqa: S104 - what is refused
    command = [sys.executable, "-m", "vcs", "web", "--host", everywhere, "--port", str(port)]
    code, stderr = start(environ, [*command, "--workers", "1"], port)
    assert_one_line_naming_the_secret(code, stderr, "listen on 0.0.0.0")


def test_the_asgi_app_refuses_the_development_secret_behind_an_https_base_url(
    tmp_path: Path,
) -> None:
    environ = installed(tmp_path, VCS_BASE_URL=HTTPS_BASE)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "vcs.web.asgi:app", "--port", str(port)]
    code, stderr = start(environ, command, port)
    assert code != 0, stderr
    assert "vcs: config: secret_key: the development secret" in stderr
    assert "VCS_SECRET_KEY" in stderr and "Traceback" not in stderr


def test_development_on_the_loopback_address_still_serves(tmp_path: Path) -> None:
    environ = installed(tmp_path)  # http://127.0.0.1:8000, no secret: the development default
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "vcs", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert health.status_code == 200


def test_with_its_own_secret_no_cookie_signed_with_the_development_secret_gets_in(
    tmp_path: Path,
) -> None:
    secret = vcs(environment(tmp_path), "init", "--generate-secret").stdout.strip()
    name, _, value = secret.partition("=")
    environ = installed(tmp_path, VCS_BASE_URL=HTTPS_BASE, **{name: value})
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "vcs", "web", "--port", str(port), "--workers", "1"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                staff = httpx.get(
                    f"http://127.0.0.1:{port}/staff", cookies={"vcs_staff": forged_admin_cookie()}
                )
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert staff.status_code == 303
    assert staff.headers["location"].startswith("/staff/login")


def test_init_generate_secret_prints_a_fresh_secret_and_touches_nothing(tmp_path: Path) -> None:
    environ = environment(tmp_path, VCS_MODE="production")
    refused = vcs(environ, "init")
    assert refused.returncode == 1
    assert "VCS_SECRET_KEY" in refused.stderr and "vcs init --generate-secret" in refused.stderr

    first, second = (vcs(environ, "init", "--generate-secret") for _ in range(2))
    assert first.returncode == 0, first.stderr
    assert "keep it secret" in first.stderr
    lines = [first.stdout.strip(), second.stdout.strip()]
    assert all(line.startswith("VCS_SECRET_KEY=") and "\n" not in line for line in lines)
    assert lines[0] != lines[1]
    value = lines[0].removeprefix("VCS_SECRET_KEY=")
    assert len(value) >= 64
    settings = load_settings({**environ, "VCS_SECRET_KEY": value})
    assert settings.signing_key == value
    assert not (tmp_path / "vcs.sqlite3").exists()  # no database was made or read


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "::1", "[::1]", "localhost"])
def test_loopback_addresses_may_use_the_development_secret(tmp_path: Path, host: str) -> None:
    settings = load_settings(isolated_environ(tmp_path))
    assert settings.uses_development_secret
    assert config.is_loopback(host)
    config.check_serving(settings, host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.0.2.10", "2001:db8::1"])  # noqa: S104
def test_addresses_others_reach_may_not(tmp_path: Path, host: str) -> None:
    settings = load_settings(isolated_environ(tmp_path))
    assert not config.is_loopback(host)
    with pytest.raises(ConfigError, match="VCS_SECRET_KEY"):
        config.check_serving(settings, host)
    own = load_settings(isolated_environ(tmp_path, VCS_SECRET_KEY="x" * 40))
    config.check_serving(own, host)
