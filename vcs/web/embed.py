"""Widgets for other sites' iframes and oEmbed discovery.

- `/embed/upcoming` (the next sessions of the network, a region or a series) and
  `/embed/sessions/{id}` (the livestream page's watch box: countdown, player, recording) are small
  pages in the language of `?lang=` (else the default, Latvian), never of a cookie: the
  embedding site chooses. They set no cookie. Which origins may frame them is
  `embed.allowed_origins`, sent as `frame-ancestors` by vcs.web.security.
- `/oembed?url=` answers per the oEmbed 1.0 spec (https://oembed.com/) with a "rich" iframe
  for a session page, a series or region page or the home page.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session as Db
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vcs.config import EMBED_MAX_LIMIT, Settings
from vcs.i18n import LANGUAGES, gettext_for, localized
from vcs.planning import sessions, wording
from vcs.storage.models import Region, Series, Session
from vcs.web import cache, public
from vcs.web.templating import render_html, request_language

Endpoint = Callable[[Request], Awaitable[Response]]

# The iframe's size when the embedding site does not limit it (oEmbed maxwidth/maxheight).
SESSION_SIZE = (560, 520)
UPCOMING_SIZE = (400, 560)


def cookieless(endpoint: Endpoint) -> Endpoint:
    """The endpoint as a widget: it sees no cookie (the language is the snippet's ?lang=, and
    nothing of a visitor's own state reaches another site's page) and sets none."""

    async def widget(request: Request) -> Response:
        scope = dict(request.scope)
        scope["headers"] = [(k, v) for k, v in request.scope["headers"] if k != b"cookie"]
        response = await endpoint(Request(scope, request.receive))
        del response.headers["set-cookie"]
        response.headers["Vary"] = "Accept-Encoding"
        return response

    return widget


# --- the widgets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose sessions /embed/upcoming shows: the network, one region's view or one series."""

    region: str | None
    series: str | None
    limit: int


def upcoming_scope(request: Request, settings: Settings) -> Scope:
    """The widget's query: ?region=, ?series=, ?limit= (1 to 20); 400 when malformed."""
    params = request.query_params
    limit = settings.embed.upcoming_limit
    raw = params.get("limit")
    if raw:
        if not raw.isascii() or not raw.isdigit() or len(raw) > 4:
            raise HTTPException(400)
        limit = max(1, min(int(raw), EMBED_MAX_LIMIT))
    return Scope(params.get("region") or None, params.get("series") or None, limit)


def _scope_name(db: Db, scope: Scope, lang: str, network_name: str) -> tuple[str, str] | None:
    """(name, path of our own page) of the scope; None when its region or series is unknown."""
    if scope.series is not None:
        series = db.scalars(
            select(Series).where(Series.slug == scope.series, Series.visibility == "public")
        ).first()
        if series is None:
            return None
        return localized(series, "title", lang), f"/series/{series.slug}"
    if scope.region is not None:
        region = db.scalars(select(Region).where(Region.slug == scope.region)).first()
        if region is None:
            return None
        return localized(region, "name", lang), f"/regions/{region.slug}"
    return network_name, "/"


async def upcoming(request: Request) -> Response:
    """The next sessions, soonest first, cancelled ones marked."""
    context = request.app.state.context
    settings = context.settings
    lang = request_language(request)
    scope = upcoming_scope(request, settings)
    now = context.clock.now()
    version = await cache.adata_version(
        request.app.state.stamp_watch, now.astimezone(settings.tz).date()
    )
    key = f"embed-upcoming:{scope.region}:{scope.series}:{scope.limit}"

    def build() -> cache.Built | None:
        with context.database.session() as db:
            named = _scope_name(db, scope, lang, request.app.state.network.name[lang])
            if named is None:
                return None
            name, path = named
            found = sessions.between(db, now, series=scope.series, region=scope.region)
            shown = list(found[: scope.limit])
            html = render_html(
                request,
                "embed/upcoming.html",
                name=name,
                sessions=shown,
                more_url=_ours(settings.base_url, path, lang),
            )
            changed = max((s.updated_at for s in shown), default=now)
            # A session that ends leaves the list: the bytes go stale then.
            return html.encode(), changed, "", min((s.end for s in shown), default=None)

    cached = await request.app.state.page_cache.aget((key, lang), version, build, now)
    if cached is None:
        raise HTTPException(404)
    return cache.respond(request, cached, "text/html; charset=utf-8", "public, max-age=60")


async def session_widget(request: Request) -> Response:
    """The livestream page's watch box with the session's title, time and place.

    The page's own cached path (phase, countdown, 404 for members-only sessions), so the widget
    changes phase exactly when the page does; `cookieless` drops the language cookie it sets.
    """
    return await public.cached_session_html(request, "embed", "embed/session.html")


async def session_watch(request: Request) -> Response:
    """The widget's watch box alone, which vcs.js swaps in when the phase changes."""
    return await public.cached_session_html(request, "embed-watch", "embed/watch.html")


def _ours(base_url: str, path: str, lang: str) -> str:
    """An address of this site in `lang` (Latvian, the default, needs no parameter)."""
    return f"{base_url}{path}" + ("?lang=en" if lang == "en" else "")


# --- snippets and oEmbed --------------------------------------------------------------------


def widget_url(base_url: str, path: str, lang: str, **params: str | int) -> str:
    """The address of a widget, with its language always said (the embedding site's choice)."""
    query = {"lang": lang, **{k: str(v) for k, v in params.items() if v}}
    return f"{base_url}{path}?{urlencode(query)}"


