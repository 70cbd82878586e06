"""A member link opens only that member, and only while it should; on SQLite and PostgreSQL.

Member links (preferences, data, delete, unsubscribe, the List-Unsubscribe address) carry the
member's id bound to her random link secret; erasing her deletes the secret, and ids are never
given again. Confirmation links work once and never after the member left or was erased. The
links are taken from the e-mails in the outbox and opened through the real web app.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from httpx import Response
from itsdangerous import URLSafeSerializer
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.integration.test_feeds import network
from tests.integration.test_subscriptions import (
    clock,
    confirm_link_in_outbox,
    member,
    subscribe,
)
from tests.mail_factories import mail_context
from vcs.config import database_url
from vcs.context import Context
from vcs.membership import members
from vcs.membership.members import MemberSpec
from vcs.storage import migrate
from vcs.storage.db import make_engine
from vcs.storage.models import Delivery, Digest, Member, Series, Session, StaffUser
from vcs.web.app import create_app

ANNA = "anna.ozola@example.lv"
BERTA = "berta.kalnina@example.lv"
ONE_CLICK = {"content": b"List-Unsubscribe=One-Click",
             "headers": {"Content-Type": "application/x-www-form-urlencoded"}}  # fmt: skip


def installation(tmp_path: Path, url: str) -> tuple[Context, TestClient]:
    context = mail_context(tmp_path, database_url=url)
    network(context)
    return context, TestClient(create_app(context))


def later(context: Context) -> None:
    """A few minutes on, so the next sign-up is not held back as a repeat."""
    clock(context).advance(dt.timedelta(minutes=5))


def latest_mail(context: Context, email: str) -> EmailMessage:
    with context.database.session() as db:
        raw = db.scalars(
            select(Delivery.raw_message)
            .where(Delivery.to_address == email)
            .order_by(Delivery.id.desc())
        ).first()
    assert raw, f"no e-mail to {email}"
    message = message_from_bytes(zlib.decompress(raw), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def member_links(message: EmailMessage) -> dict[str, str]:
    """The member links an e-mail carries: its List-Unsubscribe address and the footer's."""
    part = message.get_body(("plain",))
    assert part is not None
    text = str(part.get_content())
    found = dict(re.findall(r"https://tikls\.example\.lv/(preferences|unsubscribe)/(\S+)", text))
    header = re.search(
        r"<https://tikls\.example\.lv(/unsubscribe/[^>]+)>", message["List-Unsubscribe"]
    )
    assert header is not None and set(found) == {"preferences", "unsubscribe"}
    preferences = f"/preferences/{found['preferences']}"
    return {
        "preferences": preferences,
        "data": f"{preferences}/data.json",
        "delete": f"{preferences}/delete",
        "unsubscribe": f"/unsubscribe/{found['unsubscribe']}",
        "list-unsubscribe": header.group(1),
    }


def subscribed(context: Context, client: TestClient, email: str, name: str) -> Member:
    """A member who signed up and confirmed through the pages."""
    later(context)
    assert subscribe(client, email=email, name=name).status_code == 303
    assert client.post(confirm_link_in_outbox(context, email)).status_code == 200
    found = member(context, email)
    assert found is not None and found.status == "active", found
    return found


def assert_opens_nothing(answer: Response, *private: str) -> None:
    assert answer.status_code == 404, (answer.request.url, answer.status_code)
    for text in private:
        assert text not in answer.text


# -- ids are never given again --------------------------------------------------------------------


def new_row(db: Any, table: str, n: int) -> Any:
    series_id = db.scalars(select(Series.id)).first()
    start = dt.datetime(2027, 1, 1, 10, tzinfo=dt.UTC) + dt.timedelta(days=n)
    row: Any = {
        "members": lambda: Member(email=f"m{n}@example.lv", name="M", feed_token=f"feed-{n}"),
        "staff_users": lambda: StaffUser(email=f"s{n}@example.lv", password_hash="-"),
        "sessions": lambda: Session(
            series_id=series_id, uid=f"extra-{n}@vcs", start=start, end=start
        ),
        "digests": lambda: Digest(period_start=start, period_end=start),
    }[table]()
    db.add(row)
    db.flush()
    return row


