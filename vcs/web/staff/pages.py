"""What every staff page shares: who is asking, the guard on each route, rendering a staff page,
and the edit cycle (load or 404 → change → redirect with ?done=, or the page again with why).

A staff module lists its routes with `page(path, view, who)`: the route records who may use it
("editor" or "admin") and guards the view. An anonymous visitor is sent to the log-in page (GET)
or refused (anything else); an editor is refused an admin page. CSRF tokens are checked before
any of this, by vcs.web.security.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode

from sqlalchemy.orm import Session as Db
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from vcs.errors import VcsError
from vcs.staff import accounts
from vcs.storage.models import StaffUser
from vcs.web.security import StaffSession, csrf_token, forbidden, set_session_cookie, staff_session
from vcs.web.templating import render, request_language

LOGIN = "/staff/login"
HOME = "/staff"

T = TypeVar("T")
Who = Literal["anyone", "editor", "admin"]


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


class StaffRoute(Route):
    """A route of the staff area that says who may use it; ACCESS is made from these."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        who: Who,
        methods: Sequence[str],
        name: str | None = None,
    ) -> None:
        super().__init__(path, endpoint, methods=list(methods), name=name)
        self.who = who


def page(
    path: str, view: View, who: Literal["editor", "admin"], methods: Sequence[str] = ("GET",)
) -> StaffRoute:
    """The route to a staff view that `who` (and anyone above) may use; see the module doc."""

    def guarded(request: Request, form: FormData | None) -> Response:
        staff = current_staff(request)
        if staff is None:
            if request.method in ("GET", "HEAD"):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{LOGIN}?{urlencode({'next': target})}", 303)
            return forbidden(request)
        if not accounts.may(staff.role, who):
            return forbidden(request)
        return view(request, staff, form)

    async def endpoint(request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            return await run_in_threadpool(guarded, request, None)
        async with request.form() as form:
            return await run_in_threadpool(guarded, request, form)

    # Named by its path: metrics and the access log label staff pages so (docs/operations.md).
    return StaffRoute(path, endpoint, who=who, methods=methods, name=path)


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


# --- refused changes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """Why a change was not made, in the visitor's language: lines for the top of the page
    (problems no form field owns) and problems beside the field they belong to."""

    lines: list[str]
    fields: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, error: VcsError, lang: str) -> Refusal:
        """A VcsError's problems in `lang`, each beside its field or else at the top."""
        top = [problem.line(lang) for problem in error.problems if not problem.field]
        return cls(top, error.by_field(lang))


def attempt(change: Callable[[], T], lang: str) -> T | Refusal:
    """What `change()` returns, or why it refused, in `lang`."""
    try:
        return change()
    except VcsError as exc:
        return Refusal.of(exc, lang)


def or_none(get: Callable[[], T]) -> T | None:
    """What `get()` finds, or None where it says there is no such thing."""
    try:
        return get()
    except VcsError:
        return None


def edit(
    request: Request,
    staff: Staff,
    load: Callable[[Db], T | None],
    change: Callable[[Db, T], str],
    *,
    done_url: str,
    again: Callable[[Refusal], Response],
    missing: str = "staff/not_found.html",
) -> Response:
    """Load the target (the `missing` page, 404, when there is none), apply `change(db, target)`
    and go to `done_url` with ?done=<what it returned>; a refused change is undone and `again`
    shows the page with why (it answers 400)."""
    lang = request_language(request)
    with request.app.state.context.database.session() as db:
        target = load(db)
        if target is None:
            return staff_render(request, staff, missing, 404)
        outcome = attempt(lambda: change(db, target), lang)
        if not isinstance(outcome, Refusal):
            return RedirectResponse(f"{done_url}?done={outcome}", 303)
        db.rollback()
    return again(outcome)
