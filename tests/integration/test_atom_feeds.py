"""Atom feeds (RFC 4287) of the upcoming sessions and of the sent info-letters, read by an
independent parser (feedparser): required elements, what each feed holds, cancelled sessions
marked, no members' join links, the info-letters' full text, and the pages that link them."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
from starlette.testclient import TestClient

from tests.factories import (
    MEMBERS,
    NATIONAL,
    VIDZEME,
    import_entries,
    members_only,
    national,
    session_id,
    vidzeme,
)
from tests.mail_factories import NOW, add_members, mail_context
from vcs import digest as digests
from vcs.context import Context
from vcs.planning import sessions
from vcs.storage.models import Session
from vcs.web.app import create_app

BASE = "https://tikls.example.lv"
ROOM = "https://zoom.example.com/j/555111222"


def site(tmp_path: Path) -> Context:
    """An installation at NOW (23 November 2026) with a national, a Vidzeme and a members-only
    series; info-letters cover three weeks."""
    context = mail_context(tmp_path, VCS_DIGEST_DAYS_AHEAD="21")
    import_entries(context, tmp_path, national(), vidzeme(), members_only())
    return context


def parsed(client: TestClient, path: str) -> Any:
    """The feed at `path` as feedparser reads it; it must be well-formed Atom 1.0."""
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(response.content)
    assert not feed.bozo, (path, feed.get("bozo_exception"))
    assert feed.version == "atom10", path
    return feed


def assert_required_elements(feed: Any) -> None:
    """RFC 4287 4.1.1 and 4.1.2: a feed and each entry have id, title and updated; each entry
    links to its page; an author is on the feed."""
    assert feed.feed.id.startswith(BASE)
    assert feed.feed.title
    assert feed.feed.updated_parsed is not None
    assert feed.feed.author
    assert [link.rel for link in feed.feed.links] == ["self", "alternate"]
    for entry in feed.entries:
        assert entry.id.startswith(BASE)
        assert entry.title
        assert entry.link.startswith(BASE)
        assert entry.updated_parsed is not None


def sent_digest(context: Context) -> int:
    """A digest with a news item, sent to one member."""
    add_members(context, 1)
    with context.database.session() as db:
        digest, _created = digests.draft(db, context.settings, NOW, "test")
        digest.subject_en = "Network news"
        digests.add_item(
            db,
            digest,
            "test",
            title_lv="Konkursa ziņa",
            title_en="Grant news",
            body_lv="Pieteikumus gaidām līdz **15. decembrim**.",
            body_en="Applications are welcome until **15 December**.",
        )
        digests.send(db, context.settings, digest, NOW, "test")
        return digest.id


class Links(HTMLParser):
    """The <link rel="alternate" type="application/atom+xml"> hrefs of a page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.atom: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "link" and found.get("type") == "application/atom+xml":
            assert found.get("rel") == "alternate"
            self.atom.append(found.get("href") or "")


def test_the_network_feed_is_atom_with_every_required_element(tmp_path: Path) -> None:
    context = site(tmp_path)
    feed = parsed(TestClient(create_app(context)), "/sessions.atom")
    assert_required_elements(feed)
    assert feed.feed.id == f"{BASE}/sessions.atom"
    assert feed.feed.language == "lv"
    first = session_id(context, NATIONAL, "2026-12-10")
    entry = feed.entries[0]
    assert entry.id == f"{BASE}/sessions/{first}"
    assert entry.link == f"{BASE}/sessions/{first}"
    # Said as every page says it (vcs.planning.wording): title, time, place.
    assert entry.title == (
        "Jaunatnes lietu speciālistu videokonferences · "
        "ceturtdiena, 2026. gada 10. decembris, 10.00–11.30"
    )
    assert "Tiešsaistē" in entry.content[0].value
    titles = " ".join(e.title for e in feed.entries)
    assert "Vidzemes pieredzes apmaiņas tikšanās" in titles
    assert "Koordinatoru" not in titles


def test_the_feeds_speak_english_when_asked(tmp_path: Path) -> None:
    context = site(tmp_path)
    feed = parsed(TestClient(create_app(context)), "/sessions.atom?lang=en")
    assert feed.feed.language == "en"
    first = session_id(context, NATIONAL, "2026-12-10")
    assert feed.entries[0].link == f"{BASE}/sessions/{first}?lang=en"
    # The same entry, whatever the language: ids do not change with it.
    assert feed.entries[0].id == f"{BASE}/sessions/{first}"
    assert feed.entries[0].title.startswith("Youth work videoconferences · Thursday")


