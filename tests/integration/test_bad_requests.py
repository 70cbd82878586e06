"""Bad requests get 4xx, never 500; every response carries the security headers and a request id.

The hostile-value tests walk the app's own routing table and the field names of its forms, on
SQLite and on PostgreSQL (which refuses NUL in a query and ids beyond 32 bits), so a new route or
a new form field is covered without touching this file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.conftest import free_port, isolated_environ
from tests.factories import NATIONAL, NOW, import_entries, national
from tests.integration.test_logging_ids import log_lines
from tests.integration.test_series_files import installation
from tests.integration.test_staff_access import ADMIN, add_staff, csrf_of, log_in
from vcs import digest as digests
from vcs.context import Context
from vcs.logs import JsonFormatter
from vcs.paths import TEMPLATES_DIR
from vcs.web.app import create_app
from vcs.web.staff import members as staff_members

# Values a path parameter of each convertor gets, and what the answer must be. Ids beyond what
# an INTEGER column holds match no route; NUL is refused before any route.
HOSTILE_IDS = ["2147483648", "9223372036854775808", "99999999999999999999", "9" * 5000]
ODD_IDS = ["1e5", "-1", "%201", "1%20"]
HOSTILE_TEXT = ["a" * 3000, "%ff%fe", "..%2f..%2fetc%2fpasswd", "%0d%0aX-Forged:%201", "9" * 5000]
# Query values: dates outside every calendar we keep, numbers no column holds, long text.
HOSTILE_QUERY = [
    "0001-01-01",
    "9999-12-31T23:59",
    "99999999999999999999",
    "9" * 5000,
    "x" * 3000,
    "%ff%fe",
    "²",  # a digit to str.isdigit(), not to int()
]
QUERY_NAMES = ["from", "to", "series", "region", "page", "lang", "q", "next", "done", "status"]


@contextlib.contextmanager
def site(tmp_path: Path, database_url: str) -> Iterator[tuple[Context, TestClient, str]]:
    """The national series, a digest draft and a logged-in admin with a CSRF token."""
    with installation(tmp_path, database_url) as context:
        import_entries(context, tmp_path, national())
        with context.database.session() as db:
            digests.draft(db, context.settings, NOW, "test")
        add_staff(context, ADMIN, "admin")
        client = TestClient(create_app(context), follow_redirects=False)
        # A 500 must show as a status here, not as an exception in the test.
        client_500s = TestClient(client.app, follow_redirects=False, raise_server_exceptions=False)
        assert log_in(client, ADMIN).status_code == 303
        client_500s.cookies = client.cookies
        yield context, client_500s, csrf_of(client.get("/staff").text)


def routes_of(client: TestClient) -> list[tuple[str, Route]]:
    """(method, route) for every route, log-out last (it ends the log-in the others need)."""
    found = [
        (method, route)
        for route in client.app.routes
        if isinstance(route, Route)
        for method in sorted(route.methods or ())
        if method != "HEAD"
    ]
    return sorted(found, key=lambda item: item[1].path == "/staff/logout")


FIELD = re.compile(r'<(?:input|select|textarea|button)[^>]*\sname="([^"]+)"')


def form_fields(client: TestClient) -> list[str]:
    """Every field name the forms use: in the pages as served (macros filled in) and in the
    templates (`title_{{ code }}` as title_lv and title_en), for forms behind a secret link."""
    names: set[str] = set()
    for method, route in routes_of(client):
        if method == "GET":
            names.update(FIELD.findall(client.get(fill(route, "")).text))
    for template in TEMPLATES_DIR.rglob("*.html"):
        for name in FIELD.findall(template.read_text()):
            names.update(re.sub(r"\{\{[^}]*\}\}", code, name) for code in ("lv", "en"))
    names.discard("csrf_token")
    assert {"email", "duration", "start", "title_lv"} <= names, sorted(names)
    return sorted(names)


def fill(route: Route, value: str, name: str | None = None) -> str:
    """The route's path with `value` for parameter `name` and ordinary values for the others."""

    def replace(match: re.Match[str]) -> str:
        if name is None or match.group(1) != name:
            return "1" if match.group(2) == "int" else NATIONAL
        return value

    return re.sub(r"\{(\w+)(?::(\w+))?\}", replace, route.path)


