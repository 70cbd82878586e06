"""The staff accounts (admins only). Accounts are made and changed with `vcs staff`."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from vcs.staff import accounts
from vcs.web.staff.pages import Staff, page, staff_render


def staff_list(request: Request, staff: Staff, form: FormData | None) -> Response:
    with request.app.state.context.database.session() as db:
        found = list(accounts.all_accounts(db))
    return staff_render(request, staff, "staff/staff.html", accounts=found)


routes = [page("/staff/staff", staff_list, "admin")]
