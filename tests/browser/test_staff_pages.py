"""The staff area in Chromium: log in, cancel a session with a reason, see it on the public page;
the dashboard and the session page pass axe-core's WCAG 2.1 AA checks under the real CSP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import live_server
from tests.browser.test_public_pages_a11y import axe_violations
from tests.integration.test_staff_access import EDITOR, PASSWORD, first_session, staff_site
from vcs.context import Context

pytestmark = pytest.mark.browser


def csp_reports(page: Any) -> list[str]:
    """Every Content-Security-Policy complaint the page's console shows, collected as it goes."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return found


def test_an_editor_logs_in_and_cancels_a_session_with_a_reason(
    page: Any, context: Context, tmp_path: Path
) -> None:
    staff_site(context, tmp_path)
    session = first_session(context)
    complaints = csp_reports(page)
    with live_server(context) as base:
        page.goto(f"{base}/staff")
        assert page.url.startswith(f"{base}/staff/login?next=")
        assert axe_violations(page) == [], "log-in"
        page.get_by_label("E-pasta adrese").fill(EDITOR)
        page.get_by_label("Parole").fill(PASSWORD)
        page.get_by_role("button", name="Pieteikties").click()
        page.wait_for_url(f"{base}/staff")
        assert page.get_by_role("heading", name="Pārskats", level=1).is_visible()
        assert axe_violations(page) == [], "dashboard"

        page.locator(f'a[href="/staff/sessions/{session}"]').first.click()
        page.wait_for_url(f"{base}/staff/sessions/{session}")
        assert axe_violations(page) == [], "session page"
        page.get_by_label("Iemesls latviski, kā to lasīs dalībnieki un skatītāji").fill(
            "Lektore saslima"
        )
        page.get_by_role("button", name="Atcelt sesiju").click()
        page.get_by_role("button", name="Jā, atcelt sesiju").click()
        page.wait_for_url(f"{base}/staff/sessions/{session}?done=cancelled")
        assert page.get_by_role("status").inner_text() == "Sesija ir atcelta."
        assert axe_violations(page) == [], "session page, cancelled"

        page.goto(f"{base}/sessions/{session}")
        notice = page.locator(".notice--cancelled").inner_text()
        assert notice == "Atcelta: Lektore saslima"
        page.goto(f"{base}/")
        assert "Atcelta: Lektore saslima" in page.locator("main").inner_text()

        page.goto(f"{base}/staff")
        page.get_by_role("button", name="Iziet").click()
        page.wait_for_url(f"{base}/staff/login?logged_out=1")
        page.goto(f"{base}/staff")
        assert page.url.startswith(f"{base}/staff/login")
    assert complaints == []