def check(response: Any, where: str) -> None:
    """Never a 500; every answer has the security headers and a request id; an error is ours."""
    status = response.status_code
    assert status < 500 or (where.startswith("GET /readyz") and status == 503), where
    assert "x-request-id" in response.headers, where
    # (A route may set a stricter policy of its own: the digest preview does.)
    assert "frame-ancestors" in response.headers["content-security-policy"], where
    assert response.headers["x-content-type-options"] == "nosniff", where
    if status in (400, 404, 413) and not where.split()[1].startswith(("/metrics", "/readyz")):
        # The error page in the visitor's language, or JSON where the route speaks JSON.
        if where.split()[1].startswith("/api/"):
            assert "error" in response.json(), where
        elif response.headers["content-type"].startswith("application/json"):
            assert response.json(), where
        else:
            assert '<html lang="' in response.text, where


def send(client: TestClient, method: str, path: str, token: str, **fields: str) -> Any:
    data = {"csrf_token": token, **fields} if method == "POST" else None
    return client.request(method, path, data=data)


def test_every_route_answers_ids_beyond_any_column_with_404(
    any_database_url: str, tmp_path: Path
) -> None:
    with site(tmp_path, any_database_url) as (_context, client, token):
        checked = 0
        for method, route in routes_of(client):
            for name, convertor in re.findall(r"\{(\w+)(?::(\w+))?\}", route.path):
                if convertor != "int":
                    continue
                for value in HOSTILE_IDS + ODD_IDS:
                    response = send(client, method, fill(route, value, name), token)
                    check(response, f"{method} {route.path} {name}={value[:30]}")
                    assert response.status_code in (404, 405), f"{method} {route.path} {value}"
                    checked += 1
        assert checked >= 100


def test_every_route_answers_hostile_text_in_its_path_with_4xx(
    any_database_url: str, tmp_path: Path
) -> None:
    with site(tmp_path, any_database_url) as (_context, client, token):
        checked = 0
        for method, route in routes_of(client):
            for name, convertor in re.findall(r"\{(\w+)(?::(\w+))?\}", route.path):
                if convertor == "int":
                    continue
                for value in HOSTILE_TEXT:
                    response = send(client, method, fill(route, value, name), token)
                    check(response, f"{method} {route.path} {name}={value[:30]}")
                    checked += 1
                response = send(client, method, fill(route, "x%00y", name), token)
                check(response, f"{method} {route.path} {name}=NUL")
                assert response.status_code == 400, f"{method} {route.path} NUL"
        assert checked >= 30


def test_every_route_survives_hostile_query_values(any_database_url: str, tmp_path: Path) -> None:
    with site(tmp_path, any_database_url) as (_context, client, token):
        for method, route in routes_of(client):
            path = fill(route, "")
            for value in HOSTILE_QUERY:
                query = "&".join(f"{name}={value}" for name in QUERY_NAMES)
                check(
                    send(client, method, f"{path}?{query}", token), f"{method} {path} {value[:20]}"
                )
            response = send(client, method, f"{path}?series=x%00&lang=lv", token)
            check(response, f"{method} {path} NUL")
            assert response.status_code == 400, f"{method} {path} NUL in the query"


def test_every_form_survives_hostile_field_values(any_database_url: str, tmp_path: Path) -> None:
    with site(tmp_path, any_database_url) as (_context, client, token):
        fields = form_fields(client)
        posted = 0
        for method, route in routes_of(client):
            if method != "POST":
                continue
            path = fill(route, "")
            for value in HOSTILE_QUERY:
                values = {name: unquote(value) for name in fields}
                check(send(client, method, path, token, **values), f"POST {path} {value[:20]}")
            response = send(client, method, path, token, **{name: "x\x00" for name in fields})
            check(response, f"POST {path} NUL")
            assert response.status_code == 400, f"POST {path} NUL in the form"
            posted += 1
        assert posted >= 10


