"""Logging in and out of the staff area.

Log-in is throttled per account and per address before the password is checked (vcs.staff.
throttle), and the hash is checked off the event loop, a few at a time. Logging out ends every
log-in of the account: its epoch moves on, so each cookie issued before is void.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from vcs import audit
from vcs.i18n import gettext_for
from vcs.staff import accounts, throttle
from vcs.storage.models import StaffUser
from vcs.web.security import StaffSession, set_session_cookie
from vcs.web.staff.pages import HOME, LOGIN, Staff, StaffRoute, current_staff, page, staff_render
from vcs.web.templating import request_language


def safe_next(value: str | None) -> str:
    """Where to go after log-in: only a path on this site, never another site (open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return HOME
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return HOME
    return value


def client_address(request: Request) -> str:
    # uvicorn sets the client from X-Forwarded-For only for trusted proxies (--forwarded-allow-ips).
    return request.client.host if request.client else "unknown"


async def login(request: Request) -> Response:
    if request.method == "GET":
        return await run_in_threadpool(_login_form, request)
    async with request.form() as form:
        email = str(form.get("email", ""))
        password = str(form.get("password", ""))
        target = safe_next(str(form.get("next", "")))
    typed = accounts.normalise_email(email)[:320]
    admitted = await run_in_threadpool(_admit, request, typed, target)
    if isinstance(admitted, Response):
        return admitted
    attempt_id, user_id, stored = admitted
    # Off the event loop and off the shared thread pool, at most staff.max_concurrent_hashes
    # at once: each check holds 64 MiB (see accounts.HashSlots).
    slots = request.app.state.context.settings.staff.max_concurrent_hashes
    check = await accounts.HASHING.run(slots, lambda: accounts.check_hash(stored, password))
    return await run_in_threadpool(
        _log_in, request, typed, attempt_id, user_id, stored, check, target
    )


def _login_form(request: Request) -> Response:
    if current_staff(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), 303)
    return staff_render(
        request,
        None,
        "staff/login.html",
        next=safe_next(request.query_params.get("next")),
        email="",
        error=None,
        logged_out="logged_out" in request.query_params,
    )


def _login_page(request: Request, typed: str, target: str, error: str, status: int) -> Response:
    return staff_render(
        request,
        None,
        "staff/login.html",
        status,
        next=target,
        email=typed,
        error=error,
        logged_out=False,
    )


def _admit(request: Request, typed: str, target: str) -> tuple[int, int | None, str] | Response:
    """Count the attempt before its password is checked: (attempt, account, hash) or a 429."""
    context = request.app.state.context
    now = context.clock.now()
    limits = throttle.Limits.from_settings(context.settings.staff)
    admission = throttle.admit(context.database, typed, client_address(request), now, limits)
    if admission.locked_until is not None:
        _ = gettext_for(request_language(request))
        minutes = max(1, -(-int((admission.locked_until - now).total_seconds()) // 60))
        error = _("Too many failed log-ins. Try again in %(n)s min.", n=minutes)
        response = _login_page(request, typed, target, error, 429)
        response.headers["Retry-After"] = str(minutes * 60)
        return response
    assert admission.attempt_id is not None
    with context.database.session() as db:
        user, stored = accounts.candidate(db, typed)
        return admission.attempt_id, user.id if user is not None else None, stored


def _log_in(
    request: Request,
    typed: str,
    attempt_id: int,
    user_id: int | None,
    stored: str,
    check: accounts.Check,
    target: str,
) -> Response:
    context = request.app.state.context
    settings = context.settings
    now = context.clock.now()
    address = client_address(request)
    with context.database.session() as db:
        user = db.get(StaffUser, user_id) if user_id is not None else None
        # The account may have been disabled, or its password changed, during the check.
        if user is not None and user.password_hash == stored:
            user = accounts.logged_in(db, user, check, now)
        else:
            user = None
        throttle.record(db, attempt_id, user is not None, now)
        if user is None:
            audit.record(db, typed, "login-failed", "staff_user", "", after={"address": address})
            # The same words whether the account exists, is disabled or the password is wrong.
            error = gettext_for(request_language(request))(
                "The e-mail address or the password is not right."
            )
            return _login_page(request, typed, target, error, 400)
        audit.record(db, user.email, "login", "staff_user", user.id, after={"address": address})
        session = StaffSession.anonymous().logged_in(user.id, user.session_epoch, now)
    response = RedirectResponse(target, 303)
    set_session_cookie(response, session, settings)
    return response


def logout(request: Request, staff: Staff, form: FormData | None) -> Response:
    """Log out everywhere: the account's epoch moves on, so every cookie issued before is void."""
    context = request.app.state.context
    with context.database.session() as db:
        user = db.get(StaffUser, staff.id)
        assert user is not None
        user.session_epoch += 1
        audit.record(db, staff.email, "logout", "staff_user", staff.id)
    response = RedirectResponse(f"{LOGIN}?logged_out=1", 303)
    set_session_cookie(response, StaffSession.anonymous(), context.settings)
    return response


routes = [
    StaffRoute(LOGIN, login, who="anyone", methods=("GET", "POST")),
    page("/staff/logout", logout, "editor", methods=("POST",)),
]
