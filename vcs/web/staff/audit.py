"""The audit log (admins only): who changed what, newest first, a page at a time; actions and
codes in words (vcs.staff.labels)."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from vcs.staff import dashboard, labels
from vcs.web.staff.pages import Staff, page, staff_render
from vcs.web.templating import request_language


def audit_log(request: Request, staff: Staff, form: FormData | None) -> Response:
    try:
        number = int(request.query_params.get("page", "1"))
    except ValueError:
        number = 1
    context = request.app.state.context
    lang = request_language(request)
    found = dashboard.audit_page(context, number)
    with context.database.session() as db:
        names = labels.Names.load(db, lang)
    rows = [
        {
            "entry": entry,
            "what": labels.what(entry, lang),
            "before": as_json(labels.readable(entry.before, names)),
            "after": as_json(labels.readable(entry.after, names)),
        }
        for entry in found.entries
    ]
    return staff_render(request, staff, "staff/audit.html", audit=found, rows=rows)


def as_json(value: Any) -> str:
    """An entry's before or after, as the log shows it."""
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) if value else ""


routes = [page("/staff/audit", audit_log, "admin")]
