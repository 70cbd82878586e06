"""Two links, two audiences: the join link (the meeting room where members speak) reaches
members in their announcements and personal feeds, and appears on no public page, public feed
or API answer; the watch link (the public livestream) is public.

A demo-like network: the national videoconference with a series join link, the EU-funded Vidzeme
meeting with one session's own join and watch links, and the members-only coordinators' meeting
with its own join link; a member who follows everything, and a sent digest. Every public GET
route of the app is fetched for every session, series, region and digest, in both languages.
"""

from __future__ import annotations

import re
from pathlib import Path

import icalendar
from sqlalchemy import select
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.factories import (
    VIDZEME,
    import_entries,
    members_only,
    national,
    session_id,
    vidzeme,
)
from tests.integration.test_announcements import (
    WEEK_BEFORE_NATIONAL,
    announce,
    at,
    body,
    deliver,
    member,
    vevent,
)
from tests.mail_factories import mail_context, smtp_server
from vcs import digest
from vcs.planning import sessions
from vcs.storage.models import Digest, Member, Region, Series, Session
from vcs.web.app import create_app

SERIES_JOIN = "https://zoom.example.com/j/81234567890?pwd=national"
SESSION_JOIN = "https://teams.example.com/l/meetup-join/vidzeme-decembris"
MEMBERS_JOIN = "https://meet.jit.si/koordinatori-slepena-telpa"
# What gives each link away, whatever escaping (HTML &amp;) or folding (iCalendar) it went through.
SECRETS = ("zoom.example.com", "teams.example.com", "koordinatori-slepena-telpa")
SESSION_WATCH = "https://www.youtube.com/watch?v=vidzemes-tiesraide"
# Routes a member reaches only with their own secret token, and where nothing public lives.
PRIVATE = re.compile(r"\{token")


def unfolded(content: bytes) -> str:
    """The text, with iCalendar line folding undone so a URL reads as one piece."""
    return content.decode("utf-8", "replace").replace("\r\n ", "").replace("\r\n\t", "")


def test_the_join_link_reaches_members_and_no_public_page_feed_or_api(tmp_path: Path) -> None:
    with smtp_server() as (sink, port):
        context = mail_context(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        try:
            import_entries(
                context,
                tmp_path,
                national(join_url=SERIES_JOIN),
                vidzeme(),
                members_only(join_url=MEMBERS_JOIN),
            )
            vidzeme_session = session_id(context, VIDZEME, "2026-12-30")
            with context.database.session() as db:
                sessions.update_details(
                    db,
                    sessions.get(db, vidzeme_session),
                    "staff",
                    join_url=SESSION_JOIN,
                    watch_url=SESSION_WATCH,
                )
            member(context, "anna@example.lv")

            # -- members get it: the announcement and its .ics, and the personal feed
            at(context, WEEK_BEFORE_NATIONAL)
            announce(context)
            messages = deliver(context, sink)
            national_mail = [m for m in messages if "videokonferences" in str(m["Subject"])]
            [announcement] = national_mail
            assert f"Pievienoties sanāksmei: {SERIES_JOIN}" in body(announcement, "plain")
            assert f'href="{SERIES_JOIN.replace("&", "&amp;")}"' in body(announcement, "html")
            assert SERIES_JOIN in str(vevent(announcement)["DESCRIPTION"])

            with context.database.session() as db:
                token = db.scalars(select(Member.feed_token)).one()
            client = TestClient(create_app(context), base_url="https://testserver")
            personal = client.get(f"/feeds/{token}.ics")
            assert personal.status_code == 200
            # The same grep the public pages get below finds every link here.
            assert all(secret in unfolded(personal.content) for secret in SECRETS)
            calendar = icalendar.Calendar.from_ical(personal.content)
            descriptions = {
                str(event["UID"]): str(event["DESCRIPTION"]) for event in calendar.walk("VEVENT")
            }
            with context.database.session() as db:
                vidzeme_uid = db.get(Session, vidzeme_session).uid  # type: ignore[union-attr]
            assert SESSION_JOIN in descriptions[vidzeme_uid]
            for secret in (SERIES_JOIN, MEMBERS_JOIN):
                assert any(secret in text for text in descriptions.values()), secret

            # -- a sent digest, so the public archive has an issue to show
            with context.database.session() as db:
                found, _created = digest.draft(db, context.settings, context.clock.now(), "staff")
                digest.send(db, context.settings, found, context.clock.now(), "staff")

            # -- nobody else gets it
            with context.database.session() as db:
                session_ids = list(db.scalars(select(Session.id)))
                slugs = [*db.scalars(select(Series.slug)), *db.scalars(select(Region.slug))]
                digest_ids = list(db.scalars(select(Digest.id)))
            values = {
                "session_id": session_ids,
                "slug": slugs,
                "digest_id": digest_ids,
                "code": ["K7MQ-3XTP-9RDW"],  # no such certificate: the page says so
            }
            fetched: dict[str, int] = {}
            pages: list[tuple[str, str]] = []
            for route in client.app.routes:  # type: ignore[attr-defined]
                if not isinstance(route, Route) or "GET" not in (route.methods or ()):
                    continue
                if route.path.startswith("/staff") or PRIVATE.search(route.path):
                    continue
                for path in expand(route.path, values):
                    for query in ("", "?lang=en", "?from=2026-11-01&to=2027-12-31"):
                        response = client.get(path + query)
                        fetched[route.path] = fetched.get(route.path, 0) + 1
                        pages.append((path + query, unfolded(response.content)))
            for session in session_ids:
                response = client.get(f"/oembed?url=https://tikls.example.lv/sessions/{session}")
                pages.append((f"/oembed {session}", unfolded(response.content)))

            leaks = [(path, s) for path, text in pages for s in SECRETS if s in text]
            assert leaks == []
            # Every public route was asked, the session pages for every session.
            assert "/sessions/{session_id:int}" in fetched and "/api/sessions" in fetched
            assert fetched["/sessions/{session_id:int}"] == 3 * len(session_ids)
            assert "/digests/{digest_id:int}" in fetched
            # The watch link is public: the session's own one on its page and in the API.
            page = dict(pages)
            assert SESSION_WATCH in page[f"/sessions/{vidzeme_session}"]
            assert SESSION_WATCH in page["/api/sessions?from=2026-11-01&to=2027-12-31"]
            # The same feed the member reads, without their token, is the public one.
            public = unfolded(client.get(f"/sessions/{vidzeme_session}.ics").content)
            assert SESSION_WATCH in public and "teams.example.com" not in public
        finally:
            context.close()


def expand(path: str, values: dict[str, list[object]]) -> list[str]:
    """Every concrete path of a route, one per value of its (single) parameter."""
    found = re.search(r"\{(\w+)(:\w+)?\}", path)
    if found is None:
        return [path]
    return [path.replace(found.group(0), str(value)) for value in values[found.group(1)]]
