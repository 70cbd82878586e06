"""Public pages: the home page, series and region pages, and the livestream page of a session."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vcs import dates
from vcs.feeds.links import google_event_link, subscribe_links
from vcs.livestream import plan
from vcs.planning import sessions, wording
from vcs.storage.models import Region, Series, Session
from vcs.web import cache, structured_data
from vcs.web.cache import data_version
from vcs.web.templating import remember_language, render, render_html, request_language


def by_month(found: Sequence[Session], tz_name: str) -> list[tuple[dt.datetime, list[Session]]]:
    """Sessions grouped by the local month they start in ("2026. gada decembris")."""
    tz = ZoneInfo(tz_name)

    def month(session: Session) -> dt.datetime:
        local = session.start.astimezone(tz)
        return local.replace(day=1, hour=12, minute=0, second=0, microsecond=0)

    return [(key, list(group)) for key, group in itertools.groupby(found, key=month)]


def home(request: Request) -> Response:
    context = request.app.state.context
    now = context.clock.now()
    with context.database.session() as db:
        upcoming = sessions.upcoming(db, now)
        past = sessions.past_with_recordings(db, now)
        months = by_month(upcoming, context.settings.timezone)
        name = request.app.state.network.name[request_language(request)]
        links = subscribe_links(f"{context.settings.base_url}/calendar.ics", name)
        regions = db.scalars(select(Region).order_by(Region.id)).all()
        return render(
            request, "public/home.html", months=months, past=past, links=links, regions=regions
        )


def series_page(request: Request) -> Response:
    context = request.app.state.context
    now = context.clock.now()
    slug = request.path_params["slug"]
    with context.database.session() as db:
        series = db.scalars(
            select(Series).where(Series.slug == slug, Series.visibility == "public")
        ).first()
        if series is None:
            raise HTTPException(404)
        upcoming = sessions.between(db, now, series=slug)
        recent = sessions.between(db, now - dt.timedelta(days=365), now, series=slug)
        past = [s for s in reversed(recent) if s.end < now and s.status == "scheduled"][:20]
        title = getattr(series, f"title_{request_language(request)}") or series.title_lv
        return render(
            request,
            "public/series.html",
            series=series,
            months=by_month(upcoming, series.timezone),
            past=past,
            links=subscribe_links(f"{context.settings.base_url}/series/{slug}.ics", title),
        )


def region_page(request: Request) -> Response:
    context = request.app.state.context
    now = context.clock.now()
    slug = request.path_params["slug"]
    with context.database.session() as db:
        region = db.scalars(select(Region).where(Region.slug == slug)).first()
        if region is None:
            raise HTTPException(404)
        upcoming = [s for s in sessions.between(db, now, region=slug)]
        name = getattr(region, f"name_{request_language(request)}") or region.name_lv
        return render(
            request,
            "public/region.html",
            region=region,
            months=by_month(upcoming, context.settings.timezone),
            links=subscribe_links(f"{context.settings.base_url}/regions/{slug}.ics", name),
        )


@dataclass(frozen=True)
class Timing:
    """What decides a session page's phase, kept per change stamp to skip a query per request."""

    public: bool
    start: dt.datetime
    end: dt.datetime
    status: str
    live_status: str
    recording_url: str


def _timing(request: Request, session_id: int, stamp: tuple[object, ...]) -> Timing | None:
    known: dict[int, tuple[tuple[object, ...], Timing | None]] = request.app.state.session_timing
    hit = known.get(session_id)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    with request.app.state.context.database.session() as db:
        session = db.get(Session, session_id, options=[joinedload(Session.series)])
        timing = None
        if session is not None:
            timing = Timing(
                public=session.series.visibility == "public",
                start=session.start,
                end=session.end,
                status=session.status,
                live_status=session.live_status,
                recording_url=session.recording_url,
            )
    if len(known) > 10_000:
        # Ids that crawlers make up must not grow this without end.
        known.clear()
    known[session_id] = (stamp, timing)
    return timing


def _cached_session_html(request: Request, key: str, template: str) -> Response:
    """A session page (or its watch box) from the cache; rebuilt when the data or phase moves."""
    context = request.app.state.context
    session_id = request.path_params["session_id"]
    now = context.clock.now()
    lang = request_language(request)
    stamp = data_version(request.app.state.stamp_watch, now.astimezone(context.settings.tz).date())
    timing = _timing(request, session_id, stamp)
    if timing is None or not timing.public:
        raise HTTPException(404)
    phase = sessions.phase(timing, now)
    # The countdown's (count, unit), not its words: Babel stays off the cached path.
    countdown = dates.countdown(timing.start, now) if phase == "upcoming" else None
    version = (*stamp, phase, countdown)

    def build() -> tuple[bytes, dt.datetime, str]:
        with context.database.session() as db:
            session = sessions.get(db, session_id)
            html = render_html(request, template, **session_values(request, session, now))
            return html.encode(), session.updated_at, ""

    cached = request.app.state.page_cache.get((f"{key}:{session_id}", lang), version, build)
    assert cached is not None
    # Short: the phase changes with the clock, and a visitor's language lives in a cookie.
    response = cache.respond(
        request,
        cached,
        "text/html; charset=utf-8",
        "public, max-age=30",
        {"Vary": "Accept-Encoding, Cookie"},
    )
    remember_language(request, response)
    return response


def session_values(request: Request, session: Session, now: dt.datetime) -> dict[str, Any]:
    """Everything the session page and its watch box show."""
    context = request.app.state.context
    base = context.settings.base_url
    lang = request_language(request)
    title = getattr(session.series, f"title_{lang}") or session.series.title_lv
    municipalities = {m["slug"]: m["name"] for m in request.app.state.network.municipalities}
    phase = sessions.phase(session, now)
    return {
        "session": session,
        "phase": phase,
        "streamed": wording.streamed(session),
        "watch_url": plan.watch_url(session),
        "embed_url": plan.embed_url(session),
        "countdown": dates.format_countdown(session.start, now, lang),
        "poll_seconds": context.settings.livestream.page_poll_seconds,
        "page_url": wording.page_url(session, base),
        "jsonld": structured_data.event_jsonld(session, base, lang, municipalities),
        "moved_from": session.original_start if structured_data.moved(session) else None,
        "google_event": google_event_link(session, base, lang),
        "links": subscribe_links(f"{base}/series/{session.series.slug}.ics", title),
    }


def session_page(request: Request) -> Response:
    return _cached_session_html(request, "page", "public/session.html")


def watch_box(request: Request) -> Response:
    """The watch box alone, for the page's script to swap in when the phase changes."""
    return _cached_session_html(request, "watch", "public/watch.html")


routes = [
    Route("/", home, name="home"),
    Route("/series/{slug:str}", series_page, name="series"),
    Route("/sessions/{session_id:int}", session_page, name="session"),
    Route("/sessions/{session_id:int}/watch", watch_box, name="session_watch"),
    Route("/regions/{slug:str}", region_page, name="region"),
]
