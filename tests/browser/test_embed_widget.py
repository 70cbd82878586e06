"""The widgets inside another site's page, in Chromium: two loopback origins, the widget's
(http://127.0.0.1:<port>) and the embedding site's (http://localhost:<port>). A listed site shows
the widget, which switches from countdown to player by itself; a site not listed gets the frame
refused by the browser; the widgets are accessible and fit 300 px."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import live_server
from tests.browser.test_livestream_page import go_live, youtube_session
from tests.browser.test_public_pages_a11y import axe_violations
from tests.conftest import free_port, make_settings
from tests.factories import import_entries, vidzeme
from vcs.bootstrap import initialise
from vcs.context import Context

pytestmark = pytest.mark.browser


@contextmanager
def other_site(html: str, port: int | None = None) -> Iterator[str]:
    """Another site's page, served on http://localhost:<port>/ (a free one by default)."""
    body = html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def host_page(widget: str) -> str:
    """A municipality's page with the snippet vcs gives (width 300: the narrowest we promise)."""
    return (
        '<!doctype html><html lang="lv"><head><meta charset="utf-8"><title>Novada jaunatne</title>'
        "</head><body><h1>Novada jaunatnes lietas</h1>"
        f'<iframe id="widget" src="{widget}" title="Videokonferences" width="300" height="520">'
        "</iframe></body></html>"
    )


@pytest.fixture
def allowed_port() -> int:
    return free_port()


@pytest.fixture
def embedding_context(tmp_path: Path, allowed_port: int) -> Iterator[Context]:
    """Pages poll every second; one site, http://localhost:<allowed_port>, may embed."""
    settings = make_settings(
        tmp_path,
        VCS_LIVESTREAM_PAGE_POLL_SECONDS="1",
        VCS_EMBED_ALLOWED_ORIGINS=f"http://localhost:{allowed_port}",
    )
    context = Context.from_settings(settings)
    initialise(context)
    yield context
    context.close()


def widget_frame(page: Any) -> Any:
    """The widget's frame in the host page, once it has loaded."""
    handle = page.wait_for_selector("#widget")
    frame = handle.content_frame()
    assert frame is not None
    frame.wait_for_load_state()
    return frame


def test_a_listed_site_shows_the_widget_and_it_switches_to_the_player(
    browser: Any, embedding_context: Context, allowed_port: int, tmp_path: Path
) -> None:
    context = embedding_context
    first = youtube_session(context, tmp_path)
    page = browser.new_page(locale="lv-LV", timezone_id="Europe/Riga")
    with (
        live_server(context) as base,
        other_site(host_page(f"{base}/embed/sessions/{first}"), allowed_port) as host,
    ):
        page.goto(host)
        frame = widget_frame(page)
        watch = frame.locator("#watch")
        watch.wait_for(timeout=10_000)
        assert watch.get_attribute("data-phase") == "upcoming"
        assert frame.locator("[data-countdown]").inner_text() == "pēc 2 minūtēm"
        assert frame.locator("html").get_attribute("lang") == "lv"
        assert axe_violations(frame) == [], "countdown"
        frame.evaluate("window.notReloaded = true")

        go_live(context, first, f"{base}/healthz")
        frame.wait_for_selector("#watch iframe", timeout=10_000)

        assert frame.evaluate("window.notReloaded") is True
        assert frame.locator("#watch").get_attribute("data-phase") == "live"
        assert frame.locator("#watch iframe").get_attribute("src") == f"{base}/healthz"
        assert frame.locator("#watch-status").inner_text() == "Tiešraide ir sākusies."
        assert axe_violations(frame) == [], "live"
        # At the snippet's 300 px, nothing scrolls sideways.
        assert frame.evaluate("document.documentElement.scrollWidth") <= 300
    page.close()


def test_a_site_not_listed_gets_the_frame_refused(
    browser: Any, embedding_context: Context, tmp_path: Path
) -> None:
    context = embedding_context
    first = youtube_session(context, tmp_path)
    page = browser.new_page()
    refusals: list[str] = []
    page.on("console", lambda message: refusals.append(message.text))
    with (
        live_server(context) as base,
        other_site(host_page(f"{base}/embed/sessions/{first}")) as host,
    ):
        page.goto(host)
        frame = widget_frame(page)
        assert frame.locator("#watch").count() == 0
        assert not frame.url.startswith(base)
        assert any("frame-ancestors" in text for text in refusals), refusals
    page.close()


def test_a_listed_site_still_cannot_frame_the_other_pages(
    browser: Any, embedding_context: Context, allowed_port: int, tmp_path: Path
) -> None:
    context = embedding_context
    first = youtube_session(context, tmp_path)
    page = browser.new_page()
    refusals: list[str] = []
    page.on("console", lambda message: refusals.append(message.text))
    with (
        live_server(context) as base,
        other_site(host_page(f"{base}/sessions/{first}"), allowed_port) as host,
    ):
        page.goto(host)
        frame = widget_frame(page)
        assert frame.locator("#watch").count() == 0
        assert any("frame-ancestors" in t or "X-Frame-Options" in t for t in refusals), refusals
    page.close()


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_the_widgets_are_accessible_and_fit_300_px(
    browser: Any, embedding_context: Context, tmp_path: Path, lang: str
) -> None:
    context = embedding_context
    first = youtube_session(context, tmp_path)
    # The longest place line: a hybrid meeting in a youth centre with a long name.
    import_entries(context, tmp_path, vidzeme())
    page = browser.new_page(locale="lv-LV", viewport={"width": 300, "height": 600})
    with live_server(context) as base:
        for path in (
            f"/embed/sessions/{first}",
            "/embed/upcoming",
            "/embed/upcoming?region=vidzeme&limit=3",
        ):
            page.goto(f"{base}{path}{'&' if '?' in path else '?'}lang={lang}")
            assert page.locator("html").get_attribute("lang") == lang
            assert page.evaluate("document.documentElement.scrollWidth") <= 300, path
            assert axe_violations(page) == [], path
    page.close()
