"""Headless Chromium (Debian's package) through Playwright, and the app served in a thread."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.factories import live_server  # noqa: F401  (the browser tests import it from here)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Package scope: Playwright's sync API keeps an event loop running in the main thread while it
# is open, and tests outside tests/browser/ that call asyncio.run() need it closed.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not shutil.which("chromium"):
        if IN_CI:
            pytest.fail("chromium is not installed; `make test` installs it with apt-get as root")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="lv-LV", timezone_id="Europe/Riga")
    page = context.new_page()
    yield page
    context.close()
