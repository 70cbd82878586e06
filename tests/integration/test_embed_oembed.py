"""The widgets for other sites (/embed/upcoming, /embed/sessions/{id}): framing only by the
configured origins, no cookies, the snippet's language; and oEmbed discovery per the spec
(https://oembed.com/): JSON "rich" answers, 404 for addresses that are not ours, 501 for XML."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.conftest import make_settings
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
from tests.mail_factories import mail_context
from vcs.config import ConfigError
from vcs.context import Context
from vcs.planning import sessions
from vcs.web.app import create_app

BASE = "https://tikls.example.lv"
ALLOWED = "https://jaunatne.example.lv https://www.cesis.lv"


def site(tmp_path: Path, **environ: str) -> Context:
    """An installation at NOW (23 November 2026) with a national, a Vidzeme and a members-only
    series, and two sites allowed to embed."""
    environ.setdefault("VCS_EMBED_ALLOWED_ORIGINS", ALLOWED)
    context = mail_context(tmp_path, **environ)
    import_entries(context, tmp_path, national(), vidzeme(), members_only())
    return context


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside <textarea>s."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.textareas: list[str] = []
        self._in_textarea = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag == "textarea":
            self._in_textarea = True
            self.textareas.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._in_textarea = False

    def handle_data(self, data: str) -> None:
        if self._in_textarea:
            self.textareas[-1] += data

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


def oembed(client: TestClient, url: str, **params: str) -> dict[str, object]:
    response = client.get("/oembed", params={"url": url, **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, object] = response.json()
    return body


# -- framing and cookies ------------------------------------------------------------------------


def test_only_the_widgets_may_be_framed_and_only_by_the_listed_origins(tmp_path: Path) -> None:
    context = site(tmp_path)
    first = session_id(context, NATIONAL, "2026-12-10")
    client = TestClient(create_app(context))
    for path in ("/embed/upcoming", f"/embed/sessions/{first}", f"/embed/sessions/{first}/watch"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "x-frame-options" not in response.headers, path
        policy = response.headers["content-security-policy"]
        assert (
            "frame-ancestors 'self' https://jaunatne.example.lv https://www.cesis.lv;" in policy
        ), path
    for path in ("/", f"/sessions/{first}", "/oembed?url=" + BASE + "/", "/embed"):
        response = client.get(path)
        assert response.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path


def test_with_no_origin_listed_only_the_site_itself_may_frame_the_widgets(tmp_path: Path) -> None:
    context = site(tmp_path, VCS_EMBED_ALLOWED_ORIGINS="")
    policy = TestClient(create_app(context)).get("/embed/upcoming").headers
    assert "frame-ancestors 'self';" in policy["content-security-policy"]


def test_the_widgets_set_no_cookie_and_ignore_the_visitors_language_cookie(
    tmp_path: Path,
) -> None:
    context = site(tmp_path)
    first = session_id(context, NATIONAL, "2026-12-10")
    client = TestClient(create_app(context))
    # The site's own page remembers an explicit language in a cookie...
    assert "set-cookie" in client.get(f"/sessions/{first}?lang=en").headers
    assert client.cookies.get("lang") == "en"
    # ...the widgets never do, and speak the snippet's language, Latvian unless it says.
    for path in (f"/embed/sessions/{first}", "/embed/upcoming"):
        plain = client.get(path)
        assert "set-cookie" not in plain.headers, path
        assert "Cookie" not in plain.headers.get("vary", ""), path
        english = client.get(path, params={"lang": "en"})
        assert "set-cookie" not in english.headers, path
        assert client.cookies.get("lang") == "en", path
        assert Tags(plain.text).find("html", lang="lv"), path
        assert Tags(english.text).find("html", lang="en"), path
    box = client.get(f"/embed/sessions/{first}/watch")
    assert "set-cookie" not in box.headers
    assert "Skatīties tiešraidē" in box.text


def test_allowed_origins_must_be_origins(tmp_path: Path) -> None:
    for wrong in ("jaunatne.example.lv", "https://jaunatne.example.lv/lapa", "ftp://x.lv"):
        with pytest.raises(ConfigError, match=r"embed\.allowed_origins"):
            make_settings(tmp_path, VCS_EMBED_ALLOWED_ORIGINS=wrong)
    settings = make_settings(tmp_path, VCS_EMBED_ALLOWED_ORIGINS="http://localhost:8080")
    assert settings.embed.allowed_origins == "http://localhost:8080"


# -- the widgets -------------------------------------------------------------------------------


def test_the_session_widget_shows_the_watch_box_and_swaps_it_from_its_own_address(
    tmp_path: Path,
) -> None:
    context = site(tmp_path)
    first = session_id(context, NATIONAL, "2026-12-10")
    page = TestClient(create_app(context)).get(f"/embed/sessions/{first}?lang=en")
    tags = Tags(page.text)
    assert tags.find("html")[0]["lang"] == "en"
    (box,) = tags.find("section", id="watch")
    assert box["data-phase"] == "upcoming"
    assert box["data-fragment"] == f"/embed/sessions/{first}/watch?lang=en"
    # Links leave the frame; the page's script is the livestream page's own.
    assert tags.find("base", target="_blank")
    assert tags.find("script", src="/static/vcs.js")
    assert tags.find("a", href=f"{BASE}/sessions/{first}?lang=en")
    assert "Thursday, 10 December 2026, 10:00–11:30" in page.text


def test_the_session_widget_of_a_cancelled_or_members_only_session(tmp_path: Path) -> None:
    context = site(tmp_path)
    first = session_id(context, NATIONAL, "2026-12-10")
    hidden = session_id(context, MEMBERS, "2026-12-01")
    with context.database.session() as db:
        sessions.cancel(db, sessions.get(db, first), "Lektore saslima", "staff")
    client = TestClient(create_app(context))
    cancelled = client.get(f"/embed/sessions/{first}")
    assert "Atcelta" in cancelled.text and "Lektore saslima" in cancelled.text
    assert 'id="watch"' not in cancelled.text
    assert client.get(f"/embed/sessions/{hidden}").status_code == 404
    assert client.get("/embed/sessions/99999").status_code == 404


def test_the_upcoming_widget_shows_the_next_sessions_of_a_region_or_a_series(
    tmp_path: Path,
) -> None:
    context = site(tmp_path)
    client = TestClient(create_app(context))
    region = Tags(client.get("/embed/upcoming?region=vidzeme&limit=3").text)
    titles = [a["href"] for a in region.find("a") if "/sessions/" in a["href"]]
    assert len(titles) == 3
    # A region's view: the national videoconferences and the region's own meetings, by date.
    national_first = session_id(context, NATIONAL, "2026-12-10")
    vidzeme_first = session_id(context, VIDZEME, "2026-12-30")
    assert titles[:2] == [f"{BASE}/sessions/{national_first}", f"{BASE}/sessions/{vidzeme_first}"]
    series = client.get(f"/embed/upcoming?series={VIDZEME}&lang=en")
    assert "Vidzeme experience-sharing meetings" in series.text
    assert "Youth work videoconferences" not in series.text
    whole = client.get("/embed/upcoming")
    assert len([a for a in Tags(whole.text).find("a") if "/sessions/" in a["href"]]) == 5
    assert "Koordinatoru" not in whole.text


def test_the_upcoming_widget_refuses_what_it_does_not_know(tmp_path: Path) -> None:
    # A year ahead: more than 20 public sessions, the most the widget shows.
    client = TestClient(create_app(site(tmp_path, VCS_SESSIONS_HORIZON_DAYS="400")))
    assert client.get("/embed/upcoming?region=atlantida").status_code == 404
    assert client.get(f"/embed/upcoming?series={MEMBERS}").status_code == 404
    assert client.get("/embed/upcoming?limit=pieci").status_code == 400
    many = client.get("/embed/upcoming?limit=500")
    assert len([a for a in Tags(many.text).find("a") if "/sessions/" in a["href"]]) == 20


# -- oEmbed --------------------------------------------------------------------------------------


def test_oembed_answers_a_session_page_per_the_spec(tmp_path: Path) -> None:
    context = site(tmp_path)
    first = session_id(context, NATIONAL, "2026-12-10")
    client = TestClient(create_app(context))
    answer = oembed(client, f"{BASE}/sessions/{first}", format="json")
    assert answer["version"] == "1.0"
    assert answer["type"] == "rich"
    assert answer["title"] == "Jaunatnes lietu speciālistu videokonferences"
    assert answer["provider_name"] == "Jaunatnes lietu speciālistu atbalsta tīkls"
    assert answer["provider_url"] == f"{BASE}/"
    assert isinstance(answer["width"], int) and isinstance(answer["height"], int)
    (frame,) = Tags(str(answer["html"])).find("iframe")
    assert frame["src"] == f"{BASE}/embed/sessions/{first}?lang=lv"
    assert frame["title"] == answer["title"]
    assert (frame["width"], frame["height"]) == (str(answer["width"]), str(answer["height"]))
    # The widget it points at is served.
    assert client.get(urlsplit(frame["src"]).path).status_code == 200


def test_oembed_respects_maxwidth_maxheight_and_the_pages_language(tmp_path: Path) -> None:
    context = site(tmp_path)
    first = session_id(context, NATIONAL, "2026-12-10")
    client = TestClient(create_app(context))
    small = oembed(client, f"{BASE}/sessions/{first}?lang=en", maxwidth="300", maxheight="200")
    assert (small["width"], small["height"]) == (300, 200)
    assert small["title"] == "Youth work videoconferences"
    assert "lang=en" in str(small["html"])
    large = oembed(client, f"{BASE}/sessions/{first}", maxwidth="5000")
    assert isinstance(large["width"], int) and large["width"] <= 5000
    assert client.get("/oembed", params={"url": f"{BASE}/", "maxwidth": "-3"}).status_code == 400


def test_oembed_embeds_the_upcoming_widget_for_listing_pages(tmp_path: Path) -> None:
    client = TestClient(create_app(site(tmp_path)))
    for url, expected in (
        (f"{BASE}/", {"lang": ["lv"]}),
        (f"{BASE}/regions/vidzeme", {"lang": ["lv"], "region": ["vidzeme"]}),
        (f"{BASE}/series/{VIDZEME}?lang=en", {"lang": ["en"], "series": [VIDZEME]}),
    ):
        (frame,) = Tags(str(oembed(client, url)["html"])).find("iframe")
        src = urlsplit(frame["src"])
        assert src.path == "/embed/upcoming", url
        assert parse_qs(src.query) == expected, url


def test_oembed_refuses_addresses_that_are_not_ours_or_not_public(tmp_path: Path) -> None:
    context = site(tmp_path)
    first = session_id(context, NATIONAL, "2026-12-10")
    hidden = session_id(context, MEMBERS, "2026-12-01")
    client = TestClient(create_app(context))
    for url in (
        f"https://evil.example.com/sessions/{first}",
        f"http://tikls.example.lv/sessions/{first}",
        f"{BASE}/sessions/{hidden}",
        f"{BASE}/sessions/99999",
        f"{BASE}/series/{MEMBERS}",
        f"{BASE}/regions/atlantida",
        f"{BASE}/staff",
        "not a url",
    ):
        assert client.get("/oembed", params={"url": url}).status_code == 404, url
    assert client.get("/oembed").status_code == 400


def test_oembed_answers_501_for_xml(tmp_path: Path) -> None:
    context = site(tmp_path)
    first = session_id(context, NATIONAL, "2026-12-10")
    client = TestClient(create_app(context))
    url = f"{BASE}/sessions/{first}"
    assert client.get("/oembed", params={"url": url, "format": "xml"}).status_code == 501


def test_a_session_page_advertises_oembed_and_offers_the_snippet(tmp_path: Path) -> None:
    context = site(tmp_path)
    first = session_id(context, NATIONAL, "2026-12-10")
    client = TestClient(create_app(context))
    tags = Tags(client.get(f"/sessions/{first}").text)
    (link,) = tags.find("link", type="application/json+oembed")
    assert link["rel"] == "alternate"
    discovered = urlsplit(link["href"])
    assert f"{discovered.scheme}://{discovered.netloc}" == BASE
    answer = client.get(f"{discovered.path}?{discovered.query}").json()
    assert answer["type"] == "rich"
    # The share box: the same iframe as text to copy.
    (snippet,) = tags.textareas
    (frame,) = Tags(snippet).find("iframe")
    assert frame["src"] == f"{BASE}/embed/sessions/{first}?lang=lv"
    assert "Kopīgot vai iegult" in client.get(f"/sessions/{first}").text
