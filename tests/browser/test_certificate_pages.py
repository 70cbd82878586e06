"""Certificates in Chromium (issue 17): the verification page and the member's list pass axe's
WCAG 2.1 AA checks in both languages; the screenshots in docs/ are made here."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_public_pages_a11y import axe_violations
from tests.factories import live_server
from tests.integration.test_certificates import attend, certificate_of, network, release
from tests.mail_factories import add_members, mail_context
from vcs.certificates import issue
from vcs.context import Context
from vcs.mail import links
from vcs.paths import PROJECT_DIR
from vcs.storage.models import Member

pytestmark = pytest.mark.browser
SCREENSHOTS = PROJECT_DIR / "docs" / "screenshots"


def certified(context: Context, tmp_path: Path) -> dict[str, str]:
    """A member with certificates of three sessions, one revoked: paths of every page."""
    found = network(context, tmp_path)
    [member] = add_members(context, 1)
    for key in ("december", "vidzeme", "january"):
        attend(context, found[key], "biedrs0@example.lv", "Ērika Ūdre", member_id=member)
        release(context, found[key])
    genuine = certificate_of(context, "biedrs0@example.lv", found["vidzeme"]).code
    revoked = certificate_of(context, "biedrs0@example.lv", found["january"]).code
    with context.database.session() as db:
        issue.revoke(db, context.clock, revoked, "staff@example.lv", "")
        holder = db.get(Member, member)
        assert holder is not None
        preferences = links.preferences_url(context.settings, holder)
    return {
        "genuine": f"/certificates/{genuine}",
        "revoked": f"/certificates/{revoked}",
        "unknown": "/certificates/2345-6789-ABCD",
        "preferences": preferences.removeprefix(context.settings.base_url),
        "code": genuine,
    }


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_certificate_pages_have_no_wcag_aa_violations(page: Any, tmp_path: Path, lang: str) -> None:
    context = mail_context(tmp_path)
    paths = certified(context, tmp_path)
    with live_server(context) as base:
        for name in ("genuine", "revoked", "unknown", "preferences"):
            page.goto(f"{base}{paths[name]}?lang={lang}")
            assert page.locator("html").get_attribute("lang") == lang
            assert axe_violations(page) == [], name
        page.set_viewport_size({"width": 375, "height": 800})
        for name in ("genuine", "preferences"):
            page.goto(f"{base}{paths[name]}?lang={lang}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, name  # nothing wider than a phone


def test_screenshots_of_a_certificate_and_its_verification_page(
    browser: Any, tmp_path: Path
) -> None:
    """Writes docs/screenshots/certificate.png and certificate-verification.png when
    VCS_WRITE_SCREENSHOTS=1; else a temporary folder, so the run still proves both render."""
    folder = SCREENSHOTS if os.environ.get("VCS_WRITE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    context = mail_context(tmp_path)
    paths = certified(context, tmp_path)
    pdf = tmp_path / "certificate.pdf"
    with context.database.session() as db:
        found = issue.find(db, paths["code"])
        assert found is not None
        from vcs.certificates import document

        pdf.write_bytes(document.render(context.settings, found, found.session))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "70", "-singlefile", str(pdf), str(folder / "certificate")],
        check=True,
    )
    assert (folder / "certificate.png").read_bytes().startswith(b"\x89PNG")

    with live_server(context) as base:
        shot = browser.new_context(
            viewport={"width": 1000, "height": 720}, locale="lv-LV", timezone_id="Europe/Riga"
        )
        page = shot.new_page()
        page.goto(f"{base}{paths['genuine']}?lang=lv")
        target = folder / "certificate-verification.png"
        page.screenshot(path=str(target))
        shot.close()
    assert target.read_bytes().startswith(b"\x89PNG")


def test_the_staff_certificate_section_and_records_form_have_no_wcag_aa_violations(
    page: Any, tmp_path: Path
) -> None:
    from tests.integration.test_staff_access import EDITOR, PASSWORD, add_staff

    # The browser speaks plain HTTP to the test server, so the installation says it does too.
    context = mail_context(tmp_path, VCS_BASE_URL="http://127.0.0.1:8000")
    paths = certified(context, tmp_path)
    add_staff(context, EDITOR, "editor")
    with context.database.session() as db:
        found = issue.find(db, paths["code"])
        assert found is not None
        session = found.session_id
    with live_server(context) as base:
        page.goto(f"{base}/staff/login")
        page.get_by_label("E-pasta adrese").fill(EDITOR)
        page.get_by_label("Parole").fill(PASSWORD)
        page.get_by_role("button", name="Pieteikties").click()
        page.wait_for_url(f"{base}/staff")
        page.goto(f"{base}/staff/sessions/{session}")
        page.get_by_role("heading", name="Apliecinājumi par dalību").wait_for()
        assert axe_violations(page) == []
        page.goto(f"{base}/staff/series/vidzemes-pieredzes-apmainas-tiksanas/records")
        assert axe_violations(page) == []
