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
from vcs.planning import registrations, sessions, wording
from vcs.storage.models import Region, Series
from vcs.web import cache


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


async def api_sessions(request: Request) -> Response:
    context = request.app.state.context
    try:
        start = _date_param(request, "from")
        end = _date_param(request, "to")
    except BadParameter as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    series = request.query_params.get("series") or None
    region = request.query_params.get("region") or None
    now = context.clock.now()
    keep_past = dt.timedelta(days=context.settings.feeds.keep_past_days)
    moving_start = start is None
    if start is None:
        start = now - keep_past

    def build() -> cache.Built:
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
            # The answer moves with the clock only when a session starts, ends, stops counting
            # as live (sessions.phase), or leaves the default window of recent days.
            moments = [s.start for s in found] + [s.end for s in found]
            moments += [s.end + sessions.LIVE_OVERRUN for s in found]
            if moving_start:
                moments += [s.end + keep_past for s in found]
        return _json_bytes(body), now, "", min((m for m in moments if m > now), default=None)

    # Built once per change, and again when the clock moves a session's phase (build()), so a
    # burst of the same question costs one query and a hit costs no thread.
    today = now.astimezone(context.settings.tz).date()
    version = await cache.adata_version(request.app.state.stamp_watch, today)
    key = (f"api:{request.url.query}", "")
    try:
        cached = await request.app.state.page_cache.aget(key, version, build, now)
    except BadParameter as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    assert cached is not None
    return cache.respond(request, cached, "application/json", cache.PUBLIC_PAGE_CACHE_CONTROL)


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
        # Counts only, never names (issue 16); here and not in the cached list, since a
        # registration does not raise the change stamp.
        body["registration"] = registrations.summary(db, session)
    # The page counts down by the server's clock, not the visitor's.
    body["now"] = now.isoformat()
    # Short, so a page polling every 30 s through a cache still sees a change within a minute.
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=15"})


routes = [
    Route("/api/sessions", api_sessions, name="api_sessions"),
    Route("/api/sessions/{session_id:int}", api_session, name="api_session"),
]
