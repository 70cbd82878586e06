"""The recurrence builder in Chromium (issue 15, item 1): notes hidden when they should be, a
weekday of the month taken from the first start, an empty count refused beside its field, and
the "in words" line always saying the rule in the field."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import live_server
from tests.factories import NOW
from tests.integration.test_staff_access import EDITOR, PASSWORD, add_staff
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.storage.models import Series

pytestmark = pytest.mark.browser


@contextmanager
def series_form(page: Any, context: Context) -> Iterator[str]:
    """An editor logged in on a blank series form; yields the server's address."""
    context.clock = FixedClock(NOW)
    add_staff(context, EDITOR, "editor")
    with live_server(context) as base:
        page.goto(f"{base}/staff/series/new")
        page.get_by_label("E-pasta adrese").fill(EDITOR)
        page.get_by_label("Parole").fill(PASSWORD)
        page.get_by_role("button", name="Pieteikties").click()
        page.wait_for_url(f"{base}/staff/series/new")
        yield base


def words_become(page: Any, text: str) -> None:
    """Wait until the "in words" line shows `text` (it is refreshed after each change)."""
    page.wait_for_function(
        "(text) => { const p = document.getElementById('rule-words');"
        " return !p.hidden && p.querySelector('strong').textContent === text; }",
        arg=text,
    )


def test_the_cannot_show_note_and_the_no_dates_note_are_hidden_while_the_builder_shows_dates(
    page: Any, context: Context
) -> None:
    with series_form(page, context):
        assert not page.locator("#builder-note").is_visible()
        page.get_by_label("Pirmais sākums").fill("2026-12-10T10:00")
        page.get_by_label("Atkārtojas").select_option("MONTHLY")
        page.locator("#preview-dates li").nth(9).wait_for()
        assert not page.locator("#preview-empty").is_visible()
        assert not page.locator("#builder-note").is_visible()
        # A rule the builder cannot show: now, and only now, the note is there.
        page.locator("#rrule").fill("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1")
        assert page.locator("#builder-note").is_visible()
        # A start the rule never gives: no dates, and the note that says so.
        page.locator("#rrule").fill("FREQ=WEEKLY;BYDAY=MO")
        page.locator("#preview-empty").wait_for(state="visible")
        assert page.locator("#preview-dates li").count() == 0


@pytest.mark.parametrize(
    ("start", "rule", "first"),
    [
        (
            "2026-12-10T10:00",
            "FREQ=MONTHLY;BYDAY=2TH",
            "ceturtdiena, 2026. gada 10. decembris, 10.00",
        ),
        (
            "2026-12-30T13:00",
            "FREQ=MONTHLY;BYDAY=-1WE",
            "trešdiena, 2026. gada 30. decembris, 13.00",
        ),
    ],
)
def test_a_weekday_of_the_month_comes_from_the_first_start_and_saves(
    page: Any, context: Context, start: str, rule: str, first: str
) -> None:
    with series_form(page, context) as base:
        page.get_by_label("Adrese (slug)").fill("menesa-diena")
        page.get_by_label("Nosaukums latviski").fill("Mēneša diena")
        page.get_by_label("Pirmais sākums").fill(start)
        page.get_by_label("Atkārtojas").select_option("MONTHLY")
        page.get_by_label("mēneša nedēļas dienā").check()
        assert page.locator("#rrule").input_value() == rule
        page.locator("#preview-dates li").nth(9).wait_for()
        assert page.locator("#preview-dates li").first.inner_text() == first
        page.get_by_role("button", name="Saglabāt sēriju").click()
        page.wait_for_url(f"{base}/staff/series/menesa-diena?done=created")
    with context.database.session() as db:
        assert db.scalars(select(Series.rrule).where(Series.slug == "menesa-diena")).one() == rule


def test_an_empty_count_is_a_problem_beside_the_field_and_never_count_1(
    page: Any, context: Context
) -> None:
    with series_form(page, context) as base:
        page.get_by_label("Adrese (slug)").fill("bez-skaita")
        page.get_by_label("Nosaukums latviski").fill("Bez skaita")
        page.get_by_label("Pirmais sākums").fill("2026-12-10T10:00")
        page.get_by_label("pēc noteikta sesiju skaita").check()
        count = page.get_by_label("Sesiju skaits")
        assert count.get_attribute("aria-invalid") == "true"
        assert (
            page.locator("#count-error").inner_text() == "Norādiet veselu skaitli no 1 līdz 1000."
        )
        assert "COUNT" not in page.locator("#rrule").input_value()
        count.fill("6")
        assert page.locator("#rrule").input_value() == "FREQ=WEEKLY;COUNT=6"
        assert count.get_attribute("aria-invalid") is None
        count.fill("")
        page.get_by_role("button", name="Saglabāt sēriju").click()
        page.wait_for_load_state()
        # The server refuses it too, beside the same field, and saves nothing.
        assert page.url == f"{base}/staff/series/new"
        assert "Norādiet veselu skaitli" in page.locator("#count-error").inner_text()
        assert page.get_by_label("Sesiju skaits").get_attribute("aria-invalid") == "true"
    with context.database.session() as db:
        assert db.scalars(select(Series).where(Series.slug == "bez-skaita")).first() is None


def test_the_words_always_say_the_rule_in_the_field(page: Any, context: Context) -> None:
    with series_form(page, context):
        page.get_by_label("Pirmais sākums").fill("2026-12-10T10:00")
        page.get_by_label("Atkārtojas").select_option("WEEKLY")
        words_become(page, "katru nedēļu")
        page.get_by_label("Atkārtojas").select_option("MONTHLY")
        words_become(page, "katru mēnesi")
        page.get_by_label("mēneša nedēļas dienā").check()
        words_become(page, "katru mēnesi: otrā ceturtdiena")
        # A rule whose dates the start does not give still has its words.
        page.locator("#rrule").fill("FREQ=MONTHLY;BYDAY=-1FR")
        words_become(page, "katru mēnesi: pēdējā piektdiena")
        page.get_by_label("pēc noteikta sesiju skaita").check()
        page.get_by_label("Sesiju skaits").fill("4")
        words_become(page, "katru mēnesi: pēdējā piektdiena; pavisam sesiju: 4")
        assert page.locator("#rrule").input_value() == "FREQ=MONTHLY;COUNT=4;BYDAY=-1FR"
