"""Public pages: the home page and series pages."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vcs import sessions
from vcs.feeds.links import google_event_link, subscribe_links
from vcs.storage.models import Region, Series, Session
from vcs.web.templating import render, request_language


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


def session_page(request: Request) -> Response:
    context = request.app.state.context
    with context.database.session() as db:
        try:
            session = sessions.get(db, request.path_params["session_id"])
        except sessions.SessionError:
            raise HTTPException(404) from None
        if session.series.visibility != "public":
            raise HTTPException(404)
        base = context.settings.base_url
        lang = request_language(request)
        title = getattr(session.series, f"title_{lang}") or session.series.title_lv
        return render(
            request,
            "public/session.html",
            session=session,
            watch_url=sessions.watch_url(session),
            google_event=google_event_link(session, base, lang),
            links=subscribe_links(f"{base}/series/{session.series.slug}.ics", title),
        )


routes = [
    Route("/", home, name="home"),
    Route("/series/{slug:str}", series_page, name="series"),
    Route("/sessions/{session_id:int}", session_page, name="session"),
    Route("/regions/{slug:str}", region_page, name="region"),
]
