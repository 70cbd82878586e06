"""Digest details on the staff pages (issue 15, item 5): a warning while the English version is
incomplete; the test e-mail marked as a test in its subject, with footer links that open; words
instead of codes in the member list and the audit log."""

from __future__ import annotations

import re
import zlib
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.factories import NATIONAL
from tests.integration.test_digest import staff_client
from tests.integration.test_staff_access import ADMIN, csrf_of, first_session, log_in, staff_site
from tests.integration.test_staff_members import add_members
from vcs import digest as digests
from vcs.membership.members import MemberSpec, create_members
from vcs.planning import sessions
from vcs.storage.models import Delivery


def test_the_page_warns_while_the_english_version_is_incomplete(tmp_path: Path) -> None:
    context, client, digest_id, _token = staff_client(tmp_path)
    with context.database.session() as db:
        digest = digests.get(db, digest_id)
        digests.add_item(
            db, digest, "test", title_lv="Konkurss", title_en="Contest", body_lv="Teksts.",
            body_en="", link="",
        )  # fmt: skip
        digests.update_text(db, digest, "test", subject_en="Info-letter", intro_lv="Sveiki!")
    page = client.get(f"/staff/digests/{digest_id}").text
    warning = page[page.index('id="english-gaps"') :]
    warning = warning[: warning.index("</div>")]
    assert "Angļu valodas versija nav pilnīga." in warning
    assert re.findall(r"<li>([^<]+)</li>", warning) == ["Ievads", "1. ziņa: Teksts"]
    with context.database.session() as db:
        digest = digests.get(db, digest_id)
        digests.update_text(db, digest, "test", intro_en="Hello!")
        digests.update_item(
            db, digest, digest.items[0].id, "test", title_lv="Konkurss", title_en="Contest",
            body_lv="Teksts.", body_en="Text.", link="",
        )  # fmt: skip
    assert 'id="english-gaps"' not in client.get(f"/staff/digests/{digest_id}").text


@pytest.mark.parametrize(("lang", "mark"), [("lv", "[IZMĒĢINĀJUMS] "), ("en", "[TEST] ")])
@pytest.mark.parametrize("is_member", [False, True])
def test_the_test_e_mail_is_marked_and_its_footer_links_open(
    tmp_path: Path, lang: str, mark: str, is_member: bool
) -> None:
    context, client, digest_id, token = staff_client(tmp_path)
    if is_member:
        with context.database.session() as db:
            create_members(db, [MemberSpec("redaktore@example.lv", "Redaktore")], "test")
    answer = client.post(
        f"/staff/digests/{digest_id}/test", data={"csrf_token": token, "language": lang}
    )
    assert answer.status_code == 303
    with context.database.session() as db:
        raw = db.scalars(select(Delivery.raw_message).where(Delivery.kind == "test")).one()
    message = message_from_bytes(zlib.decompress(raw), policy=policy.default)
    assert str(message["Subject"]).startswith(mark)
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    # The footer ends the e-mail: the site, then "choose what you receive", then "unsubscribe".
    links = re.findall(r"https?://\S+", text)[-3:]
    for link in links:
        path = urlsplit(link).path or "/"
        assert client.get(path).status_code == 200, link
    assert any("/unsubscribe/" in link for link in links) is is_member


def test_the_member_list_and_the_audit_log_say_words_not_codes(
    context: object, tmp_path: Path
) -> None:
    from vcs.context import Context

    assert isinstance(context, Context)
    client = staff_site(context, tmp_path)
    add_members(context)
    log_in(client, ADMIN)
    with context.database.session() as db:
        sessions.cancel(db, sessions.get(db, first_session(context)), "Slimība", "test")
    page = client.get("/staff/members").text
    listed = page[page.index("<table") : page.index("</table>")]
    assert f"series:{NATIONAL}" not in listed and ">all<" not in listed
    assert "Jaunatnes lietu speciālistu videokonferences" in listed
    log = client.get("/staff/audit").text
    assert "Sesija 1: atcelšana" in log
    assert "<code>cancel</code>" not in log
    assert f"series:{NATIONAL}" not in log
    assert csrf_of(log)
