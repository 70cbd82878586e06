"""The Starlette application: routes, templates, static files and (in `vcs serve`) the scheduler."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from vcs.config import load_settings
from vcs.context import Context
from vcs.network import read_network
from vcs.paths import STATIC_DIR
from vcs.storage.changes import StampWatch
from vcs.web import (
    api,
    atom,
    digests,
    embed,
    feeds,
    health,
    observability,
    public,
    registrations,
    staff,
    subscriptions,
)
from vcs.web import certificates as certificate_pages
from vcs.web import feedback as feedback_pages
from vcs.web.cache import ResponseCache
from vcs.web.observability import ObservabilityMiddleware
from vcs.web.security import SecurityMiddleware
from vcs.web.staff import attendance as staff_attendance
from vcs.web.staff import feedback as staff_feedback
from vcs.web.templating import error_response, make_environment


async def http_error(request: Request, exc: Exception) -> Response:
    """Errors as pages in the visitor's language (JSON for the API).

    Unexpected errors (500) are answered by vcs.web.security, so they get its headers too.
    """
    assert isinstance(exc, HTTPException)
    return error_response(request, exc.status_code, exc.detail)


def create_app(context: Context | None = None, with_scheduler: bool = False) -> Starlette:
    """The web app on `context` (built from the settings when not given)."""
    context = context or Context.from_settings(load_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        scheduler = None
        if with_scheduler:
            from vcs.scheduler.service import SchedulerService

            scheduler = SchedulerService(context)
            scheduler.start_in_background()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()

    app = Starlette(
        routes=[
            *public.hot_routes,
            *health.routes,
            *observability.routes,
            *feeds.routes,
            *atom.routes,
            *embed.routes,
            *(route for route in public.routes if route not in public.hot_routes),
            *digests.routes,
            *subscriptions.routes,
            *registrations.routes,
            *feedback_pages.routes,
            *certificate_pages.routes,
            *api.routes,
            *staff.routes,
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        lifespan=lifespan,
        # Outermost first: request ids and metrics also cover what the security layer refuses.
        middleware=[
            Middleware(ObservabilityMiddleware),
            Middleware(SecurityMiddleware, context=context),
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.context = context
    app.state.templates = make_environment()
    app.state.templates.globals.update(embed.template_globals(context.settings))
    app.state.templates.globals.update(staff_attendance.template_globals())
    app.state.templates.globals.update(staff_feedback.template_globals())
    app.state.templates.globals.update(certificate_pages.template_globals(context))
    app.state.feed_cache = ResponseCache()
    app.state.page_cache = ResponseCache()
    app.state.stamp_watch = StampWatch(
        context.database.engine, context.settings.web.stamp_recheck_ms / 1000
    )
    app.state.session_timing = {}
    app.state.network = read_network(context.settings.path(context.settings.network.file))
    return app
