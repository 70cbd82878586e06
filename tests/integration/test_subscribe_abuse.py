"""/subscribe cannot be used to mail-bomb anyone or to fill the directory.

Hostile requests go, at once, to a running `vcs web` from chosen loopback addresses; what counts
is the e-mails the outbox holds afterwards (each would be sent) and the answers.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import func, select
from starlette.testclient import TestClient

from tests.integration.test_feeds import network
from tests.integration.test_login_throttle_concurrent import (
    at_once,
    client_at,
    context_of,
    environment,
    vcs,
    web_server,
)
from tests.mail_factories import mail_context
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.membership import subscriptions
from vcs.storage.models import Delivery, Member
from vcs.web.app import create_app

# subscriptions.max_per_client_per_hour in config/default.toml.
PER_CLIENT = 10
FORM = {
    "name": "Mallory Attacker",
    "municipality": "none",
    "language": "lv",
    "follows": "all",
    "consent": "yes",
}


def form_token(client: httpx.Client | TestClient) -> str:
    page = client.get("/subscribe")
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def sign_up(client: httpx.Client | TestClient, token: str, email: str, **changes: str) -> int:
    data = {**FORM, "email": email, "form_token": token, **changes}
    return client.post("/subscribe", data=data).status_code


def mails(context: Context) -> list[EmailMessage]:
    """The subscription e-mails in the outbox, as their recipients would read them."""
    with context.database.session() as db:
        raws = db.scalars(select(Delivery.raw_message).where(Delivery.kind == "confirmation"))
        found = [message_from_bytes(zlib.decompress(raw), policy=policy.default) for raw in raws]
    assert all(isinstance(message, EmailMessage) for message in found)
    return found


def running(tmp_path: Path, database_url: str) -> dict[str, str]:
    environ = environment(tmp_path, database_url)
    vcs(environ, "init")
    return environ


def after(environ: dict[str, str]) -> Context:
    return context_of(environ)


# -- through a running server ---------------------------------------------------------------------


def test_one_form_posted_a_hundred_times_at_once_sends_one_mail(
    any_database_url: str, tmp_path: Path
) -> None:
    environ = running(tmp_path, any_database_url)
    with web_server(environ) as base:
        client = client_at(base, "127.0.0.11")
        token = form_token(client)
        answers = at_once(
            [partial(sign_up, client, token, f"victim{n}@example.lv") for n in range(100)]
        )
    assert 500 not in answers
    assert answers.count(303) == 1
    context = after(environ)
    try:
        assert len(mails(context)) == 1
    finally:
        context.close()


def test_fresh_forms_from_one_client_get_its_hourly_share_and_no_more(tmp_path: Path) -> None:
    environ = running(tmp_path, f"sqlite:///{tmp_path / 'vcs.sqlite3'}")
    with web_server(environ) as base:
        client = client_at(base, "127.0.0.12")
        tokens = [form_token(client) for _ in range(100)]
        answers = at_once(
            [
                partial(sign_up, client, token, f"victim{n}@example.lv")
                for n, token in enumerate(tokens)
            ]
        )
        elsewhere = client_at(base, "127.0.0.13")
        other_client = sign_up(elsewhere, form_token(elsewhere), "someone@example.lv")
    assert sorted(set(answers)) == [303, 429]
    assert answers.count(303) == PER_CLIENT
    assert other_client == 303  # another client has a share of its own
    context = after(environ)
    try:
        assert len(mails(context)) == PER_CLIENT + 1
    finally:
        context.close()


def test_plus_tags_do_not_multiply_the_mails_to_one_mailbox(tmp_path: Path) -> None:
    environ = running(tmp_path, f"sqlite:///{tmp_path / 'vcs.sqlite3'}")
    with web_server(environ) as base:
        answers = []
        for n in range(1, 9):
            client = client_at(base, f"127.0.1.{n}")
            answers.append(sign_up(client, form_token(client), f"Anna+{n}@Example.lv"))
    assert answers == [303] * 8  # the same answer each time, mail or not
    context = after(environ)
    try:
        to = [message["To"].addresses[0].addr_spec for message in mails(context)]
        assert 1 <= len(to) <= subscriptions.DAILY_LIMIT
        assert all(re.fullmatch(r"anna\+\d@example\.lv", address) for address in to)
    finally:
        context.close()


def test_twenty_sign_ups_for_one_address_at_once_get_one_answer_and_one_mail(
    any_database_url: str, tmp_path: Path
) -> None:
    environ = running(tmp_path, any_database_url)
    with web_server(environ) as base:
        clients = [client_at(base, f"127.0.2.{n}") for n in range(1, 21)]
        tokens = [form_token(client) for client in clients]
        answers = at_once(
            [
                partial(sign_up, client, token, "anna@example.lv")
                for client, token in zip(clients, tokens, strict=True)
            ]
        )
    assert answers == [303] * 20
    context = after(environ)
    try:
        assert len(mails(context)) == 1
        with context.database.session() as db:
            assert db.scalar(select(func.count()).select_from(Member)) == 1
    finally:
        context.close()


def test_the_confirmation_mail_names_nobody(tmp_path: Path) -> None:
    environ = running(tmp_path, f"sqlite:///{tmp_path / 'vcs.sqlite3'}")
    with web_server(environ) as base:
        client = client_at(base, "127.0.0.14")
        assert sign_up(client, form_token(client), "anna@example.lv") == 303
    context = after(environ)
    try:
        [message] = mails(context)
    finally:
        context.close()
    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("", "anna@example.lv")
    for part in message.walk():
        if part.get_content_maintype() == "text":
            assert "Mallory" not in part.get_content()


# -- the rules, with a clock that moves -----------------------------------------------------------


def test_a_mailbox_gets_three_subscription_mails_a_day_whatever_its_tags(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    network(context)
    clock = context.clock
    assert isinstance(clock, FixedClock)
    client = TestClient(create_app(context), follow_redirects=False)
    for n in range(6):
        assert sign_up(client, form_token(client), f"anna+{n}@example.lv") == 303
        clock.advance(subscriptions.RESEND_GAP)
    assert len(mails(context)) == subscriptions.DAILY_LIMIT
    clock.advance(dt.timedelta(days=1))
    assert sign_up(client, form_token(client), "ANNA@example.lv") == 303
    assert len(mails(context)) == subscriptions.DAILY_LIMIT + 1


def test_a_form_sent_twice_says_so_and_sends_nothing_more(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    network(context)
    client = TestClient(create_app(context), follow_redirects=False)
    token = form_token(client)
    assert sign_up(client, token, "anna@example.lv") == 303
    again = client.post(
        "/subscribe", data={**FORM, "email": "other@example.lv", "form_token": token}
    )
    assert again.status_code == 400
    assert "jau ir nosūtīta" in again.text
    assert form_token(client) != token
    assert len(mails(context)) == 1


def test_mailbox_keys_drop_the_tag_and_the_case() -> None:
    assert subscriptions.mailbox_key("Anna.Ozola+vcs@Example.LV") == "anna.ozola@example.lv"
    assert subscriptions.mailbox_key("+only@example.lv") == "+only@example.lv"


def test_the_typed_name_is_shown_for_the_owner_to_confirm(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    network(context)
    client = TestClient(create_app(context), follow_redirects=False)
    assert sign_up(client, form_token(client), "anna@example.lv") == 303
    [message] = mails(context)
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(r"https?://[^/\s]+(/subscribe/confirm/\S+)", str(body.get_content()))
    assert found is not None
    page = client.get(found.group(1))
    assert page.status_code == 200
    assert "Mallory Attacker" in page.text
