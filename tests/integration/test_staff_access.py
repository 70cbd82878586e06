"""Who may use which staff route, CSRF tokens, the session cookie and the security headers.

The helpers at the top (staff accounts, logging in, reading a form's CSRF token) are shared by
the other staff tests.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from httpx import Response
from sqlalchemy import select
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.conftest import make_settings
from tests.factories import NATIONAL, NOW, import_entries, national, session_id
from vcs import digest as digests
from vcs.bootstrap import initialise
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.staff import accounts
from vcs.storage.models import Attendance, Certificate, Session, StaffUser
from vcs.web import staff as staff_routes
from vcs.web.app import create_app
from vcs.web.security import SESSION_COOKIE

PASSWORD = "correct horse battery"
EDITOR = "redaktore@example.lv"
CODE = "2345-6789-ABCD"  # a certificate (vcs/certificates/)
ADMIN = "admins@example.lv"


# -- helpers ------------------------------------------------------------------------------------


def add_staff(context: Context, email: str, role: str, password: str = PASSWORD) -> int:
    with context.database.session() as db:
        return accounts.create(db, email, password, role, actor="test").id


def csrf_of(html: str) -> str:
    """The CSRF token of the first form in a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def log_in(client: TestClient, email: str, password: str = PASSWORD, next: str = "") -> Response:
    """Open the log-in page and send its form, as a browser does."""
    form = client.get("/staff/login")
    data = {"email": email, "password": password, "next": next, "csrf_token": csrf_of(form.text)}
    return client.post("/staff/login", data=data, follow_redirects=False)


def staff_site(context: Context, tmp_path: Path) -> TestClient:
    """The national series with its sessions, an editor and an admin; a client per test."""
    context.clock = FixedClock(NOW)
    import_entries(context, tmp_path, national())
    add_staff(context, EDITOR, "editor")
    add_staff(context, ADMIN, "admin")
    return TestClient(create_app(context), follow_redirects=False)


def first_session(context: Context) -> int:
    return session_id(context, NATIONAL, "2026-12-10")


# -- access control -------------------------------------------------------------------------------


