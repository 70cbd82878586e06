"""The series form in Chromium: an editor builds "every second Thursday at 10.00" with the
recurrence builder, sees the next ten dates live, saves, and finds the sessions on the public
pages; the form passes axe-core's WCAG 2.1 AA checks under the real CSP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import live_server
from tests.browser.test_public_pages_a11y import axe_violations
from tests.browser.test_staff_pages import csp_reports
from tests.factories import NOW
from tests.integration.test_staff_access import EDITOR, PASSWORD, add_staff
from tests.integration.test_staff_series import SECOND_THURSDAYS
from vcs.clock import FixedClock
from vcs.context import Context

pytestmark = pytest.mark.browser


def test_an_editor_builds_second_thursdays_sees_ten_dates_and_finds_the_sessions(
    page: Any, context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    add_staff(context, EDITOR, "editor")
    complaints = csp_reports(page)
    with live_server(context) as base:
        page.goto(f"{base}/staff/series/new")
        page.get_by_label("E-pasta adrese").fill(EDITOR)
        page.get_by_label("Parole").fill(PASSWORD)
        page.get_by_role("button", name="Pieteikties").click()
        page.wait_for_url(f"{base}/staff/series/new")
        assert axe_violations(page) == [], "empty series form"

        page.get_by_label("Adrese (slug)").fill("otras-ceturtdienas")
        page.get_by_label("Nosaukums latviski").fill("Otrās ceturtdienas")
        page.get_by_label("Pirmais sākums").fill("2026-12-10T10:00")
        page.get_by_label("Atkārtojas").select_option("MONTHLY")
        page.get_by_label("mēneša nedēļas dienā").check()
        page.get_by_label("Kurā pēc kārtas").select_option("2")
        page.get_by_label("Nedēļas diena").select_option("TH")
        # The builder writes the raw rule as it goes.
        assert page.locator("#rrule").input_value() == "FREQ=MONTHLY;BYDAY=2TH"
        page.get_by_role("button", name="Rādīt nākamos desmit datumus").click()
        dates = page.locator("#preview-dates li")
        dates.nth(9).wait_for()
        assert dates.all_inner_texts() == SECOND_THURSDAYS
        assert page.locator("#rule-words").inner_text() == "Vārdiem: katru mēnesi: otrā ceturtdiena"
        # The preview was fetched, not posted: still the blank form's address.
        assert page.url == f"{base}/staff/series/new"
        assert axe_violations(page) == [], "series form with dates"

        page.get_by_role("button", name="Saglabāt sēriju").click()
        page.wait_for_url(f"{base}/staff/series/otras-ceturtdienas?done=created")
        assert "Sērija ir izveidota" in page.get_by_role("status").inner_text()
        assert axe_violations(page) == [], "saved series form"

        page.goto(f"{base}/")
        main = page.locator("main").inner_text()
        assert "Otrās ceturtdienas" in main
        page.goto(f"{base}/series/otras-ceturtdienas")
        listed = page.locator("main").inner_text()
        for text in ("2026. gada 10. decembris", "2027. gada 14. janvāris", "2027. gada 11. marts"):
            assert text in listed
    assert complaints == []


def test_the_builder_follows_a_rule_typed_by_hand(
    page: Any, context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(NOW)
    add_staff(context, EDITOR, "editor")
    with live_server(context) as base:
        page.goto(f"{base}/staff/series/new")
        page.get_by_label("E-pasta adrese").fill(EDITOR)
        page.get_by_label("Parole").fill(PASSWORD)
        page.get_by_role("button", name="Pieteikties").click()
        page.wait_for_url(f"{base}/staff/series/new")
        page.get_by_label("Pirmais sākums").fill("2026-12-30T13:00")
        page.locator("#rrule").fill("FREQ=MONTHLY;BYDAY=-1WE")
        assert page.get_by_label("Atkārtojas").input_value() == "MONTHLY"
        assert page.get_by_label("Kurā pēc kārtas").input_value() == "-1"
        assert page.get_by_label("Nedēļas diena").input_value() == "WE"
        page.locator("#preview-dates li").nth(9).wait_for()
        assert page.locator("#preview-dates li").first.inner_text() == (
            "trešdiena, 2026. gada 30. decembris, 13.00"
        )
        page.locator("#rrule").fill("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1")
        assert page.locator("#recurrence-builder").evaluate("fieldset => fieldset.disabled")
        assert page.get_by_label("Atkārtojas").is_disabled()
        assert page.locator("#builder-note").is_visible()
