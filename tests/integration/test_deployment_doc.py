"""docs/deployment.md, run: every shell block, and the example files in deploy/ it installs.

The shell blocks run in order in one bash, as a reader types them, once against a fresh
PostgreSQL database and role (created here, dropped after) and once against SQLite, with the
doc's folder variables (APP_DIR, CONF_DIR, DATA_DIR, BACKUP_DIR) pointing into tmp_path. A block
whose first line is `# PostgreSQL only` or `# SQLite only` runs only in that run; one whose first
line is `# not run by tests: <why>` never runs (root, systemd, nginx as a service, the network),
and the files such blocks install are checked here instead: `systemd-analyze verify` on the
units, `nginx -t` and requests through nginx for the site, the settings loader for vcs.toml.
"""

from __future__ import annotations

import configparser
import http.client
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import IN_CI, PG_ADMIN_URL, free_port, isolated_environ
from vcs.config import ConfigError, database_url, load_settings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deployment.md"
DEPLOY = ROOT / "deploy"
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```$", re.M | re.S)
NOT_RUN = re.compile(r"^# not run by tests: (?P<why>\S.*)$")
ONLY = re.compile(r"^# (?P<kind>PostgreSQL|SQLite) only\b")
# Why a block may be left out: what the test machine cannot give it.
NEEDS = ("root", "systemd", "nginx", "network", "Google", "services")
# Blocks that are not shell: excerpts of the deploy/ files (checked), or illustrations.
EXCERPTS = {"ini", "nginx", "toml"}
STAFF_PASSWORD = "correct horse battery staple"


# -- the doc's blocks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    line: int
    lang: str
    text: str

    @property
    def first(self) -> str:
        return self.text.splitlines()[0] if self.text else ""

    @property
    def skipped_because(self) -> str | None:
        match = NOT_RUN.match(self.first)
        return match["why"] if match else None

    def runs_on(self, kind: str) -> bool:
        if self.lang != "sh" or self.skipped_because is not None:
            return False
        only = ONLY.match(self.first)
        return only is None or only["kind"].lower() == kind


def doc_blocks() -> list[Block]:
    source = DOC.read_text(encoding="utf-8")
    return [Block(source.count("\n", 0, m.start()) + 1, m[1], m[2]) for m in FENCE.finditer(source)]


def doc_script(kind: str) -> str:
    """The blocks for `kind` (postgresql or sqlite) as one bash script, each announced."""
    parts = ["set -euo pipefail"]
    for block in doc_blocks():
        if block.runs_on(kind):
            parts.append(f"echo '>>> docs/deployment.md line {block.line}'")
            parts.append(block.text)
    return "\n".join(parts) + "\n"


def test_every_block_is_run_or_says_why_not() -> None:
    blocks = doc_blocks()
    assert blocks, "no fenced blocks found"
    for block in blocks:
        assert block.lang in {"sh", "text", *EXCERPTS}, f"line {block.line}: say what it is"
        if block.lang != "sh":
            continue
        if block.first.startswith("# not run"):
            why = block.skipped_because
            assert why, f"line {block.line}: `# not run by tests: <why>`"
            assert any(need in why for need in NEEDS), f"line {block.line}: {why}"
        assert "VCS_HOME" not in block.text
    skipped = [b for b in blocks if b.skipped_because]
    run = [b for b in blocks if b.runs_on("sqlite") or b.runs_on("postgresql")]
    # Each systemctl step sits between steps that run, so it is a block of its own.
    assert len(skipped) <= 12, "keep the blocks no test runs few"
    assert len(run) > len(skipped)


def test_config_excerpts_in_the_doc_are_in_the_deploy_files() -> None:
    files = {path.name: path.read_text(encoding="utf-8") for path in DEPLOY.iterdir()}
    for block in doc_blocks():
        if block.lang in EXCERPTS:
            assert any(block.text in text for text in files.values()), (
                f"docs/deployment.md line {block.line} is not an excerpt of a file in deploy/"
            )


# -- running the doc -----------------------------------------------------------------------------