def staff_routes_of(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) for every route of the app under /staff, straight from its routing table."""
    found = []
    for route in client.app.routes:
        if isinstance(route, Route) and route.path.startswith("/staff"):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    found.append((method, route.path))
    return found


def test_every_staff_route_declares_who_may_use_it(context: Context, tmp_path: Path) -> None:
    client = staff_site(context, tmp_path)
    routes = staff_routes_of(client)
    assert len(routes) >= 9
    for _method, path in routes:
        assert staff_routes.ACCESS.get(path) in ("anyone", "editor", "admin"), path


@pytest.mark.parametrize("who", ["anonymous", "editor", "admin"])
def test_every_staff_route_answers_each_role_as_it_should(
    context: Context, tmp_path: Path, who: str
) -> None:
    client = staff_site(context, tmp_path)
    session = first_session(context)
    with context.database.session() as db:
        digest = digests.draft(db, context.settings, NOW, "test")[0].id
        attendance = Attendance(session_id=session, email="a@example.lv", name="Anna")
        db.add(attendance)
        db.flush()
        db.add(
            Certificate(
                code=CODE, attendance_id=attendance.id, session_id=session, name="Anna", minutes=90
            )
        )
    if who != "anonymous":
        assert log_in(client, EDITOR if who == "editor" else ADMIN).status_code == 303
    # Any page carries the session's CSRF token: checking access, not CSRF, here.
    token = csrf_of(client.get("/staff/login").text) if who == "anonymous" else None
    if token is None:
        token = csrf_of(client.get("/staff").text)
    checked = 0
    # Log-out last: it ends the log-in the other routes need.
    for method, pattern in sorted(staff_routes_of(client), key=lambda r: r[1] == "/staff/logout"):
        path = pattern.replace("{session_id:int}", str(session)).replace("{slug}", NATIONAL)
        path = path.replace("{digest_id:int}", str(digest)).replace("{code}", CODE)
        assert "{" not in path, f"no test value for a parameter of {pattern}"
        needed = staff_routes.ACCESS[pattern]
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data={"csrf_token": token})
        allowed = needed == "anyone" or (
            who != "anonymous" and accounts.may("admin" if who == "admin" else "editor", needed)
        )
        where = f"{who} {method} {path}"
        if allowed:
            assert response.status_code in (200, 303, 400), where
            if response.status_code == 303:
                assert not response.headers["location"].startswith("/staff/login?next"), where
        elif who == "anonymous" and method == "GET":
            assert response.status_code == 303, where
            assert response.headers["location"].startswith("/staff/login?next="), where
        else:
            assert response.status_code == 403, where
        checked += 1
    assert checked >= 9


def test_an_anonymous_visitor_is_sent_to_log_in_and_back(context: Context, tmp_path: Path) -> None:
    client = staff_site(context, tmp_path)
    session = first_session(context)
    response = client.get(f"/staff/sessions/{session}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/staff/login?next=%2Fstaff%2Fsessions%2F{session}"
    answer = log_in(client, EDITOR, next=f"/staff/sessions/{session}")
    assert answer.headers["location"] == f"/staff/sessions/{session}"


def test_an_editor_may_not_read_the_audit_log_or_the_staff_list(
    context: Context, tmp_path: Path
) -> None:
    client = staff_site(context, tmp_path)
    log_in(client, EDITOR)
    assert client.get("/staff").status_code == 200
    for path in ("/staff/audit", "/staff/staff"):
        response = client.get(path)
        assert response.status_code == 403
        assert "Nav atļauts" in response.text


# -- CSRF ---------------------------------------------------------------------------------------


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(
    context: Context, tmp_path: Path
) -> None:
    client = staff_site(context, tmp_path)
    session = first_session(context)
    log_in(client, EDITOR)
    token = csrf_of(client.get(f"/staff/sessions/{session}").text)
    cancel = f"/staff/sessions/{session}/cancel"
    assert client.post(cancel, data={"reason": "Slimība"}).status_code == 403
    assert client.post(cancel, data={"reason": "Slimība", "csrf_token": "x"}).status_code == 403
    # A token signed for another session does not fit this one.
    other = TestClient(create_app(context), follow_redirects=False)
    log_in(other, ADMIN)
    foreign = csrf_of(other.get("/staff").text)
    assert client.post(cancel, data={"reason": "Slimība", "csrf_token": foreign}).status_code == 403
    with context.database.session() as db:
        assert db.get(Session, session).status == "scheduled"
    # The header works as well as the form field, and the right token is accepted.
    answer = client.post(
        cancel, data={"reason": "Slimība", "confirm": "yes"}, headers={"X-CSRF-Token": token}
    )
    assert answer.status_code == 303
    with context.database.session() as db:
        assert db.get(Session, session).status == "cancelled"


def test_logging_in_needs_the_token_of_the_log_in_form(context: Context, tmp_path: Path) -> None:
    client = staff_site(context, tmp_path)
    data = {"email": EDITOR, "password": PASSWORD}
    assert client.post("/staff/login", data=data).status_code == 403


def test_the_one_click_unsubscribe_post_is_exempt_from_csrf() -> None:
    from vcs.web.security import csrf_required

    assert csrf_required("POST", "/staff/sessions/1/cancel")
    assert csrf_required("DELETE", "/staff")
    assert not csrf_required("GET", "/staff/sessions/1")
    assert not csrf_required("POST", "/unsubscribe/abc123")


# -- the session cookie -------------------------------------------------------------------------


def test_the_session_cookie_is_httponly_samesite_lax_and_expires(
    context: Context, tmp_path: Path
) -> None:
    client = staff_site(context, tmp_path)
    response = log_in(client, EDITOR)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/staff" in cookie
    assert "Max-Age=43200" in cookie
    assert "Secure" not in cookie  # base_url is http:// here
    assert client.get("/staff").status_code == 200
    context.clock.advance(dt.timedelta(hours=12, minutes=1))
    assert client.get("/staff").status_code == 303


def test_the_cookie_is_secure_behind_https(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, VCS_BASE_URL="https://vcs.example.lv")
    context = Context.from_settings(settings)
    initialise(context)
    try:
        client = staff_site(context, tmp_path)
        cookie = client.get("/staff/login").headers["set-cookie"]
        assert "Secure" in cookie
    finally:
        context.close()


def test_a_cookie_signed_with_another_secret_is_refused(context: Context, tmp_path: Path) -> None:
    client = staff_site(context, tmp_path)
    log_in(client, ADMIN)
    stolen = client.cookies[SESSION_COOKIE]
    other = Context.from_settings(
        make_settings(tmp_path / "other", VCS_SECRET_KEY="another-secret-of-at-least-32-chars!")
    )
    try:
        other.clock = context.clock
        other_client = TestClient(create_app(other), follow_redirects=False)
        other_client.cookies.set(SESSION_COOKIE, stolen, path="/staff")
        assert other_client.get("/staff").status_code == 303
    finally:
        other.close()
    # And a cookie tampered with is refused by its own site.
    tampered = TestClient(create_app(context), follow_redirects=False)
    tampered.cookies.set(SESSION_COOKIE, stolen[:-2] + "xx", path="/staff")
    assert tampered.get("/staff").status_code == 303


def test_logging_out_ends_the_cookie_everywhere(context: Context, tmp_path: Path) -> None:
    client = staff_site(context, tmp_path)
    log_in(client, EDITOR)
    kept = client.cookies[SESSION_COOKIE]
    response = client.post("/staff/logout", data={"csrf_token": csrf_of(client.get("/staff").text)})
    assert response.headers["location"] == "/staff/login?logged_out=1"
    replay = TestClient(create_app(context), follow_redirects=False)
    replay.cookies.set(SESSION_COOKIE, kept, path="/staff")
    assert replay.get("/staff").status_code == 303


def test_a_disabled_account_is_logged_out_at_once(context: Context, tmp_path: Path) -> None:
    client = staff_site(context, tmp_path)
    log_in(client, EDITOR)
    assert client.get("/staff").status_code == 200
    with context.database.session() as db:
        accounts.disable(db, EDITOR, actor="test")
    assert client.get("/staff").status_code == 303
    assert "nav pareiz" in log_in(client, EDITOR).text


# -- no open redirect ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/staff",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/staff\r\nSet-Cookie: x=1",
        "staff",
    ],
)
def test_log_in_never_redirects_to_another_site(
    context: Context, tmp_path: Path, target: str
) -> None:
    client = staff_site(context, tmp_path)
    response = log_in(client, EDITOR, next=target)
    assert response.headers["location"] == "/staff"


def test_log_in_returns_to_a_path_on_this_site(context: Context, tmp_path: Path) -> None:
    client = staff_site(context, tmp_path)
    response = log_in(client, EDITOR, next="/staff/sessions/1?x=1")
    assert response.headers["location"] == "/staff/sessions/1?x=1"


# -- security headers ---------------------------------------------------------------------------


def test_security_headers_on_public_and_staff_pages(context: Context, tmp_path: Path) -> None:
    client = staff_site(context, tmp_path)
    session = first_session(context)
    for path in ("/", f"/sessions/{session}", "/calendar.ics", "/api/sessions", "/staff/login"):
        response = client.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp, path
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, path
        assert "frame-src 'self' https://www.youtube-nocookie.com" in csp, path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin", path
    assert client.get("/staff/login").headers["cache-control"] == "no-store"
    assert client.get("/nav-tadas").headers["x-frame-options"] == "DENY"


def test_personal_feeds_keep_their_stricter_referrer_policy(
    context: Context, tmp_path: Path
) -> None:
    from vcs.storage.models import Member

    client = staff_site(context, tmp_path)
    with context.database.session() as db:
        db.add(Member(email="a@example.lv", name="A", feed_token="tok123", status="active"))
    response = client.get("/feeds/tok123.ics")
    assert response.status_code == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "content-security-policy" in response.headers


def test_staff_passwords_are_stored_as_argon2id(context: Context, tmp_path: Path) -> None:
    staff_site(context, tmp_path)
    with context.database.session() as db:
        stored = db.scalars(select(StaffUser.password_hash)).all()
    assert len(stored) == 2
    for value in stored:
        assert value.startswith("$argon2id$")
        assert PASSWORD not in value
