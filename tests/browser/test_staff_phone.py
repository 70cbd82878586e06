"""Every staff page on a phone (issue 15, item 6): at 375 px nothing scrolls sideways, and
axe-core still finds no WCAG 2.1 AA violation. The pages are read from the staff routes, so a
new page is checked without anyone adding it here."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import live_server
from tests.browser.test_public_pages_a11y import axe_violations
from tests.factories import NATIONAL, NOW
from tests.integration.test_staff_access import ADMIN, PASSWORD, first_session, staff_site
from tests.integration.test_staff_members import add_members
from vcs import digest as digests
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.membership.members import Follows, MemberSpec, create_members
from vcs.paths import PROJECT_DIR
from vcs.storage.models import JobRun
from vcs.web.staff import routes

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 800}
SCREENSHOTS = PROJECT_DIR / "docs" / "screenshots"
# GET routes that are not pages of the staff layout: JSON, the e-mail itself, a CSV download.
NOT_PAGES = {
    "/staff/series/preview",
    "/staff/digests/{digest_id:int}/preview",
    "/staff/members/export",
    "/staff/sessions/{session_id:int}/registrations.csv",
    "/staff/sessions/{session_id:int}/attendance-sheet.pdf",
    "/staff/certificates/{code}.pdf",
}


def staff_pages(session: int, digest: int) -> list[str]:
    """Every page of the staff area, its path parameters filled in."""
    values = {"{session_id:int}": str(session), "{digest_id:int}": str(digest), "{slug}": NATIONAL}
    found = []
    for route in routes:
        if "GET" not in (getattr(route, "methods", None) or ()) or route.path in NOT_PAGES:
            continue
        path = route.path
        for name, value in values.items():
            path = path.replace(name, value)
        assert "{" not in path, f"fill in the parameter of {route.path}"
        found.append(path)
    return found


def wide_site(context: Context, tmp_path: Path) -> tuple[int, int]:
    """The staff site with long names, long addresses and a member who follows a lot (the
    things that pushed the member list to 869 px), and a digest with an item."""
    staff_site(context, tmp_path)
    add_members(context)
    long = MemberSpec(
        "kristiana.ozolina-berzina.jaunatnes.lietu.specialiste@valmieras-novada-pasvaldiba.lv",
        "Kristiāna Ozoliņa-Bērziņa-Kalniņa",
        municipality="valmieras-novads",
        follows=Follows(False, frozenset({NATIONAL})),
    )
    with context.database.session() as db:
        create_members(db, [long], "test")
        digest, _created = digests.draft(db, context.settings, NOW, "redaktore@example.lv")
        digests.add_item(
            db,
            digest,
            "redaktore@example.lv",
            title_lv="Jauniešu iniciatīvu konkurss",
            title_en="",
            body_lv="Pieteikumi līdz **15. janvārim**: https://www.jaunatnes-lietu-ministrija.example.lv/konkursi/2027/jauniesu-iniciativas",
            body_en="",
            link="https://www.jaunatnes-lietu-ministrija.example.lv/konkursi/2027/jauniesu-iniciativas",
        )
        digest_id = digest.id
    return first_session(context), digest_id


def test_no_staff_page_scrolls_sideways_on_a_phone(
    page: Any, context: Context, tmp_path: Path
) -> None:
    session, digest = wide_site(context, tmp_path)
    page.set_viewport_size(PHONE)
    widths: dict[str, int] = {}
    violations: dict[str, list[str]] = {}
    with live_server(context) as base:
        page.goto(f"{base}/staff/login")
        widths["/staff/login"] = page.evaluate("document.documentElement.scrollWidth")
        page.get_by_label("E-pasta adrese").fill(ADMIN)
        page.get_by_label("Parole").fill(PASSWORD)
        page.get_by_role("button", name="Pieteikties").click()
        page.wait_for_url(f"{base}/staff")
        for path in staff_pages(session, digest):
            response = page.goto(f"{base}{path}")
            assert response is not None and response.status == 200, path
            widths[path] = page.evaluate("document.documentElement.scrollWidth")
            found = axe_violations(page)
            if found:
                violations[path] = found
    assert {path: width for path, width in widths.items() if width > PHONE["width"]} == {}
    assert violations == {}
    assert len(widths) >= 10


def test_screenshots_of_the_dashboard_and_the_digest_editor(
    browser: Any, context: Context, tmp_path: Path
) -> None:
    """Writes docs/screenshots/ when VCS_WRITE_SCREENSHOTS=1 (docs/staff.md shows them); else a
    temporary folder, so the run still proves the pages render at both widths."""
    staff_site(context, tmp_path)
    add_members(context)
    # The week of the first session, so the dashboard has a week to show.
    now = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
    context.clock = FixedClock(now)
    with context.database.session() as db:
        for minutes in range(30):
            at = now - dt.timedelta(minutes=minutes)
            db.add(JobRun(job="send-outbox", started_at=at, outcome="ok", summary="nothing due"))
        db.add(JobRun(job="provision", started_at=now, outcome="failed", error="quota exceeded"))
        digest, _created = digests.draft(db, context.settings, now, "redaktore@example.lv")
        digests.add_item(
            db, digest, "redaktore@example.lv", title_lv="Jauniešu iniciatīvu konkurss",
            title_en="", body_lv="Pieteikumi līdz **15. janvārim**.", body_en="", link="",
        )  # fmt: skip
        digest_id = digest.id
    folder = SCREENSHOTS if os.environ.get("VCS_WRITE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    with live_server(context) as base:
        for width, height in ((1280, 900), (375, 1100)):
            shot = browser.new_context(
                viewport={"width": width, "height": height},
                locale="lv-LV",
                timezone_id="Europe/Riga",
            )
            page = shot.new_page()
            page.goto(f"{base}/staff/login")
            page.get_by_label("E-pasta adrese").fill(ADMIN)
            page.get_by_label("Parole").fill(PASSWORD)
            page.get_by_role("button", name="Pieteikties").click()
            page.wait_for_url(f"{base}/staff")
            for name, path in (
                ("dashboard", "/staff"),
                ("digest-editor", f"/staff/digests/{digest_id}"),
            ):
                page.goto(f"{base}{path}?lang=lv")
                target = folder / f"{name}-lv-{width}.png"
                page.screenshot(path=str(target))
                assert target.read_bytes().startswith(b"\x89PNG")
            shot.close()
