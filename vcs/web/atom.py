"""Atom feeds (RFC 4287) for feed readers and websites: the upcoming sessions of the network, a
series or a region, and the archive of sent info-letters with their full text.

Built with feedgen, cached like the calendar feeds (bytes once per change, ETag, 304, gzip).
Sessions are said through vcs.planning.wording, as on the pages: public feeds, so never a
member's join link.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from feedgen.feed import FeedGenerator
from sqlalchemy import select
from sqlalchemy.orm import Session as Db
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vcs import digest as digests
from vcs.config import Settings
from vcs.feeds.event import last_modified
from vcs.i18n import gettext_for, localized, template_callables
from vcs.planning import sessions, wording
from vcs.states import SessionStatus
from vcs.storage.models import Region, Series, Session
from vcs.web import cache
from vcs.web.cache import data_version
from vcs.web.digests import without_web_link
from vcs.web.templating import make_environment, request_language

CONTENT_TYPE = "application/atom+xml; charset=utf-8"
# Enough for a reader to see months ahead; the calendar feeds hold the rest.
MAX_SESSIONS = 50
MAX_DIGESTS = 30


@dataclass(frozen=True)
class Listing:
    """One feed of sessions: its title, our page it mirrors, its own address, its sessions."""

    title: str
    page_path: str
    feed_path: str
    sessions: Sequence[Session]


def _url(settings: Settings, path: str, lang: str) -> str:
    return f"{settings.base_url}{path}" + ("?lang=en" if lang == "en" else "")


def _feed(
    settings: Settings, title: str, page_path: str, feed_path: str, lang: str
) -> FeedGenerator:
    feed = FeedGenerator()
    # The id stays the same in both languages and whatever the title becomes.
    feed.id(f"{settings.base_url}{feed_path}")
    feed.title(title)
    feed.link(href=_url(settings, feed_path, lang), rel="self", type="application/atom+xml")
    feed.link(href=_url(settings, page_path, lang), rel="alternate", type="text/html")
    feed.language(lang)
    feed.generator("vcs")
    return feed


_ENTRY = make_environment()


def session_content(session: Session, settings: Settings, lang: str) -> str:
    """An entry's text: when, where, topic, speakers, the reason of a cancellation, the page."""
    cancelled = session.status == SessionStatus.CANCELLED
    return _ENTRY.get_template("feeds/atom_entry.html").render(
        cancelled=cancelled,
        reason=wording.cancel_reason(session, lang) if cancelled else "",
        when=wording.when(session, lang),
        where=wording.place_line(session, lang),
        topic=wording.topic(session, lang),
        speakers=wording.speakers(session),
        page=wording.page_url(session, settings.base_url, lang),
        **template_callables(lang),
    )


def sessions_atom(
    listing: Listing, settings: Settings, now: dt.datetime, lang: str, network: str
) -> bytes:
    """The Atom document of a listing; a cancelled session's entry says so in its title and
    carries the category "cancelled"."""
    _ = gettext_for(lang)
    feed = _feed(settings, listing.title, listing.page_path, listing.feed_path, lang)
    feed.author({"name": network, "uri": _url(settings, "/", lang)})
    feed.updated(max((last_modified(s) for s in listing.sessions), default=now))
    for session in listing.sessions:
        entry = feed.add_entry(order="append")
        entry.id(wording.page_url(session, settings.base_url))
        title = f"{wording.title(session, lang)} · {wording.when(session, lang)}"
        if session.status == SessionStatus.CANCELLED:
            title = f"{_('Cancelled')}: {title}"
            entry.category(term="cancelled", label=_("Cancelled"))
        entry.title(title)
        entry.link(href=wording.page_url(session, settings.base_url, lang), rel="alternate")
        entry.updated(last_modified(session))
        entry.published(session.created_at.replace(microsecond=0))
        entry.content(session_content(session, settings, lang), type="html")
    return bytes(feed.atom_str(pretty=True))


