"""/api/sessions: the public sessions as JSON, for the network's website and other tools."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vcs import sessions


class BadParameter(ValueError):
    pass


def _date_param(request: Request, name: str) -> dt.datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return sessions.parse_local(raw, request.app.state.context.settings.tz)
    except sessions.SessionError:
        raise BadParameter(f"{name}: {raw!r} is not a date (2027-01-31) or date-time") from None


def api_sessions(request: Request) -> Response:
    context = request.app.state.context
    try:
        start = _date_param(request, "from")
        end = _date_param(request, "to")
    except BadParameter as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    series = request.query_params.get("series") or None
    region = request.query_params.get("region") or None
    with context.database.session() as db:
        found = sessions.between(db, start, end, series=series, region=region)
        body = [sessions.session_json(s, context.settings.base_url) for s in found]
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=60"})


routes = [Route("/api/sessions", api_sessions, name="api_sessions")]
