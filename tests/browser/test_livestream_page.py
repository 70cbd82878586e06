"""The livestream page in Chromium: from countdown to player without a reload, accessible in
every phase, usable on a phone and without scripts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import live_server
from tests.browser.test_public_pages_a11y import axe_violations
from tests.conftest import make_settings
from tests.factories import NATIONAL, import_entries, national, session_id
from vcs.bootstrap import initialise
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.storage.models import Livestream, Session

pytestmark = pytest.mark.browser
# Two minutes before the first national session (10 December 2026, 10.00 in Riga).
ALMOST = dt.datetime(2026, 12, 10, 7, 58, tzinfo=dt.UTC)


@pytest.fixture
def polling_context(tmp_path: Path) -> Iterator[Context]:
    """An installation whose pages poll every second, so a test need not wait 30."""
    ctx = Context.from_settings(make_settings(tmp_path, VCS_LIVESTREAM_PAGE_POLL_SECONDS="1"))
    initialise(ctx)
    yield ctx
    ctx.close()


def youtube_session(context: Context, tmp_path: Path) -> int:
    context.clock = FixedClock(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))
    import_entries(context, tmp_path, national(livestream={"provider": "youtube"}))
    first = session_id(context, NATIONAL, "2026-12-10")
    with context.database.session() as db:
        db.add(
            Livestream(
                session_id=first,
                provider="youtube",
                external_id="yt1",
                status="created",
                watch_url="https://www.youtube.com/watch?v=yt1",
            )
        )
    context.clock = FixedClock(ALMOST)
    return first


def go_live(context: Context, session: int, embed_url: str) -> None:
    """What the livestream-status job stores when YouTube says the broadcast started."""
    with context.database.session() as db:
        row = db.scalars(select(Livestream).where(Livestream.session_id == session)).one()
        row.status, row.embed_url = "live", embed_url
        found = db.get(Session, session)
        assert found is not None
        found.live_status = "live"


def test_the_page_switches_from_countdown_to_player_without_a_reload(
    browser: Any, polling_context: Context, tmp_path: Path
) -> None:
    context = polling_context
    first = youtube_session(context, tmp_path)
    page = browser.new_page(locale="lv-LV", timezone_id="Europe/Riga")
    with live_server(context) as base:
        page.goto(f"{base}/sessions/{first}")
        watch = page.locator("#watch")
        assert watch.get_attribute("data-phase") == "upcoming"
        assert watch.locator("[data-countdown]").inner_text() == "pēc 2 minūtēm"
        assert page.locator("#watch iframe").count() == 0
        assert axe_violations(page) == [], "countdown"
        page.evaluate("window.notReloaded = true")

        # A page of our own stands in for YouTube's player: the tests reach no other host.
        go_live(context, first, f"{base}/healthz")
        page.wait_for_selector("#watch iframe", timeout=10_000)

        assert page.evaluate("window.notReloaded") is True
        assert page.locator("#watch").get_attribute("data-phase") == "live"
        player = page.locator("#watch iframe")
        assert player.get_attribute("src") == f"{base}/healthz"
        assert player.get_attribute("title") == (
            "Tiešraide: Jaunatnes lietu speciālistu videokonferences"
        )
        assert page.locator("#watch-status").inner_text() == "Tiešraide ir sākusies."
        assert axe_violations(page) == [], "live"
    page.close()


def test_the_page_works_with_scripts_off(
    browser: Any, polling_context: Context, tmp_path: Path
) -> None:
    context = polling_context
    first = youtube_session(context, tmp_path)
    page = browser.new_page(locale="lv-LV", java_script_enabled=False)
    with live_server(context) as base:
        page.goto(f"{base}/sessions/{first}")
        assert page.locator("[data-countdown]").inner_text() == "pēc 2 minūtēm"
        link = page.get_by_role("link", name="Atvērt tiešraidi", exact=True)
        assert link.get_attribute("href") == "https://www.youtube.com/watch?v=yt1"
        go_live(context, first, "https://www.youtube-nocookie.com/embed/yt1")
        page.reload()
        assert page.locator("#watch iframe").get_attribute("src") == (
            "https://www.youtube-nocookie.com/embed/yt1"
        )
    page.close()


def test_the_page_fits_a_phone_and_shows_a_visitors_own_time(
    browser: Any, polling_context: Context, tmp_path: Path
) -> None:
    context = polling_context
    first = youtube_session(context, tmp_path)
    page = browser.new_page(
        locale="en-GB", timezone_id="Europe/London", viewport={"width": 375, "height": 800}
    )
    with live_server(context) as base:
        page.goto(f"{base}/sessions/{first}?lang=en")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        own = page.locator("[data-local-time]")
        assert own.is_visible()
        # 10.00 in Riga is 08.00 in London.
        text = own.inner_text()
        assert text.startswith("In your time zone: Thursday")
        assert "10 December 2026" in text
        assert "08:00–09:30" in text
        assert axe_violations(page) == [], "375 px"
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
    page.close()


def test_the_own_time_stays_hidden_in_the_series_time_zone(
    page: Any, polling_context: Context, tmp_path: Path
) -> None:
    context = polling_context
    first = youtube_session(context, tmp_path)
    with live_server(context) as base:
        page.goto(f"{base}/sessions/{first}")
        assert page.locator("[data-local-time]").is_hidden()