def run_doc(tmp_path: Path, kind: str, **environ: str) -> str:
    """Run the doc's shell blocks for `kind`; the output, which must end without error."""
    home = tmp_path / "home"
    home.mkdir()
    script = tmp_path / "deployment.sh"
    script.write_text(doc_script(kind), encoding="utf-8")
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "APP_DIR": str(ROOT),
        "CONF_DIR": str(tmp_path / "etc"),
        "DATA_DIR": str(tmp_path / "data"),
        "BACKUP_DIR": str(tmp_path / "backups"),
        **environ,
    }
    result = subprocess.run(
        ["bash", str(script)],
        env=env,
        # `vcs staff add` asks twice; with no terminal (a new session) it reads stdin.
        input=f"{STAFF_PASSWORD}\n{STAFF_PASSWORD}\n",
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result.stdout


def after(output: str, line_of: str) -> str:
    """The output of the block whose text contains `line_of`, and everything after it."""
    block = next(b for b in doc_blocks() if line_of in b.text)
    return output.split(f">>> docs/deployment.md line {block.line}\n", 1)[1]


def check_common_steps(output: str, conf: Path) -> None:
    assert "schema: empty -> " in output
    assert "staff account anna.berzina@example.lv added (admin)" in output
    assert "name:  vcs._domainkey.example.lv" in output
    # The env file is read by systemd and by the shell: NAME=value, no spaces, no quotes.
    for line in (conf / "vcs.env").read_text().splitlines():
        assert re.fullmatch(r"[A-Z][A-Z_]*=[^\s'\"]+", line), line
    assert (conf / "vcs.env").stat().st_mode & 0o077 == 0o040
    restored = after(output, "vcs staff list")
    assert "anna.berzina@example.lv" in restored
    # The upgrade's second `vcs init` finds nothing to do.
    inits = re.findall(r"^schema: (\S+) -> (\S+)$", output, re.M)
    assert inits[-1][0] == inits[-1][1]


def test_the_doc_deploys_on_sqlite(tmp_path: Path) -> None:
    output = run_doc(tmp_path, "sqlite")

    check_common_steps(output, tmp_path / "etc")
    assert "integrity ok" in output
    assert "restored " in output
    assert (tmp_path / "data" / "vcs.sqlite3").is_file()
    assert list((tmp_path / "data" / "backups").glob("vcs-before-restore-*.sqlite3"))


@pytest.fixture
def deploy_database(postgres_admin_url: str) -> Iterator[str]:
    """A name for a role and a database the doc creates; both dropped afterwards."""
    name = f"vcs_deploy_test_{uuid.uuid4().hex[:8]}"
    yield name
    engine = create_engine(database_url(postgres_admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
    engine.dispose()


@pytest.mark.postgres
def test_the_doc_deploys_on_postgresql(tmp_path: Path, deploy_database: str) -> None:
    admin = make_url(PG_ADMIN_URL)
    host, port = admin.host or "127.0.0.1", str(admin.port or 5432)

    output = run_doc(
        tmp_path,
        "postgresql",
        DB_HOST=host,
        DB_PORT=port,
        DB_NAME=deploy_database,
        DB_USER=deploy_database,
        # Root's way to a superuser is `sudo -u postgres`; here libpq's variables reach one.
        PG_ADMIN="",
        PGHOST=host,
        PGPORT=port,
        PGUSER=admin.username or "postgres",
    )

    check_common_steps(output, tmp_path / "etc")
    dumps = sorted(p.name for p in (tmp_path / "backups").glob("vcs-*.dump"))
    assert len(dumps) == 2 and "vcs-before-upgrade.dump" in dumps
    pgpass = tmp_path / "etc" / "pgpass"
    assert pgpass.stat().st_mode & 0o077 == 0
    env = (tmp_path / "etc" / "vcs.env").read_text()
    assert f"VCS_DATABASE_URL=postgresql://{deploy_database}@{host}:{port}/" in env
    password = pgpass.read_text().strip().rsplit(":", 1)[1]
    assert password not in env and password not in output


# -- deploy/vcs.toml -----------------------------------------------------------------------------


def test_the_example_config_loads_in_production_mode_with_a_secret(tmp_path: Path) -> None:
    environ = isolated_environ(
        tmp_path, VCS_CONFIG=str(DEPLOY / "vcs.toml"), VCS_SECRET_KEY=secrets.token_urlsafe(48)
    )

    settings = load_settings(environ)

    assert settings.mode == "production"
    assert settings.base_url.startswith("https://")
    assert (settings.web.host, settings.web.port) == ("127.0.0.1", 8000)
    del environ["VCS_SECRET_KEY"]
    with pytest.raises(ConfigError, match="secret_key"):
        load_settings(environ)


def test_the_example_config_keeps_secrets_and_machine_paths_out() -> None:
    import tomllib

    data = tomllib.loads((DEPLOY / "vcs.toml").read_text(encoding="utf-8"))

    assert "secret_key" not in data
    assert "url" not in data.get("database", {})
    assert "url" not in data.get("mail", {})


# -- the systemd units ---------------------------------------------------------------------------

UNITS = ("vcs-web.service", "vcs-scheduler.service", "vcs-backup.service", "vcs-backup.timer")


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8"))
    return parser


def test_the_units_run_the_commands_the_doc_describes() -> None:
    web, scheduler, backup = (unit(name)["Service"] for name in UNITS[:3])
    assert re.search(r"/vcs web --host 127\.0\.0\.1 --port 8000 --workers \d+$", web["ExecStart"])
    assert scheduler["ExecStart"].endswith("/.venv/bin/vcs scheduler")
    assert backup["ExecStart"].endswith("/.venv/bin/vcs backup --keep 14")
    for service in (web, scheduler):
        assert service["Restart"] == "always"
        assert service["User"] == "vcs"
        assert service["EnvironmentFile"] == "/etc/vcs/vcs.env"
        assert service["ExecStart"].startswith("/srv/vcs/app/.venv/bin/vcs ")
    for name in ("vcs-web.service", "vcs-scheduler.service"):
        assert unit(name)["Install"]["WantedBy"] == "multi-user.target"
    assert unit("vcs-backup.timer")["Install"]["WantedBy"] == "timers.target"


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed; the keys are checked by the test above")
    for name in UNITS:
        # The checkout is at /srv/vcs/app on a server; verify wants ExecStart to exist.
        text_ = (DEPLOY / name).read_text(encoding="utf-8").replace("/srv/vcs/app", str(ROOT))
        (tmp_path / name).write_text(text_, encoding="utf-8")

    result = subprocess.run(
        [analyze, "verify", "--man=no", *(f"./{name}" for name in UNITS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    # Unknown keys and bad values are only warnings: any output is a failure.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


# -- the nginx site ------------------------------------------------------------------------------


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        message = "nginx is not installed (apt-get install nginx)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


@dataclass(frozen=True)
class Nginx:
    binary: str
    prefix: Path
    http_port: int
    https_port: int
    upstream_port: int

    def command(self, *args: str) -> list[str]:
        return [self.binary, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"), *args]


def site_for_test(tmp_path: Path, ports: tuple[int, int, int]) -> str:
    """deploy/nginx-vcs.conf with this machine's paths and free ports in place of the server's."""
    http_port, https_port, upstream_port = ports
    site = (DEPLOY / "nginx-vcs.conf").read_text(encoding="utf-8")
    replacements = [
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        ("/var/cache/nginx/vcs", str(tmp_path / "cache")),
        ("/etc/letsencrypt/live/vcs.example.lv/", f"{tmp_path / 'tls'}/"),
        ("/var/www/letsencrypt", str(tmp_path / "www")),
        ("/srv/vcs/app/static/", f"{ROOT / 'static'}/"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
    ]
    for old, new in replacements:
        assert old in site, f"deploy/nginx-vcs.conf no longer has {old!r}"
        site = site.replace(old, new)
    # The test machine may have no IPv6.
    return re.sub(r"^\s*listen \[::\].*\n", "", site, flags=re.M)


def self_signed_certificate(folder: Path) -> None:
    folder.mkdir()
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=vcs.example.lv",
            "-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem"),
        ],
        capture_output=True,
        check=True,
    )  # fmt: skip


@pytest.fixture
def nginx(tmp_path: Path) -> Nginx:
    """The site in a prefix of its own: a self-signed certificate, temp paths, free ports."""
    binary = nginx_binary()
    ports = (free_port(), free_port(), free_port())
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    self_signed_certificate(tmp_path / "tls")
    (prefix / "site.conf").write_text(site_for_test(tmp_path, ports), encoding="utf-8")
    compiled = subprocess.run([binary, "-V"], capture_output=True, text=True, check=False).stderr
    temp_paths = "".join(
        f"    {module}_temp_path {prefix / 'temp' / module};\n"
        for module in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        if f"--without-http_{module}_module" not in compiled
    )
    mime = Path("/etc/nginx/mime.types")
    types = f"include {mime};" if mime.is_file() else "types { text/css css; }"
    (prefix / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "") + "worker_processes 1;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        f"    {types}\n"
        "    access_log off;\n"
        f"{temp_paths}"
        f"    include {prefix / 'site.conf'};\n"
        "}\n",
        encoding="utf-8",
    )
    (prefix / "temp").mkdir()
    return Nginx(binary, prefix, *ports)


def test_the_nginx_site_passes_nginx_t(nginx: Nginx) -> None:
    result = subprocess.run(nginx.command("-t"), capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode}: {log.read_text(errors='replace')}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"nothing listens on {port}: {log.read_text(errors='replace')}")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def get(port: int, path: str, tls: bool = True, **headers: str) -> Answer:
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, context=context, timeout=10
        )
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": "vcs.example.lv", **headers})
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                      response.read())  # fmt: skip
    finally:
        connection.close()


def test_through_the_nginx_site_feeds_are_cached_with_304s_and_metrics_stay_inside(
    tmp_path: Path, nginx: Nginx
) -> None:
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **isolated_environ(tmp_path)}
    vcs = [sys.executable, "-m", "vcs"]
    subprocess.run([*vcs, "init"], env=environ, capture_output=True, check=True)
    web_log, nginx_log = tmp_path / "web.log", nginx.prefix / "error.log"
    with web_log.open("wb") as log:
        web = subprocess.Popen(
            [*vcs, "web", "--port", str(nginx.upstream_port)], env=environ, stdout=log, stderr=log
        )
    proxy = subprocess.Popen(
        nginx.command("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(nginx.upstream_port, web, web_log)
        wait_for_port(nginx.https_port, proxy, nginx_log)
        port = nginx.https_port

        first, second = get(port, "/calendar.ics"), get(port, "/calendar.ics")
        assert (first.status, first.headers["x-cache-status"]) == (200, "MISS")
        assert first.headers["content-type"].startswith("text/calendar")
        assert (second.status, second.headers["x-cache-status"]) == (200, "HIT")
        assert second.body == first.body
        etag = first.headers["etag"]
        again = get(port, "/calendar.ics", **{"If-None-Match": etag})
        assert (again.status, again.headers["x-cache-status"], again.body) == (304, "HIT", b"")
        # The language cookie changes the feed, so it is part of the cache key.
        english = get(port, "/calendar.ics", Cookie="lang=en")
        assert english.headers["x-cache-status"] == "MISS"

        assert get(port, "/metrics").status == 404
        css = get(port, "/static/vcs.css")
        assert (css.status, css.body) == (200, (ROOT / "static" / "vcs.css").read_bytes())
        assert "content-security-policy" not in css.headers  # nginx, not vcs, served it
        health = get(port, "/healthz")
        assert (health.status, health.body) == (200, b'{"status":"ok","database":"ok"}')
        plain = get(nginx.http_port, "/calendar.ics", tls=False)
        assert plain.status == 301
        assert plain.headers["location"] == "https://vcs.example.lv/calendar.ics"
    finally:
        for process in (proxy, web):
            process.terminate()
            process.wait(timeout=30)


def test_through_the_nginx_site_pages_are_micro_cached_per_language_with_their_own_ids(
    tmp_path: Path, nginx: Nginx
) -> None:
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **isolated_environ(tmp_path)}
    vcs = [sys.executable, "-m", "vcs"]
    subprocess.run([*vcs, "init"], env=environ, capture_output=True, check=True)
    web_log, nginx_log = tmp_path / "web.log", nginx.prefix / "error.log"
    with web_log.open("wb") as log:
        web = subprocess.Popen(
            [*vcs, "web", "--port", str(nginx.upstream_port)], env=environ, stdout=log, stderr=log
        )
    proxy = subprocess.Popen(
        nginx.command("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(nginx.upstream_port, web, web_log)
        wait_for_port(nginx.https_port, proxy, nginx_log)
        port = nginx.https_port

        first, second = get(port, "/"), get(port, "/")
        assert (first.status, first.headers["x-cache-status"]) == (200, "MISS")
        assert (second.status, second.headers["x-cache-status"]) == (200, "HIT")
        assert second.body == first.body
        # Stored with vcs's headers, answered with this request's own id.
        assert "frame-ancestors 'none'" in second.headers["content-security-policy"]
        assert first.headers["x-request-id"] != second.headers["x-request-id"]
        # The language cookie and gzip are part of the key; nothing else is.
        english = get(port, "/", Cookie="lang=en")
        assert english.headers["x-cache-status"] == "MISS"
        assert english.body != first.body
        assert get(port, "/", Cookie="lang=en; other=1").headers["x-cache-status"] == "HIT"
        gzipped = get(port, "/", **{"Accept-Encoding": "gzip"})
        assert gzipped.headers["x-cache-status"] == "MISS"
        assert gzipped.headers["content-encoding"] == "gzip"
        api = [get(port, "/api/sessions").headers["x-cache-status"] for _ in range(2)]
        assert api == ["MISS", "HIT"]
        # Staff pages are never stored.
        assert "x-cache-status" not in get(port, "/staff/login").headers
    finally:
        for process in (proxy, web):
            process.terminate()
            process.wait(timeout=30)
