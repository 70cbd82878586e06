"""The feedback form (issue 17) in Chromium at 375 px: no sideways scrolling, WCAG 2.1 AA as
axe-core checks it, in Latvian and English, with a problem shown at its field and after the
answer is saved."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_registration_pages import fits_a_phone
from tests.factories import NATIONAL, import_entries, live_server, national, session_id
from tests.integration.test_announcements import at
from tests.integration.test_staff_access import ADMIN, PASSWORD, first_session, staff_site
from tests.mail_factories import mail_context
from vcs import feedback
from vcs.context import Context
from vcs.storage.models import Attendance

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_answering_works_on_a_phone_and_meets_wcag_aa(page: Any, tmp_path: Path, lang: str) -> None:
    context = mail_context(tmp_path)
    import_entries(context, tmp_path, national())
    session = session_id(context, NATIONAL, "2026-12-10")
    with context.database.session() as db:
        row = Attendance(session_id=session, email="vika@example.lv", name="Vika", language=lang)
        db.add(row)
        db.flush()
        own = feedback.link_url(context.settings, row)
    at(context, dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC))
    page.set_viewport_size({"width": 375, "height": 800})
    with live_server(context) as base:
        page.goto(own.replace(context.settings.base_url, base) + f"?lang={lang}")
        fits_a_phone(page)
        assert page.locator("fieldset legend").count() == 1
        page.fill("#wishes", "Digitālā drošība jauniešiem")
        page.click("form button[type=submit]")  # no rating yet: the problem at its field
        page.wait_for_selector("#rating-error")
        fits_a_phone(page)
        assert page.input_value("#wishes") == "Digitālā drošība jauniešiem"

        page.check("#rating-4")
        page.fill("#useful", "Piemēri no citiem novadiem")
        page.click("form button[type=submit]")
        page.wait_for_selector("[role=status]")
        fits_a_phone(page)

    with context.database.session() as db:
        found = feedback.summary(db, session)
    assert (found.answers, found.average, found.wishes) == (1, 4.0, ["Digitālā drošība jauniešiem"])


def test_the_staff_summary_and_trend_fit_a_phone_and_meet_wcag_aa(
    page: Any, context: Context, tmp_path: Path
) -> None:
    staff_site(context, tmp_path)
    session = first_session(context)
    long = "Ļoti noderīgi piemēri no Valmieras, Cēsu un Siguldas novada jauniešu centriem; " * 3
    at(context, dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC))
    with context.database.session() as db:
        for n, rating in enumerate((5, 4, 2)):
            row = Attendance(session_id=session, email=f"d{n}@example.lv", language="lv")
            db.add(row)
            db.flush()
            answer = feedback.Answer(rating, useful=long, wishes="Jauniešu-līdzdalības-metodes" * 4)
            feedback.save(db, context.clock, row, answer, "lv")
    page.set_viewport_size({"width": 375, "height": 800})
    with live_server(context) as base:
        page.goto(f"{base}/staff/login")
        page.get_by_label("E-pasta adrese").fill(ADMIN)
        page.get_by_label("Parole").fill(PASSWORD)
        page.get_by_role("button", name="Pieteikties").click()
        page.wait_for_url(f"{base}/staff")
        for path in (f"/staff/sessions/{session}", f"/staff/series/{NATIONAL}"):
            page.goto(f"{base}{path}")
            assert page.locator("#feedback-heading, #feedback-trend-heading").count() == 1
            fits_a_phone(page)
