"""Feedback in the staff area: the session page's summary and its button "Ask attendees for
feedback", and the series page's trend (vcs.feedback does the work, docs/feedback.md).

The button queues the feedback e-mail to every attendee not asked yet (the outbox keeps it to
one each), so staff may press it again after marking more attendees.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session as Db
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from vcs import audit, feedback
from vcs.planning import sessions
from vcs.storage.models import Series, Session
from vcs.web.staff.pages import Refusal, Staff, edit, or_none, page
from vcs.web.staff.sessions import _session_page

SESSION = "/staff/sessions/{session_id:int}"


def template_globals() -> dict[str, Any]:
    """`session_feedback(request, session)` for the session page's feedback section."""
    return {"session_feedback": session_feedback}


def session_feedback(request: Request, session: Session) -> feedback.Progress:
    """What the session page's feedback section shows (templates/staff/session_feedback.html)."""
    context = request.app.state.context
    with context.database.session() as db:
        return feedback.progress(db, session, context.clock.now())


def series_feedback(db: Db, series: Series | None) -> feedback.Trend | None:
    """What the series page's feedback section shows; None for a series not saved yet."""
    return feedback.trend(db, series.id) if series is not None else None


def ask(request: Request, staff: Staff, form: FormData | None) -> Response:
    """Queue the feedback e-mail to the attendees not asked yet; back to the session page."""
    context = request.app.state.context
    session_id = request.path_params["session_id"]

    def change(db: Db, session: Session) -> str:
        queued = feedback.ask(db, context.settings, session.id, context.clock.now())
        audit.record(
            db, staff.email, "ask-feedback", "session", session.id, after={"queued": queued}
        )
        return "feedback-asked"

    def again(refusal: Refusal) -> Response:
        # Refused only when the session was cancelled since the page showed the button.
        return _session_page(request, staff, session_id, refusal, 400)

    return edit(
        request,
        staff,
        lambda db: or_none(lambda: sessions.get(db, session_id)),
        change,
        done_url=f"/staff/sessions/{session_id}",
        again=again,
    )


routes = [page(f"{SESSION}/feedback/ask", ask, "editor", methods=("POST",))]
