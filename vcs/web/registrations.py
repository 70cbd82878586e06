"""Registration pages: the form on the session page, a member's and a visitor's own page.

    POST /sessions/{id}/register            the session page's form: an e-mail with a link
    GET|POST /sessions/{id}/register/{t}    a member (t: their member token) registers, cancels
    GET|POST /registrations/{t}             a visitor (t: their registration's token) confirms,
                                            cancels

Thin routes over vcs.planning.registrations. The pages a signed link opens are personal (never
cached, never indexed, no referrer), and a GET never changes anything (mail scanners open
links): every change is a POST from a button. The session page itself stays cached: it shows
only the form, never counts or names (docs/registration.md).
"""

from __future__ import annotations

from sqlalchemy.orm import Session as Db
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from vcs.membership import subscriptions
from vcs.membership.subscriptions import LinkError
from vcs.planning import registrations, sessions
from vcs.planning.registrations import RegistrationError
from vcs.storage.models import Registration, Session
from vcs.web.subscriptions import cross_site, endpoint, link_error, network_name
from vcs.web.templating import render, request_language

TEMPLATE = "public/registration.html"


def _public_session(db: Db, session_id: int) -> Session | None:
    try:
        session = sessions.get(db, session_id)
    except sessions.SessionError:
        return None
    return session if session.series.visibility == "public" else None


def _page(
    request: Request,
    session: Session,
    status: int = 200,
    *,
    row: Registration | None = None,
    message: str = "",
    sent: bool = False,
    member: bool = False,
) -> Response:
    now = request.app.state.context.clock.now()
    return render(
        request,
        TEMPLATE,
        status_code=status,
        session=session,
        row=row,
        message=message,
        sent=sent,
        member=member,
        choices=registrations.attendances(session),
        refusal=registrations.refusal(session, now),
        action=request.url.path,
    )


def _attendance(form: FormData, session: Session) -> str:
    value = form.get("attendance")
    choices = registrations.attendances(session)
    return value if isinstance(value, str) and value else choices[0]


def ask(request: Request, form: FormData | None) -> Response:
    """The session page's form: a visitor's (or a member's) e-mail with their link."""
    context = request.app.state.context
    session_id = request.path_params["session_id"]
    if form is None:
        return RedirectResponse(f"/sessions/{session_id}", status_code=303)
    if cross_site(request):
        return link_error(request, LinkError("foreign"))
    lang = request_language(request)
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    with context.database.session() as db:
        session = _public_session(db, session_id)
        if session is None:
            return render(request, "public/error.html", status_code=404, status=404)
        try:
            visitor = registrations.read_visitor(values, lang)
            registrations.ask_visitor(
                db,
                context.settings,
                context.clock,
                session.id,
                visitor,
                _attendance(form, session),
                network_name(request),
            )
        except RegistrationError as error:
            db.rollback()
            return _page(request, session, 400, message=error.problems[0].text(lang))
        return _page(request, session, sent=True)


def member_page(request: Request, form: FormData | None) -> Response:
    """A member's registration for one session: register, see it, cancel it."""
    context = request.app.state.context
    lang = request_language(request)
    with context.database.session() as db:
        try:
            member = subscriptions.member_for_link(
                db, context.settings, request.path_params["token"]
            )
        except LinkError as error:
            return link_error(request, error)
        session = _public_session(db, request.path_params["session_id"])
        if session is None or not registrations.may_register(member):
            return render(request, "public/error.html", status_code=404, status=404)
        message = ""
        status = 200
        if form is not None:
            if cross_site(request):
                return link_error(request, LinkError("foreign"))
            try:
                if form.get("action") == "cancel":
                    row = registrations.member_registration(db, session.id, member)
                    if row is not None:
                        registrations.cancel(
                            db, context.settings, context.clock, row.id, network_name(request)
                        )
                else:
                    registrations.register_member(
                        db, context.clock, session.id, member, _attendance(form, session)
                    )
            except RegistrationError as error:
                db.rollback()
                message, status = error.problems[0].text(lang), 400
        row = registrations.member_registration(db, session.id, member)
        return _page(request, session, status, row=row, message=message, member=True)


def visitor_page(request: Request, form: FormData | None) -> Response:
    """A visitor's registration: confirm it (once), see it, cancel it."""
    context = request.app.state.context
    lang = request_language(request)
    with context.database.session() as db:
        try:
            row = registrations.registration_for_link(
                db, context.settings, request.path_params["token"]
            )
        except RegistrationError:
            return render(request, "public/error.html", status_code=404, status=404)
        session = sessions.get(db, row.session_id)
        message, status = "", 200
        if form is not None:
            if cross_site(request):
                return link_error(request, LinkError("foreign"))
            try:
                if form.get("action") == "cancel":
                    registrations.cancel(
                        db, context.settings, context.clock, row.id, network_name(request)
                    )
                else:
                    registrations.confirm_visitor(db, context.clock, row.id)
            except RegistrationError as error:
                db.rollback()
                message, status = error.problems[0].text(lang), 400
            db.refresh(row)
        return _page(request, session, status, row=row, message=message)


routes = [
    Route("/sessions/{session_id:int}/register", endpoint(ask), methods=["GET", "POST"]),
    Route(
        "/sessions/{session_id:int}/register/{token:str}",
        endpoint(member_page),
        methods=["GET", "POST"],
    ),
    Route("/registrations/{token:str}", endpoint(visitor_page), methods=["GET", "POST"]),
]
