"""The staff area under /staff: log-in and log-out, the dashboard, editing one session, the audit
log and the staff accounts.

Every route is declared with `page(path, who)`, which records who may use it in `ACCESS`
("anyone", "editor" or "admin") and guards it: an anonymous visitor is sent to the log-in page
(GET) or refused (anything else), an editor is refused an admin page. CSRF tokens are checked
before any of this, by vcs.web.security.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from vcs import audit
from vcs.errors import VcsError
from vcs.i18n import gettext_for
from vcs.planning import sessions
from vcs.staff import accounts, dashboard, throttle
from vcs.storage.models import StaffUser
from vcs.web.security import (
    StaffSession,
    csrf_token,
    forbidden,
    set_session_cookie,
    staff_session,
)
from vcs.web.templating import render, request_language

LOGIN = "/staff/login"
HOME = "/staff"


@dataclass(frozen=True)
class Staff:
    """The staff member a request comes from."""

    id: int
    email: str
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return accounts.may(self.role, "admin")


View = Callable[[Request, Staff, FormData | None], Response]
routes: list[Route] = []
# Route path -> who may use it. The access-control test walks every /staff route against this.
ACCESS: dict[str, str] = {}


def page(path: str, who: str, methods: tuple[str, ...] = ("GET",)) -> Callable[[View], View]:
    """Declare a staff route that `who` (editor or admin) may use; see the module doc."""

    def decorate(view: View) -> View:
        async def endpoint(request: Request) -> Response:
            if request.method in ("GET", "HEAD"):
                return await run_in_threadpool(_guarded, request, None)
            async with request.form() as form:
                return await run_in_threadpool(_guarded, request, form)

        def _guarded(request: Request, form: FormData | None) -> Response:
            staff = current_staff(request)
            if staff is None:
                if request.method in ("GET", "HEAD"):
                    target = request.url.path + (
                        f"?{request.url.query}" if request.url.query else ""
                    )
                    return RedirectResponse(f"{LOGIN}?{urlencode({'next': target})}", 303)
                return forbidden(request)
            if not accounts.may(staff.role, who):
                return forbidden(request)
            return view(request, staff, form)

        routes.append(Route(path, endpoint, methods=list(methods)))
        ACCESS[path] = who
        return view

    return decorate


def current_staff(request: Request) -> Staff | None:
    """The logged-in, active staff member whose log-in has not been ended since."""
    session = staff_session(request)
    if session is None or session.user_id is None:
        return None
    with request.app.state.context.database.session() as db:
        user = db.get(StaffUser, session.user_id)
        if user is None or not user.active or user.session_epoch != session.epoch:
            return None
        return Staff(user.id, user.email, user.name, user.role)


def staff_render(
    request: Request, staff: Staff | None, template: str, status_code: int = 200, **values: Any
) -> Response:
    """A staff page: the staff member, the nav and the CSRF token every form carries."""
    settings = request.app.state.context.settings
    session = staff_session(request)
    fresh = session is None
    session = session or StaffSession.anonymous()
    response = render(
        request,
        template,
        status_code=status_code,
        staff=staff,
        csrf_token=csrf_token(session, settings),
        **values,
    )
    if fresh:
        set_session_cookie(response, session, settings)
    return response


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


# --- log-in and log-out ---------------------------------------------------------------------


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


@page("/staff/logout", "editor", methods=("POST",))
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


# --- pages ----------------------------------------------------------------------------------


@page("/staff", "editor")
def home(request: Request, staff: Staff, form: FormData | None) -> Response:
    overview = dashboard.overview(request.app.state.context)
    return staff_render(request, staff, "staff/dashboard.html", overview=overview)


@page("/staff/sessions/{session_id:int}", "editor")
def session_edit(request: Request, staff: Staff, form: FormData | None) -> Response:
    return _session_page(request, staff, request.path_params["session_id"])


def _session_page(
    request: Request,
    staff: Staff,
    session_id: int,
    error: str | None = None,
    status: int = 200,
    field_errors: dict[str, list[str]] | None = None,
) -> Response:
    context = request.app.state.context
    _ = gettext_for(request_language(request))
    with context.database.session() as db:
        try:
            session = sessions.get(db, session_id)
        except sessions.SessionError:
            return staff_render(request, staff, "staff/not_found.html", 404)
        session.livestream  # noqa: B018 - loaded now, shown after the database session closes
        tz = sessions.timezone(session)
        done = {
            "details": _("The session's details have been saved."),
            "moved": _("The session has been moved."),
            "cancelled": _("The session has been cancelled."),
            "reinstated": _("The session has been reinstated."),
            "unchanged": _("Nothing was changed."),
        }.get(request.query_params.get("done", ""))
        return staff_render(
            request,
            staff,
            "staff/session.html",
            status,
            session=session,
            local_start=f"{session.start.astimezone(tz):%Y-%m-%dT%H:%M}",
            local_end=f"{session.end.astimezone(tz):%Y-%m-%dT%H:%M}",
            speakers_text=speakers_text(session.speakers),
            history=dashboard.session_history(context, session_id),
            done=done,
            error=error,
            field_errors=field_errors or {},
        )


def _session_change(request: Request, staff: Staff, change: Callable[[Any, Any], str]) -> Response:
    """Apply `change(db, session)` and go back to the page; a refused change shows why."""
    context = request.app.state.context
    session_id = request.path_params["session_id"]
    lang = request_language(request)
    field_errors: dict[str, list[str]] = {}
    with context.database.session() as db:
        try:
            session = sessions.get(db, session_id)
        except sessions.SessionError:
            return staff_render(request, staff, "staff/not_found.html", 404)
        try:
            done = change(db, session)
        except sessions.SessionError as exc:
            db.rollback()
            error = str(exc)
        except VcsError as exc:
            db.rollback()
            field_errors = exc.by_field(lang)
            error = gettext_for(lang)("Nothing was saved: see the problems marked below.")
        else:
            return RedirectResponse(f"/staff/sessions/{session_id}?done={done}", 303)
    return _session_page(request, staff, session_id, error, 400, field_errors)


@page("/staff/sessions/{session_id:int}/details", "editor", methods=("POST",))
def session_details(request: Request, staff: Staff, form: FormData | None) -> Response:
    assert form is not None
    _ = gettext_for(request_language(request))

    def change(db: Any, session: Any) -> str:
        values: dict[str, Any] = {
            key: str(form.get(key, "")).strip() for key in sessions.EDITABLE_TEXT
        }
        try:
            values["speakers"] = parse_speakers(str(form.get("speakers", "")))
        except ValueError as exc:
            raise sessions.SessionError(
                _("Speakers, line %(n)s: a speaker needs a name.", n=exc.args[0])
            ) from None
        before = session.revision
        sessions.update_details(db, session, staff.email, **values)
        return "details" if session.revision != before else "unchanged"

    return _session_change(request, staff, change)


@page("/staff/sessions/{session_id:int}/move", "editor", methods=("POST",))
def session_move(request: Request, staff: Staff, form: FormData | None) -> Response:
    assert form is not None
    _ = gettext_for(request_language(request))

    def change(db: Any, session: Any) -> str:
        tz = sessions.timezone(session)
        start_text = str(form.get("start", "")).strip()
        end_text = str(form.get("end", "")).strip()
        try:
            start = sessions.parse_local(start_text, tz)
            end = sessions.parse_local(end_text, tz) if end_text else None
        except sessions.SessionError:
            raise sessions.SessionError(
                _("Give the date and time like 2027-01-15T10:00.")
            ) from None
        if end is not None and end <= start:
            raise sessions.SessionError(_("The end must be after the start."))
        if start == session.start and (end is None or end == session.end):
            return "unchanged"
        sessions.move(db, session, start.astimezone(dt.UTC), staff.email, end)
        return "moved"

    return _session_change(request, staff, change)


@page("/staff/sessions/{session_id:int}/cancel", "editor", methods=("POST",))
def session_cancel(request: Request, staff: Staff, form: FormData | None) -> Response:
    assert form is not None
    _ = gettext_for(request_language(request))

    def change(db: Any, session: Any) -> str:
        reason = str(form.get("reason", "")).strip()
        if not reason:
            raise sessions.SessionError(
                _("Say why the session is cancelled: members will read it.")
            )
        if session.status == "cancelled":
            return "unchanged"
        sessions.cancel(db, session, reason, staff.email)
        return "cancelled"

    return _session_change(request, staff, change)


@page("/staff/sessions/{session_id:int}/reinstate", "editor", methods=("POST",))
def session_reinstate(request: Request, staff: Staff, form: FormData | None) -> Response:
    def change(db: Any, session: Any) -> str:
        if session.status != "cancelled":
            return "unchanged"
        sessions.reinstate(db, session, staff.email)
        return "reinstated"

    return _session_change(request, staff, change)


@page("/staff/audit", "admin")
def audit_log(request: Request, staff: Staff, form: FormData | None) -> Response:
    try:
        number = int(request.query_params.get("page", "1"))
    except ValueError:
        number = 1
    found = dashboard.audit_page(request.app.state.context, number)
    return staff_render(request, staff, "staff/audit.html", audit=found, as_json=as_json)


@page("/staff/staff", "admin")
def staff_list(request: Request, staff: Staff, form: FormData | None) -> Response:
    with request.app.state.context.database.session() as db:
        found = list(accounts.all_accounts(db))
    return staff_render(request, staff, "staff/staff.html", accounts=found)


# --- helpers for the forms ------------------------------------------------------------------


def speakers_text(speakers: list[dict[str, str]]) -> str:
    """Speakers as the form shows them: one a line, "name; role; organisation"."""
    lines = []
    for speaker in speakers:
        parts = [speaker.get("name", ""), speaker.get("role", ""), speaker.get("organisation", "")]
        while parts and not parts[-1]:
            parts.pop()
        lines.append("; ".join(parts))
    return "\n".join(lines)


def parse_speakers(text: str) -> list[dict[str, str]]:
    """The form's speakers back; ValueError(line number) for a line without a name."""
    speakers = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(";", 2)] + ["", ""]
        if not parts[0]:
            raise ValueError(number)
        speakers.append({"name": parts[0], "role": parts[1], "organisation": parts[2]})
    return speakers


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) if value else ""


routes.insert(0, Route(LOGIN, login, methods=["GET", "POST"]))
ACCESS[LOGIN] = "anyone"