def listing(
    db: Db, kind: str, slug: str, now: dt.datetime, lang: str, network: str
) -> Listing | None:
    """The sessions of the network ("all"), a public series or a region's view; None if unknown."""
    _ = gettext_for(lang)
    if kind == "series":
        series = db.scalars(
            select(Series).where(Series.slug == slug, Series.visibility == "public")
        ).first()
        if series is None:
            return None
        title, page = localized(series, "title", lang), f"/series/{slug}"
        found = sessions.between(db, now, series=slug)
    elif kind == "region":
        region = db.scalars(select(Region).where(Region.slug == slug)).first()
        if region is None:
            return None
        title, page = f"{network} · {localized(region, 'name', lang)}", f"/regions/{slug}"
        found = sessions.between(db, now, region=slug)
    else:
        title, page = network, "/"
        found = sessions.between(db, now)
    feed_path = "/sessions.atom" if page == "/" else f"{page}.atom"
    return Listing(f"{title}: {_('Upcoming')}", page, feed_path, found[:MAX_SESSIONS])


def digests_atom(db: Db, settings: Settings, now: dt.datetime, lang: str, network: str) -> bytes:
    """The sent info-letters, newest first, each with its full text as it was sent."""
    _ = gettext_for(lang)
    title = f"{network}: {_('Info-letters')}"
    feed = _feed(settings, title, "/digests", "/digests.atom", lang)
    feed.author({"name": network, "uri": _url(settings, "/", lang)})
    sent = [d for d in digests.archive(db) if d.snapshot][:MAX_DIGESTS]
    feed.updated(max((d.sent_at or d.updated_at for d in sent), default=now))
    # feedgen writes entries in the order added, newest first here as on /digests.
    for digest in sent:
        assert digest.snapshot is not None
        words = digest.snapshot.get(lang) or digest.snapshot["lv"]
        entry = feed.add_entry(order="append")
        entry.id(f"{settings.base_url}/digests/{digest.id}")
        entry.title(str(words["subject"]))
        entry.link(href=_url(settings, f"/digests/{digest.id}", lang), rel="alternate")
        entry.updated(digest.sent_at or digest.updated_at)
        entry.published(digest.sent_at or digest.updated_at)
        entry.content(without_web_link(str(words["html"])), type="html")
    return bytes(feed.atom_str(pretty=True))


Builder = Callable[[Db, dt.datetime, str, str], bytes | None]


def serve(request: Request, key: str, build_body: Builder) -> Response:
    """The feed from the cache, built only when the data (or the day) changed."""
    context = request.app.state.context
    settings = context.settings
    lang = request_language(request)
    now = context.clock.now()
    network = request.app.state.network.name[lang]
    version = data_version(request.app.state.stamp_watch, now.astimezone(settings.tz).date())

    def build() -> tuple[bytes, dt.datetime, str] | None:
        with context.database.session() as db:
            body = build_body(db, now, lang, network)
            return None if body is None else (body, now, "")

    cached = request.app.state.feed_cache.get((f"atom:{key}", lang), version, build)
    if cached is None:
        raise HTTPException(404)
    max_age = max(60, settings.feeds.refresh_minutes * 60 // 4)
    # The language may come from the lang cookie of a browser; feed readers send none.
    headers = {"Vary": "Accept-Encoding, Cookie"}
    return cache.respond(request, cached, CONTENT_TYPE, f"public, max-age={max_age}", headers)


def _sessions_route(kind: str) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        settings = request.app.state.context.settings
        slug = request.path_params.get("slug", "")

        def build(db: Db, now: dt.datetime, lang: str, network: str) -> bytes | None:
            found = listing(db, kind, slug, now, lang, network)
            return None if found is None else sessions_atom(found, settings, now, lang, network)

        return serve(request, f"{kind}:{slug}", build)

    return endpoint


def digests_feed(request: Request) -> Response:
    settings = request.app.state.context.settings

    def build(db: Db, now: dt.datetime, lang: str, network: str) -> bytes:
        return digests_atom(db, settings, now, lang, network)

    return serve(request, "digests", build)


METHODS = ["GET", "HEAD"]
# Listed before the HTML pages, whose {slug} would otherwise swallow "name.atom".
routes = [
    Route("/sessions.atom", _sessions_route("all"), methods=METHODS, name="sessions_atom"),
    Route(
        "/series/{slug:str}.atom", _sessions_route("series"), methods=METHODS, name="series_atom"
    ),
    Route(
        "/regions/{slug:str}.atom", _sessions_route("region"), methods=METHODS, name="region_atom"
    ),
    Route("/digests.atom", digests_feed, methods=METHODS, name="digests_atom"),
]
