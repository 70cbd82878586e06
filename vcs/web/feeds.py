"""Calendar feeds over HTTP: cached bytes, strong ETags, 304s, HEAD and gzip."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.orm import Session as Db
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vcs.feeds import calendars
from vcs.web import cache
from vcs.web.cache import CachedBody
from vcs.web.templating import request_language

CONTENT_TYPE = "text/calendar; charset=utf-8"
FeedBuilder = Callable[[Db, dt.datetime, str], calendars.Feed | None]


async def serve_feed(
    request: Request,
    key: str,
    select: FeedBuilder,
    private: bool = False,
    download: bool = False,
    fingerprint: Callable[[Db], object] | None = None,
) -> Response:
    """Answer with the feed from the cache, building it only when the data changed.

    A hit of a public feed is answered on the event loop, without a thread or a query.
    """
    context = request.app.state.context
    settings = context.settings
    lang = request_language(request)
    now = context.clock.now()
    today = now.astimezone(settings.tz).date()
    version = await cache.adata_version(request.app.state.stamp_watch, today)
    if fingerprint is not None:
        read = fingerprint

        def fingerprinted() -> object:
            with context.database.session() as db:
                return read(db)

        version = (*version, await run_in_threadpool(fingerprinted))

    def build() -> tuple[bytes, dt.datetime, str] | None:
        with context.database.session() as db:
            feed = select(db, now, lang)
            if feed is None:
                return None
            body = calendars.build_calendar(feed, settings, lang)
            # From the feed's rows: the sessions themselves are read only for new events.
            changed = calendars.feed_changed(feed) or now
            return body, changed, feed.filename

    cached = await request.app.state.feed_cache.aget((key, lang), version, build)
    if cached is None:
        raise HTTPException(404)
    return respond(request, cached, settings.feeds.refresh_minutes, private, download)


def respond(
    request: Request, cached: CachedBody, refresh_minutes: int, private: bool, download: bool
) -> Response:
    max_age = max(60, refresh_minutes * 60 // 4)
    disposition = "attachment" if download else "inline"
    headers = {
        "Content-Disposition": f'{disposition}; filename="{cached.filename}"',
        # The language may come from the lang cookie (a browser downloading an .ics): a shared
        # cache must not hand one visitor's language to another. Calendar apps send no cookie.
        "Vary": "Accept-Encoding, Cookie",
    }
    if private:
        # A personal feed address is a secret; keep it out of referrers and search engines.
        headers["X-Robots-Tag"] = "noindex"
        headers["Referrer-Policy"] = "no-referrer"
    cache_control = f"{'private' if private else 'public'}, max-age={max_age}"
    if not private:
        # A proxy may answer from its copy while it fetches the new one (RFC 5861).
        cache_control += f", stale-while-revalidate={max_age}"
    return cache.respond(request, cached, CONTENT_TYPE, cache_control, headers)


async def all_sessions(request: Request) -> Response:
    settings = request.app.state.context.settings
    name = request.app.state.network.name

    def select(db: Db, now: dt.datetime, lang: str) -> calendars.Feed | None:
        return calendars.network_feed(db, now, settings, name[lang], lang)

    return await serve_feed(request, "all", select)


async def series_ics(request: Request) -> Response:
    settings = request.app.state.context.settings
    slug = request.path_params["slug"]

    def select(db: Db, now: dt.datetime, lang: str) -> calendars.Feed | None:
        return calendars.series_feed(db, now, settings, slug, lang)

    return await serve_feed(request, f"series:{slug}", select)


async def region_ics(request: Request) -> Response:
    settings = request.app.state.context.settings
    slug = request.path_params["slug"]

    def select(db: Db, now: dt.datetime, lang: str) -> calendars.Feed | None:
        return calendars.region_feed(db, now, settings, slug, lang)

    return await serve_feed(request, f"region:{slug}", select)


async def session_ics(request: Request) -> Response:
    settings = request.app.state.context.settings
    session_id = request.path_params["session_id"]

    def select(db: Db, now: dt.datetime, lang: str) -> calendars.Feed | None:
        return calendars.session_feed(db, settings, session_id)

    return await serve_feed(request, f"session:{session_id}", select, download=True)


async def member_ics(request: Request) -> Response:
    settings = request.app.state.context.settings
    token = request.path_params["token"]

    def select(db: Db, now: dt.datetime, lang: str) -> calendars.Feed | None:
        return calendars.member_feed(db, now, settings, token, lang)

    return await serve_feed(
        request,
        f"member:{token}",
        select,
        private=True,
        fingerprint=lambda db: calendars.member_follows(db, token),
    )


METHODS = ["GET", "HEAD"]
# Listed before the HTML pages, whose {slug} would otherwise swallow "name.ics".
routes = [
    Route("/calendar.ics", all_sessions, methods=METHODS, name="calendar_ics"),
    Route("/series/{slug:str}.ics", series_ics, methods=METHODS, name="series_ics"),
    Route("/regions/{slug:str}.ics", region_ics, methods=METHODS, name="region_ics"),
    Route("/sessions/{session_id:int}.ics", session_ics, methods=METHODS, name="session_ics"),
    Route("/feeds/{token:str}.ics", member_ics, methods=METHODS, name="member_ics"),
]