@pytest.mark.parametrize("table", ["members", "staff_users", "sessions", "digests"])
def test_the_id_of_a_deleted_row_is_never_given_again(
    tmp_path: Path, any_database_url: str, table: str
) -> None:
    context, _client = installation(tmp_path, any_database_url)
    with context.database.session() as db:
        newest = new_row(db, table, 1)
        deleted_id = newest.id
    with context.database.session() as db:
        db.delete(db.get(type(newest), deleted_id))
    with context.database.session() as db:
        assert new_row(db, table, 2).id > deleted_id


def test_an_erased_member_s_old_e_mail_opens_nothing_of_the_next_member(
    tmp_path: Path, any_database_url: str
) -> None:
    context, client = installation(tmp_path, any_database_url)
    anna = subscribed(context, client, ANNA, "Anna Ozola")
    old = member_links(latest_mail(context, ANNA))
    assert client.get(old["preferences"]).status_code == 200
    assert client.post(old["delete"]).status_code == 200  # "delete me"
    assert member(context, ANNA) is None

    berta = subscribed(context, client, BERTA, "Berta Kalniņa")
    assert berta.id != anna.id
    private = ("Berta", BERTA, berta.feed_token)
    for name in ("preferences", "data", "delete", "unsubscribe", "list-unsubscribe"):
        assert_opens_nothing(client.get(old[name]), *private)
    assert_opens_nothing(client.post(old["list-unsubscribe"], **ONE_CLICK), *private)
    assert_opens_nothing(client.post(old["unsubscribe"]), *private)
    assert_opens_nothing(
        client.post(old["preferences"], data={"language": "en", "follows": "all"}), *private
    )
    assert_opens_nothing(client.post(old["preferences"] + "/feed"), *private)
    assert_opens_nothing(client.post(old["delete"]), *private)
    after = member(context, BERTA)
    assert after is not None
    assert (after.status, after.language, after.feed_token) == ("active", "lv", berta.feed_token)
    assert "dzēsta" in client.get(old["preferences"]).text  # it says what happened


def test_knowing_the_signing_key_does_not_open_a_member_s_page(
    tmp_path: Path, any_database_url: str
) -> None:
    context, client = installation(tmp_path, any_database_url)
    anna = subscribed(context, client, ANNA, "Anna Ozola")
    # With the key (a leaked one, or the development secret) anyone can sign what they like.
    signer = URLSafeSerializer(context.settings.signing_key, salt="vcs.mail.member-links")
    id_only, wrong_secret = signer.dumps(anna.id), signer.dumps([anna.id, "guessed"])
    for token in (id_only, wrong_secret):
        for path in (f"/preferences/{token}", f"/unsubscribe/{token}"):
            assert_opens_nothing(client.get(path), "Anna", ANNA, anna.feed_token)
        assert_opens_nothing(client.post(f"/unsubscribe/{token}", **ONE_CLICK))
        assert_opens_nothing(client.post(f"/preferences/{token}/delete"))
    # A link from before links were bound says it is old, not that she was deleted.
    outdated = client.get(f"/preferences/{id_only}")
    assert "dzēsta" not in outdated.text and "pieteikšanās veidlapā" in outdated.text
    found = member(context, ANNA)
    assert found is not None and found.status == "active"
    assert client.get(member_links(latest_mail(context, ANNA))["preferences"]).status_code == 200


# -- confirmation links work once, and never after the member left --------------------------------


def test_a_confirmation_link_works_once(tmp_path: Path, any_database_url: str) -> None:
    context, client = installation(tmp_path, any_database_url)
    assert subscribe(client).status_code == 303
    link = confirm_link_in_outbox(context, ANNA)
    assert client.post(link, follow_redirects=False).status_code == 303
    for answer in (client.get(link), client.post(link, follow_redirects=False)):
        assert answer.status_code == 410
        assert "jau ir izmantota" in answer.text

    # After she unsubscribes, the used link does not bring her back.
    assert client.post(member_links(latest_mail(context, ANNA))["unsubscribe"]).status_code == 200
    assert client.post(link, follow_redirects=False).status_code == 410
    found = member(context, ANNA)
    assert found is not None and found.status == "unsubscribed"


