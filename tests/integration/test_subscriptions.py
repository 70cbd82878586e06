"""Self-service: subscribe, confirm, preferences, the personal feed, unsubscribe, my data, erasure.

The end-to-end test runs the real outbox sender into a real SMTP server (aiosmtpd) and follows
the links in the messages that arrive, as a member would.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import icalendar
from httpx import Response
from sqlalchemy import func, select
from starlette.testclient import TestClient

from tests.factories import VIDZEME, import_entries, session_id, vidzeme
from tests.integration.test_feeds import network
from tests.mail_factories import greeting, mail_context, smtp_server
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.mail import links, outbox
from vcs.mail.compose import MailKind
from vcs.mail.sender import Sender
from vcs.membership import subscriptions
from vcs.planning import registrations
from vcs.storage.models import Attendance, Certificate, Delivery, Member, Registration
from vcs.web.app import create_app

FORM = {
    "name": "Anna Ozola",
    "email": "Anna.Ozola@Example.lv",
    "municipality": "liepaja",
    "language": "lv",
    "follows": "chosen",
    "series": "vk",
    "consent": "yes",
}


@contextmanager
def installation(tmp_path: Path) -> Iterator[tuple[Context, TestClient, Any]]:
    """The test network behind a real SMTP server: (context, web client, the server's sink)."""
    with smtp_server() as (sink, port):
        context = mail_context(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        network(context)
        yield context, TestClient(create_app(context)), sink
        context.close()


def offline(tmp_path: Path) -> tuple[Context, TestClient]:
    """The test network writing mail to a folder: for tests that only read the outbox."""
    context = mail_context(tmp_path)
    network(context)
    return context, TestClient(create_app(context))


def clock(context: Context) -> FixedClock:
    assert isinstance(context.clock, FixedClock)
    return context.clock


def subscribe(client: TestClient, **changes: Any) -> Response:
    """Open /subscribe, fill in FORM (with changes) and send it, as a browser does."""
    page = client.get("/subscribe")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert token is not None
    return client.post(
        "/subscribe", data={"form_token": token.group(1), **FORM, **changes}, follow_redirects=False
    )


def member(context: Context, email: str = "anna.ozola@example.lv") -> Member | None:
    with context.database.session() as db:
        found = db.scalars(select(Member).where(Member.email == email)).first()
        if found is not None:
            db.expunge(found)
        return found


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def path_of(url: str) -> str:
    return urlsplit(url).path


def confirm_link(message: EmailMessage) -> str:
    found = re.search(r"https://tikls\.example\.lv(/subscribe/confirm/\S+)", text_of(message))
    assert found is not None, text_of(message)
    return found.group(1)


def queued(context: Context, kind: str = MailKind.CONFIRMATION) -> list[Delivery]:
    with context.database.session() as db:
        found = list(db.scalars(select(Delivery).where(Delivery.kind == kind)))
        db.expunge_all()
        return found


def confirm_link_in_outbox(context: Context, email: str = "anna.ozola@example.lv") -> str:
    """The link in the latest confirmation queued for `email`."""
    with context.database.session() as db:
        raw = db.scalars(
            select(Delivery.raw_message)
            .where(Delivery.to_address == email, Delivery.ref.startswith("confirm:"))
            .order_by(Delivery.id.desc())
        ).first()
    assert raw is not None
    message = message_from_bytes(zlib.decompress(raw), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return confirm_link(message)


def active_member(context: Context, client: TestClient) -> Member:
    """Anna, subscribed and confirmed through the pages."""
    assert subscribe(client).status_code == 303
    path = confirm_link_in_outbox(context)
    assert client.post(path, follow_redirects=False).status_code == 303
    found = member(context)
    assert found is not None and found.status == "active"
    return found


def preferences_path(context: Context, member: Member) -> str:
    return path_of(links.preferences_url(context.settings, member))


# -- the whole way, through a real SMTP server ----------------------------------------------------


def test_subscribe_confirm_preferences_feed_and_one_click_unsubscribe_end_to_end(
    tmp_path: Path,
) -> None:
    with installation(tmp_path) as (context, client, sink):
        answer = subscribe(client)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/subscribe/sent"
        pending = member(context)
        assert pending is not None and pending.status == "pending"

        assert Sender(context).run().sent == 1
        [confirmation] = sink.received()
        assert confirmation["To"].addresses[0].addr_spec == "anna.ozola@example.lv"
        assert "Apstipriniet" in confirmation["Subject"]
        path = confirm_link(confirmation)

        page = client.get(path)
        assert page.status_code == 200
        assert "Apstiprināt pieteikumu" in page.text
        assert member(context).status == "pending"  # type: ignore[union-attr]

        confirmed = client.post(path, follow_redirects=False)
        assert confirmed.status_code == 303
        anna = member(context)
        assert anna is not None and anna.status == "active"
        assert anna.consent_source == "web form"
        assert anna.consent_at == context.clock.now()
        assert anna.consent_text == subscriptions.consent_text("lv")

        preferences = client.get(confirmed.headers["location"])
        assert preferences.status_code == 200
        assert preferences.headers["cache-control"] == "no-store"
        feed_url = f"https://tikls.example.lv/feeds/{anna.feed_token}.ics"
        assert feed_url in preferences.text
        assert "webcal://tikls.example.lv/feeds/" in preferences.text

        feed = client.get(path_of(feed_url))
        assert feed.status_code == 200
        summaries = [
            str(event["SUMMARY"])
            for event in icalendar.Calendar.from_ical(feed.content).walk("VEVENT")
        ]
        assert summaries
        assert all("Jaunatnes lietu" in summary for summary in summaries), summaries

        # An announcement to the active members, as the announcement job sends one.
        with context.database.session() as db:
            outbox.enqueue_for_members(
                db,
                context.settings,
                kind="announcement",
                ref="session:1:rev0",
                members=db.scalars(select(Member).where(Member.status == "active")),
                compose=greeting,
                now=context.clock.now(),
            )
        assert Sender(context).run().sent == 1
        announcement = sink.received()[-1]
        assert announcement["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https = re.search(r"<(https://[^>]+)>", str(announcement["List-Unsubscribe"]))
        assert https is not None

    # RFC 8058: the mail provider POSTs, with no cookie and no other token.
    provider = TestClient(create_app(context))
    one_click = provider.post(
        path_of(https.group(1)),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    assert member(context).status == "unsubscribed"  # type: ignore[union-attr]


# -- what the form reveals and how it is guarded ---------------------------------------------------


def test_the_form_answers_the_same_whoever_the_address_belongs_to(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    answers = [subscribe(client, email="jauns@example.lv")]
    active_member(context, client)
    clock(context).advance(subscriptions.RESEND_GAP)
    answers.append(subscribe(client, email="anna.ozola@example.lv", name="Kāds cits"))
    for answer in answers:
        assert answer.status_code == 303
        assert answer.headers["location"] == "/subscribe/sent"
    assert client.get("/subscribe/sent").status_code == 200

    # The active member is not changed by the form; she gets her preferences link instead.
    anna = member(context)
    assert anna is not None and anna.name == "Anna Ozola" and anna.status == "active"
    already = [d for d in queued(context) if d.ref.startswith("already:")]
    assert [d.to_address for d in already] == ["anna.ozola@example.lv"]


def test_an_unsubscribed_member_stays_so_until_she_confirms_again(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    anna = active_member(context, client)
    with context.database.session() as db:
        subscriptions.unsubscribe(db, db.get_one(Member, anna.id))
    clock(context).advance(dt.timedelta(minutes=5))
    assert subscribe(client, name="Anna Ozola-Kalniņa", series="vidzeme").status_code == 303
    still = member(context)
    assert still is not None and still.status == "unsubscribed" and still.name == "Anna Ozola"

    client.post(confirm_link_in_outbox(context))
    again = member(context)
    assert again is not None and again.status == "active" and again.name == "Anna Ozola-Kalniņa"


def test_at_most_three_subscription_mails_a_day_per_address(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    for minute in range(5):
        clock(context).advance(dt.timedelta(minutes=minute))
        assert subscribe(client).status_code == 303
    assert len(queued(context)) == subscriptions.DAILY_LIMIT
    clock(context).advance(dt.timedelta(days=1))
    subscribe(client)
    assert len(queued(context)) == subscriptions.DAILY_LIMIT + 1


def test_a_post_without_the_signed_form_token_subscribes_nobody(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    answer = client.post("/subscribe", data=FORM)
    assert answer.status_code == 400
    assert "pārāk ilgi" in answer.text  # the form is shown again, with a fresh token
    forged = client.post("/subscribe", data={**FORM, "form_token": "abc.def.ghi"})
    assert forged.status_code == 400
    assert member(context) is None
    assert queued(context) == []


def test_an_old_form_token_is_refused(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    page = client.get("/subscribe")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert token is not None
    clock(context).advance(subscriptions.FORM_MAX_AGE + dt.timedelta(minutes=1))
    answer = client.post("/subscribe", data={**FORM, "form_token": token.group(1)})
    assert answer.status_code == 400
    assert member(context) is None


def test_a_post_from_another_site_is_refused(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    page = client.get("/subscribe")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post(
        "/subscribe",
        data={**FORM, "form_token": token.group(1)},
        headers={"Origin": "https://evil.example.com"},
    )
    assert answer.status_code == 403
    fetched = client.post(
        "/subscribe",
        data={**FORM, "form_token": token.group(1)},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "null"},
    )
    assert fetched.status_code == 403
    assert member(context) is None


def test_errors_are_shown_next_to_their_fields(tmp_path: Path) -> None:
    _context, client = offline(tmp_path)
    answer = subscribe(
        client, name="", email="anna(at)example.lv", follows="chosen", series=[], consent=""
    )
    assert answer.status_code == 400
    html = answer.text
    assert "<title>Kļūda:" in html
    assert 'id="error-summary" tabindex="-1" autofocus' in html
    for field in ("name", "email", "consent"):
        assert f'aria-describedby="{field}-error"' in html
        assert f'id="{field}-error"' in html
    assert 'id="follows-error"' in html
    assert 'href="#follows-all"' in html
    assert 'value="anna(at)example.lv"' in html  # what was typed is kept


# -- links: scanners, expiry, tampering ------------------------------------------------------------


def test_link_scanners_opening_the_links_change_nothing(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    subscribe(client)
    confirm = confirm_link_in_outbox(context)
    anna = member(context)
    assert anna is not None
    for path in (
        confirm,
        path_of(links.unsubscribe_url(context.settings, anna)),
        preferences_path(context, anna),
        preferences_path(context, anna) + "/delete",
    ):
        assert client.get(path).status_code == 200, path
        assert client.head(path).status_code == 200, path
    after = member(context)
    assert after is not None and after.status == "pending" and after.feed_token == anna.feed_token


def test_an_expired_confirmation_link_is_refused(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    subscribe(client)
    path = confirm_link_in_outbox(context)
    clock(context).advance(subscriptions.CONFIRM_MAX_AGE - dt.timedelta(minutes=1))
    assert client.get(path).status_code == 200
    clock(context).advance(dt.timedelta(minutes=2))
    for answer in (client.get(path), client.post(path)):
        assert answer.status_code == 400
        assert "beidzies" in answer.text
        assert 'href="/subscribe"' in answer.text
    assert member(context).status == "pending"  # type: ignore[union-attr]


def test_tampered_and_unknown_tokens_get_a_page_not_a_traceback(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    subscribe(client)
    confirm = confirm_link_in_outbox(context)
    anna = member(context)
    assert anna is not None
    unsubscribe = path_of(links.unsubscribe_url(context.settings, anna))
    nobody = Member(id=anna.id + 1, link_secret=anna.link_secret)
    other = links.member_token(context.settings, nobody)  # signed, but nobody's
    for path in (
        confirm[:-3] + "abc",
        unsubscribe[:-2] + "xx",
        preferences_path(context, anna) + "x",
        "/preferences/not-a-token",
        "/unsubscribe/not-a-token/",
    ):
        for method in ("GET", "POST"):
            answer = client.request(method, path)
            assert answer.status_code in (400, 404), (method, path)
            assert "Traceback" not in answer.text
    for path in (f"/preferences/{other}", f"/unsubscribe/{other}"):
        assert client.get(path).status_code == 404
        assert client.post(path).status_code == 404
    assert member(context).status == "pending"  # type: ignore[union-attr]
    assert client.post(confirm[:-3] + "abc").status_code == 400


# -- the preferences page ------------------------------------------------------------------------


def test_preferences_change_language_and_what_is_followed(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    anna = active_member(context, client)
    path = preferences_path(context, anna)
    saved = client.post(
        path,
        data={"language": "en", "follows": "chosen", "regions": "vidzeme"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = client.get(saved.headers["location"])
    assert "Your choices are saved." in page.text
    with context.database.session() as db:
        after = db.get_one(Member, anna.id)
        assert after.language == "en"
        assert not after.follows_all
        assert [r.slug for r in after.followed_regions] == ["vidzeme"]
        assert after.followed_series == []
    refused = client.post(path, data={"language": "lv", "follows": "chosen"})
    assert refused.status_code == 400
    assert 'id="follows-error"' in refused.text


def test_a_member_s_page_opens_in_her_language(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    subscribe(client, language="en")
    anna = member(context)
    assert anna is not None
    fresh = TestClient(create_app(context))
    page = fresh.get(preferences_path(context, anna))
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "Your subscription" in page.text
    [delivery] = queued(context)
    assert delivery.language == "en"


def test_rotating_the_feed_address_makes_the_old_one_404(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    anna = active_member(context, client)
    old = f"/feeds/{anna.feed_token}.ics"
    assert client.get(old).status_code == 200
    answer = client.post(preferences_path(context, anna) + "/feed", follow_redirects=False)
    assert answer.status_code == 303
    new = member(context)
    assert new is not None and new.feed_token != anna.feed_token
    assert client.get(old).status_code == 404
    assert client.get(f"/feeds/{new.feed_token}.ics").status_code == 200
    page = client.get(answer.headers["location"])
    assert f"/feeds/{new.feed_token}.ics" in page.text
    assert "jauna adrese" in page.text


def test_download_my_data_holds_everything_stored_about_the_member(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    anna = active_member(context, client)
    answer = client.get(preferences_path(context, anna) + "/data.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert "attachment" in answer.headers["content-disposition"]
    data = json.loads(answer.text)
    assert data["member"]["email"] == "anna.ozola@example.lv"
    assert data["member"]["name"] == "Anna Ozola"
    assert data["member"]["municipality"] == "liepaja"
    assert data["member"]["follows"] == "series:vk"
    assert data["member"]["status"] == "active"
    assert data["member"]["consent_source"] == "web form"
    assert data["member"]["consent_text"] == subscriptions.consent_text("lv")
    assert data["feed_address"].endswith(f"/feeds/{anna.feed_token}.ics")
    assert [(d["kind"], d["status"]) for d in data["deliveries"]] == [("confirmation", "queued")]
    assert data["deliveries"][0]["created_at"].startswith("2026-11-23T12:00")


def test_my_data_holds_my_registrations_attendance_and_certificates(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    anna = active_member(context, client)
    import_entries(context, tmp_path, vidzeme(registration={"open": True, "capacity": 5}))
    session = session_id(context, VIDZEME, "2026-12-30")
    with context.database.session() as db:
        found = db.get(Member, anna.id)
        assert found is not None
        registrations.register_member(db, context.clock, session, found, "room")
        attended = Attendance(session_id=session, member_id=anna.id, email=anna.email, minutes=80)
        db.add(attended)
        db.flush()
        db.add(
            Certificate(
                code="ABCD-EFGH-JK",
                attendance_id=attended.id,
                session_id=session,
                member_id=anna.id,
                name="Anna Ozola",
                minutes=80,
            )
        )
    data = json.loads(client.get(preferences_path(context, anna) + "/data.json").text)
    assert [(r["session_id"], r["attendance"], r["status"]) for r in data["registrations"]] == [
        (session, "room", "registered")
    ]
    assert [(a["session_id"], a["minutes"]) for a in data["attendance"]] == [(session, 80)]
    assert data["live_alerts"] is False
    assert [(c["code"], c["minutes"]) for c in data["certificates"]] == [("ABCD-EFGH-JK", 80)]

    # Delete me takes them along.
    assert client.post(preferences_path(context, anna) + "/delete").status_code == 200
    with context.database.session() as db:
        for model in (Registration, Attendance, Certificate):
            assert db.scalar(select(func.count()).select_from(model)) == 0


def test_delete_me_asks_first_then_erases(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    anna = active_member(context, client)
    path = preferences_path(context, anna) + "/delete"
    assert "Dzēst manus datus" in client.get(path).text
    assert member(context) is not None
    done = client.post(path)
    assert done.status_code == 200
    assert "dzēsti" in done.text
    assert member(context) is None
    with context.database.session() as db:
        assert db.scalar(select(func.count()).select_from(Delivery)) == 1
        assert db.scalars(select(Delivery.to_address)).one().endswith("@invalid")
    assert client.get(f"/feeds/{anna.feed_token}.ics").status_code == 404
    assert client.get(preferences_path(context, anna)).status_code == 404


def test_unsubscribe_page_asks_then_unsubscribes_and_offers_to_come_back(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    anna = active_member(context, client)
    path = path_of(links.unsubscribe_url(context.settings, anna))
    page = client.get(path)
    assert page.status_code == 200
    assert "Atteikties" in page.text
    assert member(context).status == "active"  # type: ignore[union-attr]
    done = client.post(path)
    assert done.status_code == 200
    assert 'href="/subscribe"' in done.text
    assert member(context).status == "unsubscribed"  # type: ignore[union-attr]
    assert client.post(path).status_code == 200  # a second press is harmless


# -- languages -----------------------------------------------------------------------------------


def test_pages_are_latvian_by_default_and_english_on_request(tmp_path: Path) -> None:
    _context, client = offline(tmp_path)
    latvian = client.get("/subscribe")
    assert '<html lang="lv">' in latvian.text
    assert "Pieteikties" in latvian.text
    assert "E-pasta adrese" in latvian.text
    assert "Liepāja" in latvian.text
    # The consent wording is a constant translated where it is shown: it must be Latvian too.
    assert "Piekrītu, ka tīkls glabā manu vārdu" in latvian.text
    assert "I agree that the network keeps" not in latvian.text
    assert '<optgroup label="Kurzemes plānošanas reģions">' in latvian.text or "Kurzeme" in (
        latvian.text
    )
    english = client.get("/subscribe?lang=en")
    assert '<html lang="en">' in english.text
    assert "Subscribe to the network" in english.text
    assert "I agree that the network keeps" in english.text
