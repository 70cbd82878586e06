"""Public pages in Chromium: WCAG 2.1 AA as axe-core checks it, in Latvian and English."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import live_server
from tests.integration.test_feeds import network
from vcs.context import Context
from vcs.paths import PROJECT_DIR
from vcs.planning import sessions
from vcs.storage.models import Session

pytestmark = pytest.mark.browser
AXE = PROJECT_DIR / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Any) -> list[str]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` installs it with npm")
    # Evaluated, not added as a <script>: the pages' Content-Security-Policy forbids inline script.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA
    )
    return [
        f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})"
        for v in result["violations"]
    ]


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_public_pages_have_no_wcag_aa_violations(page: Any, context: Context, lang: str) -> None:
    network(context)
    with context.database.session() as db:
        first = db.scalars(select(Session).order_by(Session.start)).first()
        assert first is not None
        sessions.cancel(db, sessions.get(db, first.id), "Lektore saslima", "staff")
        session_id = first.id
    paths = [
        "/",
        "/series/vk",
        "/series/vidzeme",
        "/regions/vidzeme",
        f"/sessions/{session_id}",
        "/nav-tadas",
    ]
    with live_server(context) as base:
        for path in paths:
            page.goto(f"{base}{path}?lang={lang}")
            assert page.locator("html").get_attribute("lang") == lang
            assert axe_violations(page) == [], path


def test_the_copy_button_copies_the_feed_address(browser: Any, context: Context) -> None:
    network(context)
    browser_context = browser.new_context(
        locale="lv-LV", permissions=["clipboard-read", "clipboard-write"]
    )
    page = browser_context.new_page()
    with live_server(context) as base:
        page.goto(f"{base}/series/vk")
        box = page.get_by_role("region", name="Pievienot savam kalendāram")
        assert (
            box.get_by_role("link", name="Google kalendārs")
            .get_attribute("href")
            .startswith("https://calendar.google.com/calendar/render?cid=webcal%3A%2F%2F")
        )
        button = box.get_by_role("button", name="Kopēt")
        button.click()
        # The label changes once the clipboard write resolves: wait for it, do not race it.
        box.get_by_role("button", name="Nokopēts").wait_for(state="visible", timeout=5000)
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == "http://127.0.0.1:8000/series/vk.ics"
    browser_context.close()


def test_the_session_page_offers_a_download_and_a_google_event(
    page: Any, context: Context, tmp_path: Path
) -> None:
    network(context)
    with context.database.session() as db:
        first = db.scalars(select(Session).order_by(Session.start)).first()
        assert first is not None
        session_id = first.id
    with live_server(context) as base:
        page.goto(f"{base}/sessions/{session_id}")
        main = page.locator("main").inner_text()
        assert "ceturtdiena, 2026. gada 10. decembris, 10.00–11.30" in main
        with page.expect_download() as download:
            page.get_by_role("link", name="Lejupielādēt .ics (Outlook, Apple, Thunderbird)").click()
        saved = tmp_path / "session.ics"
        download.value.save_as(saved)
        assert saved.read_bytes().startswith(b"BEGIN:VCALENDAR\r\n")
        google = page.get_by_role("link", name="Pievienot Google kalendāram").get_attribute("href")
        assert "action=TEMPLATE" in google and "dates=20261210T080000Z%2F20261210T093000Z" in google
        page.screenshot(path=str(tmp_path / "session.png"), full_page=True)
