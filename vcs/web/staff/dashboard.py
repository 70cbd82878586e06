"""The staff area's front page: the next sessions and their livestreams, recent job runs,
providers that need a hand and the last digest's figures (vcs.staff.dashboard)."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from vcs.staff import dashboard
from vcs.web.staff.pages import Staff, page, staff_render


def home(request: Request, staff: Staff, form: FormData | None) -> Response:
    overview = dashboard.overview(request.app.state.context)
    return staff_render(request, staff, "staff/dashboard.html", overview=overview)


routes = [page("/staff", home, "editor")]
