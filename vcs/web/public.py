"""Public pages: the home page with upcoming and past sessions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vcs import sessions
from vcs.web.templating import render


async def home(request: Request) -> Response:
    context = request.app.state.context
    now = context.clock.now()
    with context.database.session() as db:
        upcoming = sessions.upcoming(db, now, limit=20)
        past = sessions.past_with_recordings(db, now, limit=10)
        return render(request, "public/home.html", upcoming=upcoming, past=past)


routes = [Route("/", home, name="home")]