def test_an_unsubscribe_withdraws_the_confirmation_links_sent_before_it(
    tmp_path: Path, any_database_url: str
) -> None:
    context, client = installation(tmp_path, any_database_url)
    assert subscribe(client).status_code == 303
    link = confirm_link_in_outbox(context, ANNA)
    one_click = member_links(latest_mail(context, ANNA))["list-unsubscribe"]
    assert client.post(one_click, **ONE_CLICK).status_code == 200  # before she confirmed

    for answer in (client.get(link), client.post(link, follow_redirects=False)):
        assert answer.status_code == 410
        assert "Piesakieties vēlreiz" in answer.text
    found = member(context, ANNA)
    assert found is not None and found.status == "unsubscribed" and found.consent_at is None

    # She can still come back: a link sent after the unsubscribe works.
    later(context)
    assert subscribe(client).status_code == 303
    assert client.post(confirm_link_in_outbox(context, ANNA)).status_code == 200
    back = member(context, ANNA)
    assert back is not None and back.status == "active"


def test_a_confirmation_link_does_not_recreate_an_erased_member(
    tmp_path: Path, any_database_url: str
) -> None:
    context, client = installation(tmp_path, any_database_url)
    assert subscribe(client).status_code == 303
    unused = confirm_link_in_outbox(context, ANNA)
    later(context)
    anna = subscribed(context, client, ANNA, "Anna Ozola")
    used = confirm_link_in_outbox(context, ANNA)
    assert used != unused
    assert client.post(member_links(latest_mail(context, ANNA))["delete"]).status_code == 200

    for link in (unused, used):
        answer = client.post(link, follow_redirects=False)
        assert answer.status_code == 410, link
        assert member(context, ANNA) is None
    # Nor a later sign-up at the same address: the new member is not the one the link was for.
    later(context)
    assert subscribe(client).status_code == 303
    pending = member(context, ANNA)
    assert pending is not None and pending.id != anna.id
    assert client.post(used, follow_redirects=False).status_code == 410
    still = member(context, ANNA)
    assert still is not None and still.status == "pending"


# -- the upgrade -----------------------------------------------------------------------------------


def test_the_upgrade_gives_existing_members_secrets_and_keeps_their_data(
    tmp_path: Path, any_database_url: str
) -> None:
    engine = make_engine(database_url(any_database_url))
    migrate.upgrade(engine, "0008")
    meta = sa.MetaData()
    meta.reflect(engine)
    t = meta.tables
    with engine.begin() as connection:
        region = connection.execute(
            t["regions"].insert().values(slug="r", name_lv="R", name_en="R")
        ).inserted_primary_key[0]
        stamp = dt.datetime(2026, 1, 1)
        ids = []
        for n in range(3):
            ids.append(connection.execute(
                t["members"].insert().values(
                    email=f"m{n}@example.lv", name="M", phone="", organisation="", position="",
                    language="lv", follows_all=False, status="active", consent_source="",
                    consent_text="", feed_token=f"feed-{n}", bounce_count=0,
                    created_at=stamp, updated_at=stamp,
                )
            ).inserted_primary_key[0])  # fmt: skip
            connection.execute(
                t["member_regions"].insert().values(member_id=ids[-1], region_id=region)
            )
            connection.execute(
                t["deliveries"].insert().values(
                    kind="test", ref="r", member_id=ids[-1], to_address=f"m{n}@example.lv",
                    language="lv", status="sent", attempts=1, last_error="", message_id="",
                    created_at=stamp, raw_message=b"",
                )
            )  # fmt: skip
        # An id the audit log knows, of a member erased before the upgrade.
        connection.execute(
            t["audit_log"]
            .insert()
            .values(at=stamp, actor="x", action="erase", entity="member", entity_id="40")
        )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        secrets = dict(connection.execute(sa.text("SELECT id, link_secret FROM members")).all())
        assert set(secrets) == set(ids)
        assert len(set(secrets.values())) == 3 and all(len(s) >= 16 for s in secrets.values())
        assert connection.execute(sa.text("SELECT count(*) FROM member_regions")).scalar() == 3
        kept = connection.execute(sa.text("SELECT member_id FROM deliveries")).scalars().all()
        assert sorted(kept) == sorted(ids)
    engine.dispose()

    context = mail_context(tmp_path, database_url=any_database_url)
    with context.database.session() as db:
        newest = db.get_one(Member, max(ids))
        members.erase_member(db, newest, actor="test")
    with context.database.session() as db:
        spec = MemberSpec(email="jauns@example.lv", name="Jauns")
        created = members.create_member(db, spec, actor="test")
        assert created.id > max(ids)
        if any_database_url.startswith("sqlite"):
            assert created.id > 40
    context.close()
