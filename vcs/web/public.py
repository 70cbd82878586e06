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
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vcs import dates
from vcs.config import Settings
from vcs.feeds.links import google_event_link, subscribe_links
from vcs.livestream import plan
from vcs.planning import registrations, sessions, wording
from vcs.storage.models import Region, Series, Session
from vcs.web import cache, structured_data
from vcs.web.templating import remember_language, render, render_html, request_language


def by_month(found: Sequence[Session], tz_name: str) -> list[tuple[dt.datetime, list[Session]]]:
    """Sessions grouped by the local month they start in ("2026. gada decembris")."""
    tz = ZoneInfo(tz_name)

    def month(session: Session) -> dt.datetime:
        local = session.start.astimezone(tz)
        return local.replace(day=1, hour=12, minute=0, second=0, microsecond=0)

    return [(key, list(group)) for key, group in itertools.groupby(found, key=month)]


async def home(request: Request) -> Response:
    """The home page from the page cache: rebuilt on a change, and when a listed session ends."""
    context = request.app.state.context
    now = context.clock.now()
    lang = request_language(request)
    stamp = await cache.adata_version(
        request.app.state.stamp_watch, now.astimezone(context.settings.tz).date()
    )

    def build() -> cache.Built:
        with context.database.session() as db:
            upcoming = sessions.upcoming(db, now)
            past = sessions.past_with_recordings(db, now)
            months = by_month(upcoming, context.settings.timezone)
            name = request.app.state.network.name[lang]
            links = subscribe_links(
                f"{context.settings.base_url}/calendar.ics",
                name,
                context.settings.google_calendar.calendars.get("network", ""),
            )
            regions = db.scalars(select(Region).order_by(Region.id)).all()
            next_up = featured(upcoming, now)
            html = render_html(
                request,
                "public/home.html",
                months=months,
                past=past,
                links=links,
                regions=regions,
                next_up=next_up,
                next_phase=sessions.phase(next_up, now) if next_up else "",
                next_watch_url=plan.watch_url(next_up) if next_up else "",
                next_countdown=dates.format_countdown(next_up.start, now, lang) if next_up else "",
            )
            # A session that ends leaves the upcoming list (and may join the recordings); one
            # that starts turns the first box to "live now".
            moments = [s.end for s in upcoming if s.end >= now]
            moments += [s.start for s in upcoming if s.start > now]
            if next_up is not None and next_up.start > now:
                moments.append(countdown_changes(next_up.start, now))
            return html.encode(), now, "", min(moments, default=None)

    cached = await request.app.state.page_cache.aget(("home", lang), stamp, build, now)
    assert cached is not None
    return _page_response(request, cached)


def countdown_changes(start: dt.datetime, now: dt.datetime) -> dt.datetime:
    """When `dates.countdown(start, now)` next says something else (a cached page's words)."""
    count, unit = dates.countdown(start, now)
    if unit == "day":
        return start - dt.timedelta(days=count)
    if unit == "hour":
        return start - dt.timedelta(hours=count)
    return start - dt.timedelta(minutes=count - 1)


def featured(upcoming: Sequence[Session], now: dt.datetime) -> Session | None:
    """The session the home page leads with: one live now, else the next one to start."""
    taking_place = [s for s in upcoming if s.status != "cancelled"]
    live = [s for s in taking_place if sessions.phase(s, now) == "live"]
    ahead = [s for s in taking_place if sessions.phase(s, now) == "upcoming"]
    first = live or ahead
    return first[0] if first else None


def _page_response(request: Request, cached: cache.CachedBody) -> Response:
    """A public page's cached bytes, cacheable for a moment by browsers and the proxy."""
    response = cache.respond(
        request,
        cached,
        "text/html; charset=utf-8",
        cache.PUBLIC_PAGE_CACHE_CONTROL,
        {"Vary": cache.PUBLIC_VARY},
    )
    remember_language(request, response)
    return response


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


def series_index(request: Request) -> Response:
    """Every public series, national ones first, each with its next session."""
    context = request.app.state.context
    now = context.clock.now()
    with context.database.session() as db:
        found = db.scalars(
            select(Series)
            .where(Series.visibility == "public")
            .options(joinedload(Series.region))
            .order_by(Series.region_id.is_not(None), Series.region_id, Series.title_lv)
        ).all()
        upcoming = sessions.upcoming(db, now, limit=500)
        next_of: dict[int, Session] = {}
        for session in upcoming:
            if session.status != "cancelled":
                next_of.setdefault(session.series_id, session)
        return render(request, "public/series_index.html", all_series=found, next_of=next_of)


