"""Attendance on the staff session page (issue 17): marking registrants, importing the meeting
tool's participant report with a review before anything is saved, and the attendance sheet PDF.

    POST /staff/sessions/{id}/attendance                 the marking form (room, online, no)
    GET|POST /staff/sessions/{id}/attendance/import      the upload form; the review (dry run)
    POST /staff/sessions/{id}/attendance/import/save     save the reviewed report
    GET  /staff/sessions/{id}/attendance-sheet.pdf       the printable sheet to sign

The session page's section (templates/staff/session_attendance.html) asks
`session_attendance(request, session)` for what it shows. The reviewed report travels back in
the review page's form (base64): nothing is kept on the server between review and save, and
saving checks the whole file again, so a file changed meanwhile is refused like any other.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from vcs import audit
from vcs.attendance import records, reports, review, sheet
from vcs.attendance.reports import ReportError
from vcs.errors import VcsError
from vcs.i18n import gettext_for
from vcs.planning import registrations, sessions
from vcs.storage.models import Session
from vcs.web.staff.pages import Staff, or_none, page, staff_render
from vcs.web.templating import request_language

TEMPLATE = "staff/attendance_import.html"
SAVED = "saved"


def template_globals() -> dict[str, Any]:
    """`session_attendance(request, session)` for the session page's attendance section."""
    return {"session_attendance": session_attendance}


def session_attendance(request: Request, session: Session) -> dict[str, Any]:
    """What the attendance section shows: whether it is open, the registrants to mark, the
    others recorded, the minimum presence and the counts."""
    context = request.app.state.context
    reason = records.refusal(session, context.clock.now())
    with context.database.session() as db:
        marks, others = records.marking(db, session.id)
        recorded = records.attendees(db, session.id)
    return {
        "open": reason is None,
        "reason": reason,
        "choices": registrations.attendances(session),
        "marks": marks,
        "others": others,
        "room": sum(1 for row in recorded if row.attendance == registrations.ROOM),
        "online": sum(1 for row in recorded if row.attendance == registrations.ONLINE),
        "minimum": records.minimum_minutes(session, context.settings.attendance.min_presence),
        "saved": request.query_params.get("attendance") == SAVED,
    }


def attendance_save(request: Request, staff: Staff, form: FormData | None) -> Response:
    """The marking form: `attended_<registration id>` is "room", "online" or ""."""
    assert form is not None
    context = request.app.state.context
    session_id = request.path_params["session_id"]
    choices = {}
    for key, value in form.multi_items():
        number = key.removeprefix("attended_")
        if key.startswith("attended_") and number.isascii() and number.isdigit():
            choices[int(number)] = str(value)
    with context.database.session() as db:
        session = or_none(lambda: sessions.get(db, session_id))
        if session is None:
            return staff_render(request, staff, "staff/not_found.html", 404)
        try:
            records.save_marks(db, session, choices, staff.email, context.clock.now())
        except VcsError as exc:
            db.rollback()
            return _page(request, staff, session, error=exc, status=400)
    return RedirectResponse(
        f"/staff/sessions/{session_id}?attendance={SAVED}#attendance-heading", 303
    )


def attendance_import(request: Request, staff: Staff, form: FormData | None) -> Response:
    """The upload form (GET); the review of an uploaded report, nothing saved (POST)."""
    context = request.app.state.context
    session_id = request.path_params["session_id"]
    _ = gettext_for(request_language(request))
    if form is None:
        with context.database.session() as db:
            session = or_none(lambda: sessions.get(db, session_id))
            if session is None:
                return staff_render(request, staff, "staff/not_found.html", 404)
            return _page(request, staff, session)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _again(request, staff, session_id, _("Choose a CSV file to upload."))
    data = upload.file.read()
    if not data.strip():
        return _again(request, staff, session_id, _("The file is empty."))
    name = Path(upload.filename).name[:100]
    return _imported(request, staff, session_id, data, name, dry_run=True)


def attendance_import_save(request: Request, staff: Staff, form: FormData | None) -> Response:
    """Save the report the review showed (checked whole again)."""
    assert form is not None
    session_id = request.path_params["session_id"]
    _ = gettext_for(request_language(request))
    try:
        data = base64.b64decode(str(form.get("report", "")), validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if not data:
        return _again(request, staff, session_id, _("Choose a CSV file to upload."))
    name = Path(str(form.get("name", "report.csv"))).name[:100]
    return _imported(request, staff, session_id, data, name, dry_run=False)


def _imported(
    request: Request, staff: Staff, session_id: int, data: bytes, name: str, dry_run: bool
) -> Response:
    context = request.app.state.context
    lang = request_language(request)
    try:
        found = review.import_report(context, session_id, data, name, staff.email, dry_run)
    except ReportError as exc:
        return _with_session(
            request, staff, session_id, name=name, problems=exc.rows(lang), status=400
        )
    except VcsError as exc:
        return _with_session(request, staff, session_id, error=exc, status=400)
    return _with_session(
        request,
        staff,
        session_id,
        name=name,
        review=found,
        report=base64.b64encode(data).decode("ascii") if dry_run else "",
        saved=not dry_run,
    )


def _again(request: Request, staff: Staff, session_id: int, message: str) -> Response:
    return _with_session(request, staff, session_id, message=message, status=400)


def _with_session(request: Request, staff: Staff, session_id: int, **values: Any) -> Response:
    with request.app.state.context.database.session() as db:
        session = or_none(lambda: sessions.get(db, session_id))
        if session is None:
            return staff_render(request, staff, "staff/not_found.html", 404)
        return _page(request, staff, session, **values)


def _page(
    request: Request,
    staff: Staff,
    session: Session,
    error: VcsError | None = None,
    message: str = "",
    status: int = 200,
    **values: Any,
) -> Response:
    lang = request_language(request)
    context = request.app.state.context
    lines = error.lines(lang) if error is not None else ([message] if message else [])
    values.setdefault("name", "")
    values.setdefault("problems", None)
    values.setdefault("review", None)
    values.setdefault("report", "")
    values.setdefault("saved", False)
    return staff_render(
        request,
        staff,
        TEMPLATE,
        status,
        session=session,
        error=" ".join(lines),
        tool_names=reports.TOOL_NAMES,
        minimum=records.minimum_minutes(session, context.settings.attendance.min_presence),
        refusal=records.refusal(session, context.clock.now()),
        **values,
    )


def attendance_sheet(request: Request, staff: Staff, form: FormData | None) -> Response:
    """The attendance sheet PDF, in the page's language (Latvian unless chosen otherwise)."""
    context = request.app.state.context
    session_id = request.path_params["session_id"]
    with context.database.session() as db:
        session = or_none(lambda: sessions.get(db, session_id))
        if session is None:
            return staff_render(request, staff, "staff/not_found.html", 404)
        data = sheet.attendance_sheet(db, session, request_language(request))
        # The sheet lists registrants by name: who printed it is worth knowing.
        audit.record(db, staff.email, "attendance-sheet", "session", session_id)
        name = sheet.filename(session)
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


SESSION = "/staff/sessions/{session_id:int}"
routes = [
    page(f"{SESSION}/attendance", attendance_save, "editor", methods=("POST",)),
    page(f"{SESSION}/attendance/import", attendance_import, "editor", methods=("GET", "POST")),
    page(f"{SESSION}/attendance/import/save", attendance_import_save, "editor", methods=("POST",)),
    page(f"{SESSION}/attendance-sheet.pdf", attendance_sheet, "editor"),
]
