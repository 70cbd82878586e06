"""Every public page in Chromium at 375 px (a phone) and 1280 px: no sideways scrolling, no
WCAG 2.1 AA violation (axe-core), and a front page that leads with the session live now."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.browser.conftest import live_server
from tests.browser.test_public_pages_a11y import axe_violations
from tests.factories import NATIONAL, VIDZEME, import_entries, national, session_id, vidzeme
from tests.mail_factories import add_members
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.mail import links
from vcs.paths import PROJECT_DIR
from vcs.planning import sessions
from vcs.storage.models import Digest, Member, Series

pytestmark = pytest.mark.browser
JITSI = {"provider": "static", "watch_url": "https://meet.jit.si/tikls-{date}"}
# The first national session: Thursday 10 December 2026, 10.00–11.30 in Riga; ten minutes in.
LIVE = dt.datetime(2026, 12, 10, 8, 10, tzinfo=dt.UTC)
SCREENSHOTS = PROJECT_DIR / "docs" / "screenshots"


def public_site(context: Context, tmp_path: Path) -> list[str]:
    """A network with a live session, an ended one with a recording, a cancelled one, a sent
    digest and a member: every kind of public page, by path."""
    context.clock = FixedClock(LIVE - dt.timedelta(days=10))
    import_entries(context, tmp_path, national(livestream=JITSI), vidzeme())
    live = session_id(context, NATIONAL, "2026-12-10")
    cancelled = session_id(context, NATIONAL, "2027-01-14")
    regional = session_id(context, VIDZEME, "2026-12-30")
    with context.database.session() as db:
        series = db.scalars(select(Series).where(Series.slug == NATIONAL)).one()
        start = LIVE - dt.timedelta(days=7, minutes=10)
        ended = sessions.add_extra(
            db, series, start, start + dt.timedelta(hours=1), "test", "tikls.example.lv",
            title_lv="Jauniešu līdzdalība pašvaldību lēmumu pieņemšanā: pieredze un izaicinājumi",
        )  # fmt: skip
        ended.recording_url = "https://www.youtube.com/watch?v=ieraksts"
        sessions.cancel(db, sessions.get(db, cancelled), "Lektore saslima", "test")
        digest = Digest(
            status="sent", period_start=LIVE - dt.timedelta(days=3), period_end=LIVE,
            subject_lv="Infolapa · pirmdiena, 7. decembris", sent_at=LIVE - dt.timedelta(days=3),
            subject_en="Info-letter · Monday, 7 December",
        )  # fmt: skip
        db.add(digest)
        db.flush()
        ended_id, digest_id = ended.id, digest.id
    (member_id,) = add_members(context, 1)
    with context.database.session() as db:
        member = db.get(Member, member_id)
        assert member is not None
        preferences = urlsplit(links.preferences_url(context.settings, member)).path
        unsubscribe = urlsplit(links.unsubscribe_url(context.settings, member)).path
    context.clock = FixedClock(LIVE)
    return [
        "/", "/series", "/regions", "/regions/vidzeme", f"/series/{NATIONAL}",
        f"/series/{VIDZEME}", f"/sessions/{live}", f"/sessions/{ended_id}",
        f"/sessions/{cancelled}", f"/sessions/{regional}", "/digests", f"/digests/{digest_id}",
        "/subscribe", "/subscribe/sent", "/privacy", preferences, f"{preferences}/delete",
        unsubscribe, "/subscribe/confirm/nederiga-saite", "/nav-tadas-lapas",
    ]  # fmt: skip


def overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    width: int = page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    )
    return width


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_every_public_page_fits_a_phone_and_passes_axe(
    browser: Any, context: Context, tmp_path: Path, lang: str
) -> None:
    paths = public_site(context, tmp_path)
    phone = browser.new_context(
        viewport={"width": 375, "height": 740}, locale="lv-LV", timezone_id="Europe/Riga"
    )
    page = phone.new_page()
    try:
        with live_server(context) as base:
            for path in paths:
                page.goto(f"{base}{path}?lang={lang}")
                assert page.locator("html").get_attribute("lang") == lang
                assert overflow(page) <= 0, f"{path} is {overflow(page)} px too wide at 375 px"
                assert axe_violations(page) == [], path
            # The subscribe form with every error shown is a page of its own.
            page.goto(f"{base}/subscribe?lang={lang}")
            page.get_by_role("button", name="Pieteikties" if lang == "lv" else "Subscribe").click()
            page.wait_for_selector("#error-summary")
            assert overflow(page) <= 0
            assert axe_violations(page) == []
    finally:
        phone.close()


def test_the_front_page_leads_with_the_live_session_and_its_player(
    page: Any, context: Context, tmp_path: Path
) -> None:
    public_site(context, tmp_path)
    with live_server(context) as base:
        page.goto(base + "/")
        lead = page.get_by_role("region", name="Tiešraidē tagad")
        assert lead.is_visible()
        # It comes before the calendar box and the list, as the first thing on the page.
        boxes = page.locator("main section").evaluate_all("els => els.map(e => e.className)")
        assert boxes[0] == "next-up next-up--live"
        assert boxes[1] == "subscribe"
        assert (
            lead.get_by_role("link", name="Atvērt tiešraidi atsevišķā logā").get_attribute("href")
            == "https://meet.jit.si/tikls-2026-12-10"
        )
        lead.get_by_role("link", name="Skatīties tiešraidē").click()
        page.wait_for_load_state()
        watch = page.locator("#watch")
        assert watch.get_attribute("data-phase") == "live"
        assert page.get_by_role("link", name="Atvērt tiešraidi").first.is_visible()


def test_screenshots_of_the_front_and_session_pages(
    browser: Any, context: Context, tmp_path: Path
) -> None:
    """Writes docs/screenshots/ when VCS_WRITE_SCREENSHOTS=1 (the README shows them); else a
    temporary folder, so the run still proves the pages render at both widths."""
    paths = public_site(context, tmp_path)
    folder = SCREENSHOTS if os.environ.get("VCS_WRITE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    upcoming_regional = paths[9]
    with live_server(context) as base:
        for width, height in ((1280, 900), (375, 1100)):
            shot = browser.new_context(
                viewport={"width": width, "height": height},
                locale="lv-LV",
                timezone_id="Europe/Riga",
            )
            page = shot.new_page()
            for name, path in (("front-page", "/"), ("session-page", upcoming_regional)):
                page.goto(f"{base}{path}?lang=lv")
                target = folder / f"{name}-lv-{width}.png"
                page.screenshot(path=str(target))
                assert target.read_bytes().startswith(b"\x89PNG")
            shot.close()