def test_nul_in_a_public_multipart_form_is_400_on_postgresql_too(
    any_database_url: str, tmp_path: Path
) -> None:
    with site(tmp_path, any_database_url) as (_context, client, _token):
        client.cookies.clear()
        for path in ("/subscribe", "/staff/login"):
            fields = {"email": "anna\x00@example.lv", "name": "Anna", "password": "x"}
            response = client.post(path, files={k: (None, v) for k, v in fields.items()})
            check(response, f"POST {path} NUL in multipart")
            assert response.status_code == 400, path


def test_api_sessions_refuses_dates_outside_the_supported_years(
    any_database_url: str, tmp_path: Path
) -> None:
    with site(tmp_path, any_database_url) as (_context, client, _token):
        for query in ("from=0001-01-01", "to=9999-12-31", "from=2026-01-01T00:00%2B99:00"):
            response = client.get(f"/api/sessions?{query}")
            assert response.status_code == 400, query
            assert "error" in response.json(), query
        assert client.get("/api/sessions?from=1900-01-01&to=2999-12-31").status_code == 200


def asgi(app: Any, method: str, raw_path: str, headers: dict[str, str] | None = None) -> Any:
    """Call the app as a server would with this exact path (no client normalises it)."""
    path, _, query = raw_path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
        "state": {},
    }
    sent: list[dict[str, Any]] = []
    asked: list[int] = []

    async def receive() -> dict[str, Any]:
        asked.append(1)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def collect(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, collect))
    start = sent[0]
    return httpx.Response(
        start["status"],
        headers=[(k.decode(), v.decode("latin-1")) for k, v in start["headers"]],
        content=b"".join(m.get("body", b"") for m in sent[1:]),
    ), asked


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/static/../vcs/config.py", 404),
        ("/static/%2e%2e/vcs/config.py", 404),
        ("/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd", 404),
        ("/static/vcs.css%00.js", 400),
        ("/static/x%00", 400),
        ("/static/%ff", 404),
        ("/static/%zz", 404),
        ("/static/" + "a" * 5000, 404),
        ("/static//etc/passwd", 404),
    ],
)
def test_odd_static_paths_are_400_or_404(context: Context, path: str, status: int) -> None:
    response, _asked = asgi(create_app(context), "GET", path)
    assert response.status_code == status
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "x-request-id" in response.headers
    assert "root:" not in response.text and "secret_key" not in response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"accept-encoding": "gzip;q=nonsense, br;q=1e999, *;q=-1"},
        {"accept-language": "\x85\x00" * 100},
        {"if-none-match": '"' + "a" * 10000},
        {"if-modified-since": "not a date"},
        {"range": "bytes=99999999999999999999-"},
        {"cookie": 'lang="\\000"; vcs_staff=%00'},
        {"x-request-id": "\x85forged"},
        {"content-length": "99999999999999999999999"},
    ],
)
def test_odd_headers_do_not_break_any_kind_of_page(
    context: Context, tmp_path: Path, headers: dict[str, str]
) -> None:
    import_entries(context, tmp_path, national())
    app = create_app(context)
    for path in ("/", "/calendar.ics", "/api/sessions", "/static/vcs.css", "/staff/login"):
        response, _asked = asgi(app, "GET", path, headers)
        assert response.status_code < 500, (path, headers)
        assert "x-request-id" in response.headers, path


def test_an_unexpected_error_is_a_500_page_with_the_security_headers_and_request_id(
    context: Context,
) -> None:
    def broken(request: Request) -> Response:
        raise RuntimeError("a bug, not the visitor's fault")

    app = create_app(context)
    app.router.routes.insert(0, Route("/broken", broken))
    with log_lines(JsonFormatter()) as lines:
        response = TestClient(app).get("/broken")
    assert response.status_code == 500
    assert "Radās kļūda" in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    request_id = response.headers["x-request-id"]
    errors = [json.loads(line) for line in lines if '"vcs.web.errors"' in line]
    assert len(errors) == 1
    assert errors[0]["request_id"] == request_id
    assert errors[0]["message"] == "unexpected error answering GET /broken"
    assert "RuntimeError: a bug, not the visitor's fault" in errors[0]["exception"]
    access = [json.loads(line) for line in lines if '"vcs.web.access"' in line]
    assert access[0]["message"].startswith("GET /broken 500 ")