def test_series_and_region_feeds_hold_their_own_sessions(tmp_path: Path) -> None:
    context = site(tmp_path)
    client = TestClient(create_app(context))
    series = parsed(client, f"/series/{VIDZEME}.atom")
    assert_required_elements(series)
    assert series.feed.id == f"{BASE}/series/{VIDZEME}.atom"
    assert series.entries and all(
        e.title.startswith("Vidzemes pieredzes apmaiņas tikšanās") for e in series.entries
    )
    region = parsed(client, "/regions/vidzeme.atom")
    assert_required_elements(region)
    names = {e.title.split(" · ")[0] for e in region.entries}
    assert names == {
        "Vidzemes pieredzes apmaiņas tikšanās",
        "Jaunatnes lietu speciālistu videokonferences",
    }
    kurzeme = parsed(client, "/regions/kurzeme.atom")
    assert {e.title.split(" · ")[0] for e in kurzeme.entries} == {
        "Jaunatnes lietu speciālistu videokonferences"
    }
    for unknown in (f"/series/{MEMBERS}.atom", "/series/nav.atom", "/regions/atlantida.atom"):
        assert client.get(unknown).status_code == 404, unknown


def test_a_cancelled_session_is_marked_in_its_entry(tmp_path: Path) -> None:
    context = site(tmp_path)
    first = session_id(context, NATIONAL, "2026-12-10")
    with context.database.session() as db:
        sessions.cancel(db, sessions.get(db, first), "Lektore saslima", "staff")
    feed = parsed(TestClient(create_app(context)), "/sessions.atom")
    (entry,) = [e for e in feed.entries if e.id == f"{BASE}/sessions/{first}"]
    assert entry.title.startswith("Atcelta: Jaunatnes lietu speciālistu videokonferences")
    assert [tag.term for tag in entry.tags] == ["cancelled"]
    assert "Lektore saslima" in entry.content[0].value
    others = [e for e in feed.entries if e.id != entry.id]
    assert others and not any("tags" in e for e in others)


def test_public_feeds_never_carry_a_members_join_link(tmp_path: Path) -> None:
    context = site(tmp_path)
    first = session_id(context, NATIONAL, "2026-12-10")
    with context.database.session() as db:
        found = db.get(Session, first)
        assert found is not None
        found.join_url = ROOM
        found.series.join_url = ROOM
    client = TestClient(create_app(context))
    for path in ("/sessions.atom", f"/series/{NATIONAL}.atom", "/regions/vidzeme.atom"):
        body = client.get(path).text
        assert f"{BASE}/sessions/{first}" in body, path
        assert "zoom.example.com" not in body, path


def test_the_digest_feed_carries_each_sent_info_letter_in_full(tmp_path: Path) -> None:
    context = site(tmp_path)
    sent = sent_digest(context)
    with context.database.session() as db:
        draft, _created = digests.draft(db, context.settings, NOW + dt.timedelta(days=7), "test")
        draft.subject_lv = "Vēl nenosūtītā"
    client = TestClient(create_app(context))
    feed = parsed(client, "/digests.atom")
    assert_required_elements(feed)
    (entry,) = feed.entries
    assert entry.id == f"{BASE}/digests/{sent}"
    assert entry.link == f"{BASE}/digests/{sent}"
    content = entry.content[0]
    assert content.type == "text/html"
    # The whole letter as sent: the news item with its Markdown, and the coming sessions.
    assert "Konkursa ziņa" in content.value
    assert "<strong>15. decembrim</strong>" in content.value
    assert "Jaunatnes lietu speciālistu videokonferences" in content.value
    # Not the e-mail's "view in the browser" line: the reader is already reading it.
    assert "digest-web" not in content.value
    english = parsed(client, "/digests.atom?lang=en")
    assert english.entries[0].title == "Network news"
    assert "Grant news" in english.entries[0].content[0].value


def test_an_empty_archive_is_still_a_valid_feed(tmp_path: Path) -> None:
    feed = parsed(TestClient(create_app(site(tmp_path))), "/digests.atom")
    assert_required_elements(feed)
    assert feed.entries == []


def test_the_feeds_answer_conditional_requests(tmp_path: Path) -> None:
    client = TestClient(create_app(site(tmp_path)))
    first = client.get("/sessions.atom")
    again = client.get("/sessions.atom", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert client.head("/sessions.atom").status_code == 200


def test_the_pages_link_their_feeds(tmp_path: Path) -> None:
    context = site(tmp_path)
    sent = sent_digest(context)
    client = TestClient(create_app(context))
    for page, feed in (
        ("/", "/sessions.atom"),
        (f"/series/{VIDZEME}", f"/series/{VIDZEME}.atom"),
        ("/regions/vidzeme", "/regions/vidzeme.atom"),
        ("/digests", "/digests.atom"),
        (f"/digests/{sent}", "/digests.atom"),
    ):
        assert Links(client.get(page).text).atom == [feed], page
        assert Links(client.get(f"{page}?lang=en").text).atom == [f"{feed}?lang=en"], page
        client.cookies.clear()  # the English page remembered the language
        parsed(client, feed)
