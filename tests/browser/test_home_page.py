"""The home page in a real browser: Latvian first, a working language switch, keyboard access."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import live_server
from tests.integration.test_web_shell import add_session
from vcs.clock import FixedClock
from vcs.context import Context

pytestmark = pytest.mark.browser


def test_home_page_in_latvian_then_english(page: Any, context: Context, tmp_path: Path) -> None:
    context.clock = FixedClock(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    add_session(context, dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC))
    with live_server(context) as base:
        page.goto(base + "/")
        assert page.locator("html").get_attribute("lang") == "lv"
        assert page.get_by_role("heading", level=2, name="Gaidāmās").is_visible()
        assert "ceturtdiena, 2026. gada 10. decembris" in page.locator("main").inner_text()
        page.screenshot(path=str(tmp_path / "home-lv.png"), full_page=True)

        page.get_by_role("link", name="English").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_role("heading", level=2, name="Upcoming").is_visible()

        page.goto(base + "/")
        assert page.locator("html").get_attribute("lang") == "en", "the choice was not remembered"


def test_skip_link_is_the_first_stop_for_the_keyboard(page: Any, context: Context) -> None:
    with live_server(context) as base:
        page.goto(base + "/")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent")
        assert focused == "Pāriet uz saturu"
        assert page.evaluate("getComputedStyle(document.activeElement).left") != "-999px"