def test_an_unexpected_error_in_the_api_is_json_with_the_headers(context: Context) -> None:
    def broken(request: Request) -> Response:
        raise RuntimeError("a bug")

    app = create_app(context)
    app.router.routes.insert(0, Route("/api/broken", broken))
    response = TestClient(app).get("/api/broken")
    assert response.status_code == 500
    assert response.json() == {"error": "Internal Server Error"}
    assert "x-request-id" in response.headers
    assert "content-security-policy" in response.headers


# -- request bodies -----------------------------------------------------------------------------


def test_a_public_form_over_the_cap_is_refused_with_413(context: Context) -> None:
    client = TestClient(create_app(context))
    cap = context.settings.web.max_body_kib * 1024
    assert cap == 64 * 1024
    over = client.post("/subscribe", content=b"email=" + b"a" * cap, headers=FORM)
    assert over.status_code == 413
    assert "Nosūtīts pārāk daudz" in over.text
    assert "x-request-id" in over.headers and "content-security-policy" in over.headers
    under = client.post("/subscribe", content=b"email=" + b"a" * (cap - 100), headers=FORM)
    assert under.status_code != 413
    # Without a Content-Length (chunked), counted while it is read.
    chunked = client.post("/subscribe", content=iter([b"email=", b"a" * cap]), headers=FORM)
    assert chunked.status_code == 413


FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_a_declared_length_over_the_cap_is_refused_before_a_byte_is_read(
    context: Context,
) -> None:
    headers = {"content-length": str(10**10), **FORM}
    response, asked = asgi(create_app(context), "POST", "/subscribe", headers)
    assert response.status_code == 413
    assert asked == []


def test_anyone_not_logged_in_gets_the_public_cap_under_staff_too(
    context: Context, tmp_path: Path
) -> None:
    client = TestClient(create_app(context))
    token = csrf_of(client.get("/staff/login").text)
    body = f"csrf_token={token}&email=a&password=".encode() + b"p" * (65 * 1024)
    assert client.post("/staff/login", content=body, headers=FORM).status_code == 413


def test_a_logged_in_admin_may_upload_a_member_file_up_to_the_staff_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with installation(
        tmp_path, f"sqlite:///{tmp_path / 'vcs.sqlite3'}", VCS_WEB_MAX_STAFF_BODY_KIB="300"
    ) as context:
        add_staff(context, ADMIN, "admin")
        client = TestClient(create_app(context), follow_redirects=False)
        log_in(client, ADMIN)
        token = csrf_of(client.get("/staff/members/import").text)
        rows = "".join(f"m{n}@example.lv;Dalībnieks {n};;;;lv;all\n" for n in range(2500))
        data = ("email;name;municipality;organisation;position;language;follows\n" + rows).encode()
        assert 100 * 1024 < len(data) < 300 * 1024 < 3 * len(data)
        upload = client.post(
            "/staff/members/import",
            data={"csrf_token": token},
            files={"file": ("members.csv", data, "text/csv")},
        )
        assert upload.status_code in (200, 400)
        too_big = client.post(
            "/staff/members/import",
            data={"csrf_token": token},
            files={"file": ("members.csv", data * 3, "text/csv")},
        )
        assert too_big.status_code == 413


# -- the upload folder ---------------------------------------------------------------------------


def upload_a_member_file(context: Context) -> None:
    add_staff(context, ADMIN, "admin")
    client = TestClient(create_app(context), follow_redirects=False)
    log_in(client, ADMIN)
    token = csrf_of(client.get("/staff/members/import").text)
    data = "email;name\nanna@example.lv;Anna Bērziņa\n".encode()
    response = client.post(
        "/staff/members/import",
        data={"csrf_token": token},
        files={"file": ("members.csv", data, "text/csv")},
    )
    assert response.status_code == 200, response.text


