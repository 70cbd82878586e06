"""The feedback form an attendee opens from their e-mail.

    GET|POST /sessions/{id}/feedback/{t}    an attendee (t: their attendance's token) answers once

Thin routes over vcs.feedback. Like every page a signed link opens, it is personal (never
cached, never indexed, no referrer), and a GET changes nothing (mail scanners open links): the
answer is a POST from the form's button. The signed link is the authority, so there is no form
token; a POST from another site's page is refused. A link that is nobody's (changed by hand,
another session's, an attendance since removed) gets a clear page: 403 or 404.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vcs import feedback
from vcs.errors import VcsError
from vcs.feedback import FeedbackError
from vcs.membership.subscriptions import LinkError
from vcs.planning import sessions
from vcs.storage.models import Attendance, Member
from vcs.web.subscriptions import cross_site, endpoint, in_language, link_error
from vcs.web.templating import render, request_language

TEMPLATE = "public/feedback.html"
REFUSED_STATUS = {"forged": 403, "link": 404}


def _language(db: Any, attendance: Attendance) -> str:
    """The attendee's language: a member's own setting, else the one they took part in."""
    member = db.get(Member, attendance.member_id) if attendance.member_id is not None else None
    return (member.language if member is not None else attendance.language) or "lv"


def form_page(request: Request, form: FormData | None) -> Response:
    """The form: answer once; then a thank-you, and "already answered" ever after."""
    context = request.app.state.context
    lang = request_language(request)
    session_id = request.path_params["session_id"]
    with context.database.session() as db:
        try:
            attendance = feedback.attendance_for_link(
                db, context.settings, session_id, request.path_params["token"]
            )
        except FeedbackError as error:
            return render(
                request,
                TEMPLATE,
                status_code=REFUSED_STATUS[error.reason],
                session=None,
                state="refused",
                message=error.problems[0].text(lang),
                errors={},
            )
        if form is None:
            moved = in_language(request, _language(db, attendance))
            if moved is not None:
                return moved
        session = sessions.get(db, attendance.session_id)
        values: dict[str, str] = {}
        errors: dict[str, str] = {}
        status = 200
        state = "form"
        refusal = feedback.refusal(session, context.clock.now())
        if feedback.answered(db, attendance.id):
            state = "answered"
        elif refusal is not None:
            state = refusal
        if form is not None:
            if cross_site(request):
                return link_error(request, LinkError("foreign"))
            values = {key: value for key, value in form.items() if isinstance(value, str)}
            if state == "form":
                try:
                    answer = feedback.read_answer(values)
                    feedback.save(db, context.clock, attendance, answer, lang)
                    state = "thanks"
                except FeedbackError as error:
                    db.rollback()
                    state = "answered" if error.reason == "answered" else error.reason
                    status = 409 if state == "answered" else 400
                except VcsError as error:
                    db.rollback()
                    errors = {name: texts[0] for name, texts in error.by_field(lang).items()}
                    status = 400
            else:
                status = 409 if state == "answered" else 400
        return render(
            request,
            TEMPLATE,
            status_code=status,
            session=session,
            state=state,
            message="",
            values=values,
            errors=errors,
            ratings=feedback.RATINGS,
            limit=feedback.ANSWER.limit,
            action=request.url.path,
        )


routes = [
    Route(
        "/sessions/{session_id:int}/feedback/{token:str}",
        endpoint(form_page),
        methods=["GET", "POST"],
    ),
]
