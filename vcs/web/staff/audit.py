"""The audit log (admins only): who changed what, newest first, a page at a time."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from vcs.staff import dashboard
from vcs.web.staff.pages import Staff, page, staff_render


def audit_log(request: Request, staff: Staff, form: FormData | None) -> Response:
    try:
        number = int(request.query_params.get("page", "1"))
    except ValueError:
        number = 1
    found = dashboard.audit_page(request.app.state.context, number)
    return staff_render(request, staff, "staff/audit.html", audit=found, as_json=as_json)


def as_json(value: Any) -> str:
    """An entry's before or after, as the log shows it."""
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) if value else ""


routes = [page("/staff/audit", audit_log, "admin")]
