"""Registration (issue 16) in Chromium at 375 px: no sideways scrolling, WCAG 2.1 AA as axe-core
checks it, in Latvian and English."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import live_server
from tests.browser.test_public_pages_a11y import axe_violations
from tests.factories import VIDZEME, import_entries, session_id, vidzeme
from tests.mail_factories import add_members, mail_context
from vcs.planning import registrations, sessions
from vcs.storage.models import Member

pytestmark = pytest.mark.browser


def fits_a_phone(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert axe_violations(page) == [], page.url


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_registering_works_on_a_phone_and_meets_wcag_aa(
    page: Any, tmp_path: Path, lang: str
) -> None:
    context = mail_context(tmp_path)
    setting = {"open": True, "capacity": 1, "closes": "P1D"}
    import_entries(context, tmp_path, vidzeme(registration=setting))
    session = session_id(context, VIDZEME, "2026-12-30")
    [member_id] = add_members(context, 1)
    with context.database.session() as db:
        member = db.get(Member, member_id)
        assert member is not None
        own = registrations.member_url(context.settings, sessions.get(db, session), member)
    page.set_viewport_size({"width": 375, "height": 800})
    with live_server(context) as base:
        page.goto(f"{base}/sessions/{session}?lang={lang}")
        fits_a_phone(page)
        page.fill("#registration-name", "Vika Viesīte")
        page.fill("#registration-email", "vika@example.lv")
        page.check("#registration-attendance-online")
        page.click("#registration-heading ~ form button[type=submit]")
        page.wait_for_selector("[role=status]")
        fits_a_phone(page)

        page.goto(own.replace(context.settings.base_url, base) + f"?lang={lang}")
        fits_a_phone(page)
        page.click("button[type=submit]")
        page.wait_for_selector("[role=status]")
        fits_a_phone(page)

    with context.database.session() as db:
        assert registrations.counts(db, session) == registrations.Counts(room=1, unconfirmed=1)
