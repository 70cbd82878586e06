"""Consequences before destructive actions (issue 15, item 4), in Chromium: cancelling and moving
a session, deleting a digest item and sending a digest each ask first, saying what will happen
with the numbers from the data; going back changes nothing, "yes" does it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import live_server
from tests.browser.test_public_pages_a11y import axe_violations
from tests.factories import NOW
from tests.integration.test_staff_access import EDITOR, PASSWORD, first_session, staff_site
from vcs import digest as digests
from vcs.context import Context
from vcs.mail.compose import MailKind
from vcs.membership.members import MemberSpec, create_members
from vcs.storage.models import Delivery, DigestItem, Member, Session

pytestmark = pytest.mark.browser


def members(context: Context, count: int) -> list[int]:
    """`count` active members; their ids."""
    specs = [
        MemberSpec(f"biedrs{n}@example.lv", f"Biedrs {n}", status="active") for n in range(count)
    ]
    with context.database.session() as db:
        create_members(db, specs, "test")
        return list(db.scalars(select(Member.id).order_by(Member.id)))


def announced(context: Context, session: int, member_ids: list[int], status: str = "sent") -> None:
    """The session's announcement as the outbox would have it for these members."""
    with context.database.session() as db:
        for member_id in member_ids:
            db.add(
                Delivery(
                    kind=MailKind.ANNOUNCEMENT,
                    ref=f"session:{session}",
                    member_id=member_id,
                    to_address=f"m{member_id}@example.lv",
                    status=status,
                    created_at=NOW,
                )
            )


def log_in(page: Any, base: str) -> None:
    page.goto(f"{base}/staff/login")
    page.get_by_label("E-pasta adrese").fill(EDITOR)
    page.get_by_label("Parole").fill(PASSWORD)
    page.get_by_role("button", name="Pieteikties").click()
    page.wait_for_url(f"{base}/staff")


def consequences(page: Any) -> str:
    return page.locator(".confirm__consequences").inner_text()


def test_cancelling_says_how_many_members_are_e_mailed_and_takes_two_reasons(
    page: Any, context: Context, tmp_path: Path
) -> None:
    staff_site(context, tmp_path)
    session = first_session(context)
    ids = members(context, 24)
    announced(context, session, ids[:21])
    announced(context, session, ids[21:], status="cancelled")  # unsubscribed before it went
    with live_server(context) as base:
        log_in(page, base)
        page.goto(f"{base}/staff/sessions/{session}")
        page.get_by_label("Iemesls latviski, kā to lasīs dalībnieki un skatītāji").fill(
            "Lektore saslima"
        )
        page.get_by_label("Iemesls angliski").fill("The speaker is ill")
        page.get_by_role("button", name="Atcelt sesiju").click()
        page.get_by_role("heading", name="Atcelt sesiju?").wait_for()
        said = consequences(page)
        # 21 takes the singular in Latvian (as 1 and 31 do).
        assert "21 dalībniekam, kurš saņēma paziņojumu, tiks nosūtīts e-pasts." in said
        assert "Iemesls angliski: The speaker is ill" in said
        assert axe_violations(page) == [], "confirmation"
        # Going back changes nothing.
        page.get_by_role("link", name="Nē, atpakaļ").click()
        page.wait_for_url(f"{base}/staff/sessions/{session}")
        with context.database.session() as db:
            assert db.get(Session, session).status == "scheduled"
        page.get_by_label("Iemesls latviski, kā to lasīs dalībnieki un skatītāji").fill(
            "Lektore saslima"
        )
        page.get_by_label("Iemesls angliski").fill("The speaker is ill")
        page.get_by_role("button", name="Atcelt sesiju").click()
        page.get_by_role("button", name="Jā, atcelt sesiju").click()
        page.wait_for_url(f"{base}/staff/sessions/{session}?done=cancelled")
        page.goto(f"{base}/sessions/{session}?lang=en")
        assert "The speaker is ill" in page.locator(".notice--cancelled").inner_text()
        page.goto(f"{base}/sessions/{session}?lang=lv")
        assert "Lektore saslima" in page.locator(".notice--cancelled").inner_text()


def test_moving_says_the_new_time_in_a_sentence_and_who_is_told(
    page: Any, context: Context, tmp_path: Path
) -> None:
    staff_site(context, tmp_path)
    session = first_session(context)
    announced(context, session, members(context, 2))
    with live_server(context) as base:
        log_in(page, base)
        page.goto(f"{base}/staff/sessions/{session}")
        page.get_by_label("Jaunais sākums").fill("2026-12-11T14:00")
        page.get_by_role("button", name="Pārcelt sesiju").click()
        page.get_by_role("heading", name="Pārcelt sesiju?").wait_for()
        said = consequences(page)
        assert "notiks piektdien, 2026. gada 11. decembrī, 14.00, nevis ceturtdien" in said
        assert "2 dalībniekiem, kuri saņēma paziņojumu, tiks nosūtīts e-pasts." in said
        page.get_by_role("button", name="Jā, pārcelt sesiju").click()
        page.wait_for_url(f"{base}/staff/sessions/{session}?done=moved")


def test_sending_a_digest_says_how_many_members_it_goes_to_and_deleting_an_item_asks(
    page: Any, context: Context, tmp_path: Path
) -> None:
    staff_site(context, tmp_path)
    members(context, 3)
    with context.database.session() as db:
        digest, _created = digests.draft(db, context.settings, NOW, EDITOR)
        for title in ("Pirmā ziņa", "Otrā ziņa"):
            digests.add_item(
                db,
                digest,
                EDITOR,
                title_lv=title,
                title_en="",
                body_lv="Teksts.",
                body_en="",
                link="",
            )
        digest_id = digest.id
    with live_server(context) as base:
        log_in(page, base)
        page.goto(f"{base}/staff/digests/{digest_id}")
        page.get_by_role("form", name="2. ziņa").get_by_role("button", name="Dzēst ziņu").click()
        page.get_by_role("heading", name="Dzēst ziņu?").wait_for()
        assert "Ziņa „Otrā ziņa“ tiks izdzēsta no šī apkopojuma." in consequences(page)
        page.get_by_role("button", name="Jā, dzēst ziņu").click()
        page.wait_for_url(f"{base}/staff/digests/{digest_id}?done=item")
        with context.database.session() as db:
            titles = db.scalars(
                select(DigestItem.title_lv).where(DigestItem.digest_id == digest_id)
            )
            assert list(titles) == ["Pirmā ziņa"]

        page.get_by_role("button", name="Nosūtīt tagad").click()
        page.get_by_role("heading", name="Nosūtīt „", exact=False).wait_for()
        assert "Apkopojums tiks nosūtīts 3 dalībniekiem." in consequences(page)
        assert axe_violations(page) == [], "send confirmation"
        with context.database.session() as db:
            assert digests.get(db, digest_id).status == "draft"
        page.get_by_role("button", name="Jā, nosūtīt tagad").click()
        page.wait_for_url(f"{base}/staff/digests/{digest_id}?done=sent")
        with context.database.session() as db:
            assert digests.get(db, digest_id).status == "sent"