def test_the_member_upload_folder_and_its_files_are_private(
    context: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    upload_a_member_file(context)
    folder = tmp_path / "tmp" / "vcs-member-uploads"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert folder.stat().st_uid == os.geteuid()
    kept = list(folder.iterdir())
    assert {path.suffix for path in kept} == {".csv", ".json"}
    for path in kept:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_upload_folder_open_to_others_is_made_private(
    context: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = tmp_path / "vcs-member-uploads"
    folder.mkdir()
    folder.chmod(0o777)
    upload_a_member_file(context)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a folder to another user")
def test_an_upload_folder_of_another_user_is_refused(
    context: Context,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = tmp_path / "vcs-member-uploads"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(staff_members.UploadFolderError):
        staff_members.upload_dir()
    assert "is not a folder of this user" in caplog.text
    assert list(folder.iterdir()) == []


def test_a_link_in_place_of_the_upload_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (tmp_path / "vcs-member-uploads").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(staff_members.UploadFolderError):
        staff_members.upload_dir()


# -- the access log, through a real server -------------------------------------------------------

# What an attacker puts after %0d%0a: a whole access line of their own.
FORGED = "2099-01-01 00:00:00,000 INFO    vcs.web.access: GET /staff 200 1.0 ms (staff)"


def raw_request(port: int, target: str, extra: bytes = b"") -> bytes:
    """One request exactly as written (clients refuse control characters in a target)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode("latin-1")
            + extra
            + b"Connection: close\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@contextlib.contextmanager
def running_web(tmp_path: Path, log_format: str) -> Iterator[tuple[int, list[str]]]:
    """`vcs web` on a free port; yields the port and, after the block, its output lines."""
    environ = {
        "PATH": os.environ["PATH"],
        **isolated_environ(tmp_path, VCS_LOG_FORMAT=log_format),
    }
    subprocess.run(
        [sys.executable, "-m", "vcs", "init"], env=environ, check=True, capture_output=True
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "vcs", "web", "--port", str(port)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        yield port, lines
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        # splitlines(): every character Python counts as a line break (CR, NEL, U+2028, ...).
        lines.extend(output.decode("utf-8", "replace").splitlines())


@pytest.mark.parametrize("log_format", ["human", "json"])
def test_control_characters_in_a_request_never_forge_an_access_log_line(
    tmp_path: Path, log_format: str
) -> None:
    forged = FORGED.replace(" ", "%20")
    targets = [
        f"/nav%0d%0a{forged}",
        f"/nav%0a{forged}",
        f"/nav%0d{forged}",
        f"/nav%c2%85{forged}",  # NEL
        f"/nav%e2%80%a8{forged}",  # LINE SEPARATOR
        f"/nav%1b%5b2K%1b%5b1G{forged}",  # a terminal's "erase the line"
        f"/nav%e2%80%ae{forged}",  # RIGHT-TO-LEFT OVERRIDE
    ]
    with running_web(tmp_path, log_format) as (port, lines):
        for target in targets:
            assert raw_request(port, target).startswith(b"HTTP/1.1 404 ")
        # A header value with a control character in it: the request id is not taken from it.
        raw_request(port, "/healthz", b"X-Request-ID: ok\x85" + FORGED.encode() + b"\r\n")
    assert not [line for line in lines if "2099-01-01" in line.split("vcs.web.access")[0]]
    access = [line for line in lines if "vcs.web.access" in line and "/nav" in line]
    assert len(access) == len(targets)
    if log_format == "json":
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        messages = [e["message"] for e in entries if e["logger"] == "vcs.web.access"]
        assert f"GET /nav\r\n{FORGED} 404" in "\n".join(messages)
    else:
        assert any(f"GET /nav\\r\\n{FORGED} 404" in line for line in access)
        assert any(f"GET /nav\\u2028{FORGED} 404" in line for line in access)
        assert any(f"GET /nav\\x1b[2K\\x1b[1G{FORGED} 404" in line for line in access)
