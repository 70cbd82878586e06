"""Certificates for staff (issue 17): release a session's certificates, revoke one, open any
certificate's PDF, and export a funded series' records for a period.

    POST /staff/sessions/{id}/certificates       release (back to the session page)
    POST /staff/certificates/{code}/revoke       revoke with a reason (back to the session page)
    GET  /staff/certificates/{code}.pdf          the PDF
    GET  /staff/series/{slug}/records            the records form; with ?from=&to=&format= the
                                                 CSV or PDF file (vcs.certificates.records)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from vcs import audit
from vcs.certificates import document, issue, records
from vcs.errors import VcsError
from vcs.i18n import gettext_for
from vcs.storage.models import Series
from vcs.web.certificates import pdf_response
from vcs.web.staff.pages import Refusal, Staff, attempt, page, staff_render
from vcs.web.templating import request_language

SECTION = "#certificates"


def release(request: Request, staff: Staff, form: FormData | None) -> Response:
    context = request.app.state.context
    session_id = request.path_params["session_id"]
    back = f"/staff/sessions/{session_id}"
    with context.database.session() as db:
        try:
            done = issue.release(db, context.settings, context.clock, session_id, staff.email)
        except VcsError as error:
            db.rollback()
            if error.code == "session.not-found":
                return staff_render(request, staff, "staff/not_found.html", 404)
            return RedirectResponse(f"{back}?certificates=refused{SECTION}", 303)
    query = f"certificates=released&issued={done.issued}&queued={done.queued}"
    return RedirectResponse(f"{back}?{query}{SECTION}", 303)


def revoke(request: Request, staff: Staff, form: FormData | None) -> Response:
    assert form is not None
    context = request.app.state.context
    reason = str(form.get("reason", "")).strip()
    with context.database.session() as db:
        found = issue.find(db, request.path_params["code"])
        if found is None:
            return staff_render(request, staff, "staff/not_found.html", 404)
        issue.revoke(db, context.clock, found.code, staff.email, reason)
        back = f"/staff/sessions/{found.session_id}"
    return RedirectResponse(f"{back}?certificates=revoked{SECTION}", 303)


def certificate_pdf(request: Request, staff: Staff, form: FormData | None) -> Response:
    context = request.app.state.context
    with context.database.session() as db:
        found = issue.find(db, request.path_params["code"])
        if found is None:
            return staff_render(request, staff, "staff/not_found.html", 404)
        return pdf_response(document.render(context.settings, found, found.session), found)


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


def records_page(request: Request, staff: Staff, form: FormData | None) -> Response:
    """The form (from, to, CSV or PDF); the file when the form was sent and is right."""
    context = request.app.state.context
    lang = request_language(request)
    slug = request.path_params["slug"]
    params = request.query_params
    values: dict[str, Any] = {
        "from": params.get("from", ""),
        "to": params.get("to", ""),
        "format": params.get("format", "pdf"),
    }
    with context.database.session() as db:
        series = db.scalars(select(Series).where(Series.slug == slug)).first()
        if series is None:
            return staff_render(request, staff, "staff/series_not_found.html", 404)
        errors: dict[str, list[str]] = {}
        lines: list[str] = []
        if "from" in params or "to" in params:
            start, end = _date(values["from"]), _date(values["to"])
            if start is None or end is None:
                key = "from" if start is None else "to"
                errors[key] = [_problem(lang)]
            else:
                found = attempt(
                    lambda: records.collect(db, context.settings, slug, start, end), lang
                )
                if isinstance(found, Refusal):
                    errors.update(found.fields)
                    lines = found.lines
                else:
                    return _download(db, staff, found, values["format"], lang)
        return staff_render(
            request,
            staff,
            "staff/series_records.html",
            400 if errors or lines else 200,
            series=series,
            slug=slug,
            values=values,
            field_errors=errors,
            problems=lines,
        )


def _problem(lang: str) -> str:
    _ = gettext_for(lang)
    return _("Give a date like 2027-01-31.")


def _download(db: Any, staff: Staff, found: records.Records, kind: str, lang: str) -> Response:
    # The files hold attendees' names: who took them is worth knowing.
    audit.record(
        db,
        staff.email,
        "export",
        "records",
        found.series.slug,
        after={"from": found.start.isoformat(), "to": found.end.isoformat(), "format": kind},
    )
    name = f"records-{found.series.slug}-{found.start}-{found.end}"
    if kind == "csv":
        return Response(
            records.as_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        records.as_pdf(found, lang),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


routes = [
    page("/staff/sessions/{session_id:int}/certificates", release, "editor", methods=("POST",)),
    page("/staff/certificates/{code}/revoke", revoke, "editor", methods=("POST",)),
    page("/staff/certificates/{code}.pdf", certificate_pdf, "editor"),
    page("/staff/series/{slug}/records", records_page, "editor"),
]