def iframe(src: str, title: str, width: int, height: int) -> Markup:
    """The snippet an embedding site pastes: an iframe with an accessible name."""
    return Markup(
        '<iframe src="{}" title="{}" width="{}" height="{}" loading="lazy" '
        'style="border:0;max-width:100%"></iframe>'
    ).format(src, title, width, height)


def session_snippet(session: Session, base_url: str, lang: str) -> Markup:
    """The session page's "share / embed" snippet."""
    src = widget_url(base_url, f"/embed/sessions/{session.id}", lang)
    return iframe(src, wording.title(session, lang), *SESSION_SIZE)


def oembed_link(session: Session, base_url: str, lang: str) -> str:
    """The oEmbed discovery address of a session page (its <link rel="alternate">)."""
    page = wording.page_url(session, base_url, lang)
    return f"{base_url}/oembed?{urlencode({'url': page, 'format': 'json'})}"


def template_globals(settings: Settings) -> dict[str, Callable[..., object]]:
    """What session pages use to offer the widget (registered on the Jinja environment)."""
    return {
        # Text, not Markup: the page shows the code (escaped), it does not run it.
        "embed_snippet": lambda session, lang: str(
            session_snippet(session, settings.base_url, lang)
        ),
        "oembed_url": lambda session, lang: oembed_link(session, settings.base_url, lang),
    }


SESSION_PATH = re.compile(r"/sessions/(\d{1,12})")
LISTING_PATH = re.compile(r"/(?:(series|regions)/([^/]+))?")


@dataclass(frozen=True)
class Embeddable:
    """What an oEmbed answer describes: the widget's address, its title and its size."""

    src: str
    title: str
    width: int
    height: int
    lang: str


def embeddable(db: Db, settings: Settings, url: str, network_name: dict[str, str]) -> Embeddable:
    """The widget for one of our addresses; 404 for any address that is not ours or not public."""
    parts = urlsplit(url.strip())
    base = urlsplit(settings.base_url)
    if (parts.scheme, parts.netloc.lower()) != (base.scheme, base.netloc.lower()):
        raise HTTPException(404)
    path = parts.path.removeprefix(base.path.rstrip("/")).rstrip("/") or "/"
    asked = parse_qs(parts.query).get("lang", [""])[0]
    lang = asked if asked in LANGUAGES else settings.default_language
    match = SESSION_PATH.fullmatch(path)
    if match:
        session = db.get(Session, int(match.group(1)))
        if session is None or session.series.visibility != "public":
            raise HTTPException(404)
        src = widget_url(settings.base_url, f"/embed/sessions/{session.id}", lang)
        return Embeddable(src, wording.title(session, lang), *SESSION_SIZE, lang)
    match = LISTING_PATH.fullmatch(path)
    if not match:
        raise HTTPException(404)
    kind, slug = match.groups()
    scope = Scope(
        region=slug if kind == "regions" else None,
        series=slug if kind == "series" else None,
        limit=settings.embed.upcoming_limit,
    )
    named = _scope_name(db, scope, lang, network_name[lang])
    if named is None:
        raise HTTPException(404)
    src = widget_url(
        settings.base_url,
        "/embed/upcoming",
        lang,
        region=scope.region or "",
        series=scope.series or "",
    )
    _ = gettext_for(lang)
    return Embeddable(src, f"{_('Upcoming')}: {named[0]}", *UPCOMING_SIZE, lang)


def _embeddable(request: Request, url: str) -> Embeddable:
    context = request.app.state.context
    with context.database.session() as db:
        return embeddable(db, context.settings, url, request.app.state.network.name)


def _dimension(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 5 or int(raw) < 1:
        raise HTTPException(400)
    return int(raw)


async def oembed(request: Request) -> Response:
    """oEmbed 1.0: JSON only (501 for any other format, as the spec says), "rich" type."""
    context = request.app.state.context
    settings = context.settings
    url = request.query_params.get("url")
    if not url:
        raise HTTPException(400)
    if request.query_params.get("format", "json") != "json":
        raise HTTPException(501)
    max_width, max_height = _dimension(request, "maxwidth"), _dimension(request, "maxheight")
    found = await run_in_threadpool(_embeddable, request, url)
    # The widget is made to read well from 300 px wide; a narrower limit still gets what it asks.
    width = min(found.width, max_width) if max_width else found.width
    height = min(found.height, max_height) if max_height else found.height
    body = {
        "version": "1.0",
        "type": "rich",
        "title": found.title,
        "provider_name": request.app.state.network.name[found.lang],
        "provider_url": settings.base_url + "/",
        "cache_age": 3600,
        "width": width,
        "height": height,
        "html": str(iframe(found.src, found.title, width, height)),
    }
    return JSONResponse(
        body,
        headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"},
    )


METHODS = ["GET", "HEAD"]
routes = [
    Route("/embed/upcoming", cookieless(upcoming), methods=METHODS, name="embed_upcoming"),
    Route(
        "/embed/sessions/{session_id:int}",
        cookieless(session_widget),
        methods=METHODS,
        name="embed_session",
    ),
    Route(
        "/embed/sessions/{session_id:int}/watch",
        cookieless(session_watch),
        methods=METHODS,
        name="embed_session_watch",
    ),
    Route("/oembed", oembed, methods=METHODS, name="oembed"),
]