def regions_index(request: Request) -> Response:
    """The planning regions, each with its page and calendar."""
    context = request.app.state.context
    with context.database.session() as db:
        regions = db.scalars(select(Region).order_by(Region.id)).all()
        return render(request, "public/regions.html", regions=regions)


def privacy_page(request: Request) -> Response:
    """The privacy notice: who keeps members' data, why, how long, and their rights."""
    settings = request.app.state.context.settings
    from vcs.membership.subscriptions import CONFIRM_MAX_AGE

    return render(
        request,
        "public/privacy.html",
        contact_email=contact_email(settings),
        confirm_days=CONFIRM_MAX_AGE.days,
    )


def contact_email(settings: Settings) -> str:
    """Where people write about their data: network.contact_email, else where replies go."""
    return settings.network.contact_email or settings.mail.reply_to or settings.mail.from_address


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
            links=subscribe_links(
                f"{context.settings.base_url}/regions/{slug}.ics",
                name,
                context.settings.google_calendar.calendars.get(f"region:{slug}", ""),
            ),
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


async def _timing(request: Request, session_id: int, stamp: tuple[object, ...]) -> Timing | None:
    known: dict[int, tuple[tuple[object, ...], Timing | None]] = request.app.state.session_timing
    hit = known.get(session_id)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    return await run_in_threadpool(_read_timing, request, session_id, stamp)


def _read_timing(request: Request, session_id: int, stamp: tuple[object, ...]) -> Timing | None:
    known: dict[int, tuple[tuple[object, ...], Timing | None]] = request.app.state.session_timing
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


async def cached_session_html(request: Request, key: str, template: str) -> Response:
    """A session page (or its watch box) from the cache; rebuilt when the data or phase moves.

    A hit is answered on the event loop without a thread or a query (see vcs.web.cache).
    """
    context = request.app.state.context
    session_id = request.path_params["session_id"]
    now = context.clock.now()
    lang = request_language(request)
    stamp = await cache.adata_version(
        request.app.state.stamp_watch, now.astimezone(context.settings.tz).date()
    )
    timing = await _timing(request, session_id, stamp)
    if timing is None or not timing.public:
        raise HTTPException(404)
    phase = sessions.phase(timing, now)
    # The countdown's (count, unit), not its words: Babel stays off the cached path.
    countdown = dates.countdown(timing.start, now) if phase == "upcoming" else None
    version = (*stamp, phase, countdown)

    def build() -> tuple[bytes, dt.datetime, str, dt.datetime | None]:
        with context.database.session() as db:
            session = sessions.get(db, session_id)
            html = render_html(request, template, **session_values(request, session, now))
            # The registration form goes when registration closes, though nothing changed.
            return html.encode(), session.updated_at, "", registrations.closes_at(session, now)

    cached = await request.app.state.page_cache.aget(
        (f"{key}:{session_id}", lang), version, build, now
    )
    assert cached is not None
    return _page_response(request, cached)


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
        "registration_choices": registrations.choices(session, now),
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


async def session_page(request: Request) -> Response:
    return await cached_session_html(request, "page", "public/session.html")


async def watch_box(request: Request) -> Response:
    """The watch box alone, for the page's script to swap in when the phase changes."""
    return await cached_session_html(request, "watch", "public/watch.html")


# The pages everyone opens at once (the 10.00 spike): vcs.web.app lists them before every other
# route, since Starlette tries routes in order and each miss costs a regular expression. Their
# patterns match no other route's paths.
hot_routes = [
    Route("/", home, name="home"),
    Route("/sessions/{session_id:int}", session_page, name="session"),
    Route("/sessions/{session_id:int}/watch", watch_box, name="session_watch"),
]

routes = [
    *hot_routes,
    Route("/series", series_index, name="series_index"),
    Route("/regions", regions_index, name="regions_index"),
    Route("/privacy", privacy_page, name="privacy"),
    Route("/series/{slug:str}", series_page, name="series"),
    Route("/regions/{slug:str}", region_page, name="region"),
]
