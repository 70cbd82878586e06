"""/api/sessions: the public sessions as JSON, for the network's website and other tools."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vcs.errors import Problem, VcsError
from vcs.i18n import N_
from vcs.livestream import plan
from vcs.planning import sessions, wording
from vcs.storage.models import Region, Series
from vcs.web import cache
from vcs.web.cache import data_version


class BadParameter(VcsError):
    """A query parameter the API cannot use: code `api.<what>`, said in English in the JSON
    answer (the API is read by programs and their authors)."""

    def __init__(self, name: str, code: str, message: str, **params: object) -> None:
        super().__init__([Problem(f"api.{code}", message, params, (name,))])


def _date_param(request: Request, name: str) -> dt.datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    parse = sessions.parse_until if name == "to" else sessions.parse_local
    try:
        return parse(raw, request.app.state.context.settings.tz)
    except sessions.SessionError:
        raise BadParameter(
            name, "date", N_("%(value)r is not a date (2027-01-31) or date-time"), value=raw
        ) from None


def api_sessions(request: Request) -> Response:
    context = request.app.state.context
    try:
        start = _date_param(request, "from")
        end = _date_param(request, "to")
    except BadParameter as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    series = request.query_params.get("series") or None
    region = request.query_params.get("region") or None
    now = context.clock.now()
    if start is None:
        start = now - dt.timedelta(days=context.settings.feeds.keep_past_days)

    def build() -> tuple[bytes, dt.datetime, str]:
        with context.database.session() as db:
            if series and not db.scalar(
                select(Series.id).where(Series.slug == series, Series.visibility == "public")
            ):
                raise BadParameter("series", "series", N_("no public series %(slug)r"), slug=series)
            if region and not db.scalar(select(Region.id).where(Region.slug == region)):
                raise BadParameter(
                    "region", "region", N_("no planning region %(slug)r"), slug=region
                )
            found = sessions.between(db, start, end, series=series, region=region)
            base = context.settings.base_url
            body = [wording.session_json(s, base, now, plan.stream(s)) for s in found]
        return _json_bytes(body), now, ""

    # Built once per change and per second (each session's phase moves with the clock), so a
    # burst of the same question costs one query.
    today = now.astimezone(context.settings.tz).date()
    version = (*data_version(request.app.state.stamp_watch, today), now.replace(microsecond=0))
    try:
        cached = request.app.state.page_cache.get((f"api:{request.url.query}", ""), version, build)
    except BadParameter as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    assert cached is not None
    return cache.respond(request, cached, "application/json", "public, max-age=60")


def _json_bytes(body: object) -> bytes:
    """As JSONResponse writes it."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def api_session(request: Request) -> Response:
    """One public session; the livestream page polls it to switch from countdown to player."""
    context = request.app.state.context
    with context.database.session() as db:
        try:
            session = sessions.get(db, request.path_params["session_id"])
        except sessions.SessionError:
            return JSONResponse({"error": "no such session"}, status_code=404)
        if session.series.visibility != "public":
            return JSONResponse({"error": "no such session"}, status_code=404)
        now = context.clock.now()
        body = wording.session_json(session, context.settings.base_url, now, plan.stream(session))
    # The page counts down by the server's clock, not the visitor's.
    body["now"] = now.isoformat()
    # Short, so a page polling every 30 s through a cache still sees a change within a minute.
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=15"})


routes = [
    Route("/api/sessions", api_sessions, name="api_sessions"),
    Route("/api/sessions/{session_id:int}", api_session, name="api_session"),
]
