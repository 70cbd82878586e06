"""The digest pages in Chromium: an editor drafts the week's digest, adds an item and sees the
preview; the edit page and the public web version pass axe-core's WCAG 2.1 AA checks under the
real CSP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import live_server
from tests.browser.test_public_pages_a11y import axe_violations
from tests.browser.test_staff_pages import csp_reports
from tests.integration.test_staff_access import EDITOR, PASSWORD, staff_site
from vcs import digest as digests
from vcs.context import Context

pytestmark = pytest.mark.browser


def test_an_editor_drafts_a_digest_adds_an_item_and_previews_it(
    page: Any, context: Context, tmp_path: Path
) -> None:
    staff_site(context, tmp_path)
    complaints = csp_reports(page)
    with live_server(context) as base:
        page.goto(f"{base}/staff/login")
        page.get_by_label("E-pasta adrese").fill(EDITOR)
        page.get_by_label("Parole").fill(PASSWORD)
        page.get_by_role("button", name="Pieteikties").click()
        page.wait_for_url(f"{base}/staff")
        page.get_by_role("link", name="Apkopojumi").click()
        page.wait_for_url(f"{base}/staff/digests")
        assert axe_violations(page) == [], "digest list"
        page.get_by_role("button", name="Sagatavot šīs nedēļas apkopojumu").click()
        page.wait_for_url("**/staff/digests/*?done=drafted")
        assert page.get_by_role("status").inner_text() == "Šīs nedēļas apkopojums ir sagatavots."
        assert axe_violations(page) == [], "digest edit page"

        page.locator("#new-title_lv").fill("Jauniešu iniciatīvu konkurss")
        page.locator("#new-body_lv").fill("Pieteikumi līdz **15. janvārim**.")
        page.get_by_role("button", name="Pievienot ziņu").click()
        page.wait_for_url("**?done=item")
        frame = page.frame_locator("iframe.digest-preview")
        assert frame.get_by_role("heading", name="Jauniešu iniciatīvu konkurss").is_visible()
        assert axe_violations(page) == [], "digest edit page with an item"

        page.get_by_role("button", name="Nosūtīt tagad").click()
        page.get_by_role("button", name="Jā, nosūtīt tagad").click()
        page.wait_for_url("**?done=sent")
        with context.database.session() as db:
            sent = digests.archive(db)[0].id
        page.goto(f"{base}/digests/{sent}")
        assert "Jauniešu iniciatīvu konkurss" in page.locator("main").inner_text()
        assert axe_violations(page) == [], "web version"
        page.goto(f"{base}/digests")
        assert axe_violations(page) == [], "archive"
    assert complaints == []
