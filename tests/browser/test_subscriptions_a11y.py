"""The self-service pages in Chromium: WCAG 2.1 AA as axe-core checks it, and the error summary
takes the focus so a screen reader hears what went wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import live_server
from tests.browser.test_public_pages_a11y import axe_violations
from tests.integration.test_feeds import network
from tests.mail_factories import mail_context
from vcs.mail import links
from vcs.membership.members import MemberSpec, create_member

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_the_subscribe_form_with_errors_has_no_wcag_aa_violations(
    page: Any, tmp_path: Path, lang: str
) -> None:
    context = mail_context(tmp_path)
    network(context)
    with live_server(context) as base:
        page.goto(f"{base}/subscribe?lang={lang}")
        assert axe_violations(page) == []
        page.fill("#email", "anna(at)example.lv")
        page.click("button[type=submit]")
        page.wait_for_selector("#error-summary")
        assert page.evaluate("document.activeElement.id") == "error-summary"
        assert page.locator("#email").get_attribute("aria-invalid") == "true"
        assert page.locator("#email").get_attribute("aria-describedby") == "email-error"
        assert axe_violations(page) == []


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_the_preferences_page_has_no_wcag_aa_violations(
    page: Any, tmp_path: Path, lang: str
) -> None:
    context = mail_context(tmp_path)
    network(context)
    with context.database.session() as db:
        anna = create_member(
            db, MemberSpec("anna.ozola@example.lv", "Anna Ozola", status="active"), "test"
        )
        preferences = links.preferences_url(context.settings, anna).removeprefix(
            context.settings.base_url
        )
        unsubscribe = links.unsubscribe_url(context.settings, anna).removeprefix(
            context.settings.base_url
        )
    with live_server(context) as base:
        for path in (preferences, f"{preferences}/delete", unsubscribe):
            page.goto(f"{base}{path}?lang={lang}")
            assert page.locator("html").get_attribute("lang") == lang
            assert axe_violations(page) == [], path
