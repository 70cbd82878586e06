"""The staff area under /staff, one module per part: log-in (auth), the dashboard, one session,
series, digests, members, staff accounts and the audit log. What they share (the guard, the
page frame, the edit cycle) is in `pages`.

Each module exports `routes`; `ACCESS` (route path -> "anyone", "editor" or "admin") is read
from them, and the access-control test walks every /staff route of the app against it.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from vcs.web.staff import (
    accounts,
    attendance,
    audit,
    auth,
    dashboard,
    digests,
    members,
    series,
    sessions,
)
from vcs.web.staff import certificates as certificate_pages
from vcs.web.staff import feedback as feedback_pages
from vcs.web.staff.pages import StaffRoute

routes: list[BaseRoute] = [
    *auth.routes,
    *dashboard.routes,
    *sessions.routes,
    *attendance.routes,
    *feedback_pages.routes,
    *certificate_pages.routes,
    *audit.routes,
    *accounts.routes,
    *digests.routes,
    *members.routes,
    *series.routes,
]
ACCESS: dict[str, str] = {
    route.path: route.who for route in routes if isinstance(route, StaffRoute)
}
