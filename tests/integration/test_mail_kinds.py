"""Every kind of e-mail, in Latvian and in English, made the one way (vcs.mail.compose).

Each kind is made by the code that really sends it (the announce job, a staff edit, the digest,
a staff test, /subscribe) and read back from the outbox as the bytes a relay would get.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from tests.factories import NATIONAL, VIDZEME, import_entries, national, session_id, vidzeme
from tests.mail_factories import mail_context
from vcs import digest as digests
from vcs.announcements import announce
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.mail.compose import MailKind
from vcs.membership import subscriptions
from vcs.membership.members import EVERYTHING, MemberSpec, create_member
from vcs.planning import registrations, sessions
from vcs.storage.models import Delivery, Member

# A week before the national videoconference of Thursday 10 December 2026.
WEEK_BEFORE = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
LANGUAGES = ("lv", "en")
# What a template leaves behind when something in it was not rendered.
LEFTOVERS = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}|%\(\w+\)s")


def every_kind_queued(context: Context) -> None:
    """Queue each kind of e-mail to a Latvian and an English reader, as vcs does."""
    clock = context.clock
    assert isinstance(clock, FixedClock)
    clock.at = WEEK_BEFORE
    with context.database.session() as db:
        for lang in LANGUAGES:
            spec = MemberSpec(
                email=f"{lang}@example.lv", name="Ērika Ūdre", language=lang, status="active"
            )
            create_member(db, spec, actor="test")
    announce(context.database, context.settings, clock.now())
    national_session = session_id(context, NATIONAL, "2026-12-10")
    with context.database.session() as db:
        moved = dt.datetime(2026, 12, 11, 9, 0, tzinfo=dt.UTC)
        sessions.move(db, sessions.get(db, national_session), moved, "test")
    announce(context.database, context.settings, clock.now())
    with context.database.session() as db:
        sessions.cancel(db, sessions.get(db, national_session), "Runātāja slimība", "test")
    announce(context.database, context.settings, clock.now())
    with context.database.session() as db:
        digest, _created = digests.draft(db, context.settings, clock.now(), "test")
        digests.add_item(
            db, digest, "test", title_lv="Ziņa", title_en="News", body_lv="**Sveiki**",
            body_en="*Hello*", link="https://example.lv/zinas",
        )  # fmt: skip
        digests.confirm_links(db, context.settings, digest, "test")  # example.lv is not trusted
        digests.send(db, context.settings, digest, clock.now(), "test")
        for lang in LANGUAGES:
            digests.send_test(
                db, context.settings, digest, f"staff-{lang}@example.lv", "Staff", lang, clock.now()
            )
    network = {"lv": "Tīkls", "en": "The network"}.__getitem__
    for lang in LANGUAGES:
        for email in (f"new-{lang}@example.lv", f"{lang}@example.lv"):  # new; already subscribed
            sign_up = subscriptions.SignUp(email, "Anna", None, lang, EVERYTHING)
            with context.database.session() as db:
                subscriptions.subscribe(db, context.settings, clock, sign_up, network)
    # Registration (issue 16): a visitor's confirmation; a seat from the waiting list, each way.
    vidzeme_session = session_id(context, VIDZEME, "2026-12-30")
    with context.database.session() as db:
        sessions.get(db, vidzeme_session).registration = {"open": True, "capacity": 1}
    for lang in LANGUAGES:
        visitor = registrations.Visitor("Vika", f"visitor-{lang}@example.lv", "Cēsis", lang)
        with context.database.session() as db:
            registrations.ask_visitor(
                db, context.settings, clock, vidzeme_session, visitor, "room", network
            )
    for lang, other in (("lv", "en"), ("en", "lv")):
        with context.database.session() as db:
            by_email = {m.email: m for m in db.scalars(select(Member))}
            first = registrations.register_member(
                db, clock, vidzeme_session, by_email[f"{other}@example.lv"], "room"
            )
            registrations.register_member(
                db, clock, vidzeme_session, by_email[f"{lang}@example.lv"], "room"
            )
            registrations.cancel(db, context.settings, clock, first.id, network)
    # The follow-up: the Vidzeme meeting of 30 December announced, held, its recording set.
    clock.at = dt.datetime(2026, 12, 23, 12, 0, tzinfo=dt.UTC)
    announce(context.database, context.settings, clock.now())
    with context.database.session() as db:
        held = sessions.get(db, session_id(context, VIDZEME, "2026-12-30"))
        sessions.update_details(db, held, "test", recording_url="https://video.example.lv/1")
    clock.at = dt.datetime(2026, 12, 31, 12, 0, tzinfo=dt.UTC)
    announce(context.database, context.settings, clock.now())
    # A reminder the day before the national videoconference of 14 January 2027 (08.00 UTC), and
    # the live-now alert when it starts (vcs/reminders.py, vcs/live_alerts.py).
    from vcs import live_alerts, reminders

    clock.at = dt.datetime(2027, 1, 13, 8, 0, tzinfo=dt.UTC)
    announce(context.database, context.settings, clock.now())
    reminders.remind(context.database, context.settings, clock.now())
    with context.database.session() as db:
        for found in db.scalars(select(Member)):
            found.live_alerts = True
    clock.at = dt.datetime(2027, 1, 14, 8, 0, tzinfo=dt.UTC)
    live_alerts.alert(context.database, context.settings, clock.now())
    # Certificates of participation for the Vidzeme meeting's attendees (vcs/certificates/).
    from vcs.certificates import issue
    from vcs.storage.models import Attendance

    with context.database.session() as db:
        for lang in LANGUAGES:
            reader = db.scalars(select(Member).where(Member.email == f"{lang}@example.lv")).one()
            db.add(
                Attendance(
                    session_id=vidzeme_session,
                    member_id=reader.id,
                    email=reader.email,
                    name=reader.name,
                    language=lang,
                )
            )
    with context.database.session() as db:
        issue.release(db, context.settings, clock, vidzeme_session, "test")
    # The feedback form's link to the same attendees (vcs/feedback.py).
    from vcs import feedback

    with context.database.session() as db:
        feedback.ask(db, context.settings, vidzeme_session, clock.now())


def kind_of(delivery: Delivery) -> MailKind:
    if delivery.kind == MailKind.CONFIRMATION and delivery.ref.startswith("already:"):
        return MailKind.ALREADY_SUBSCRIBED
    return MailKind(delivery.kind)


def queued_messages(context: Context) -> dict[tuple[MailKind, str], EmailMessage]:
    found = {}
    with context.database.session() as db:
        for delivery in db.scalars(select(Delivery).order_by(Delivery.id)):
            message = message_from_bytes(zlib.decompress(delivery.raw_message), policy=policy.SMTP)
            assert isinstance(message, EmailMessage)
            found.setdefault((kind_of(delivery), delivery.language), message)
    return found


def test_every_mail_kind_renders_from_its_templates_in_latvian_and_english(
    tmp_path: Path,
) -> None:
    context = mail_context(tmp_path, VCS_DIGEST_DAYS_AHEAD="35")
    import_entries(context, tmp_path, national(), vidzeme())
    every_kind_queued(context)
    messages = queued_messages(context)

    assert set(messages) == {(kind, lang) for kind in MailKind for lang in LANGUAGES}
    texts: dict[tuple[MailKind, str], str] = {}
    for (kind, lang), message in messages.items():
        where = f"{kind.name} in {lang}"
        subject = str(message["Subject"]).strip()
        assert subject, where
        assert message["Content-Language"] == lang, where
        assert message["List-Id"].endswith(f"<{kind.outbox_kind}.tikls.example.lv>"), where
        text, html = message.get_body(("plain",)), message.get_body(("html",))
        assert text is not None and html is not None, where
        text_content, html_content = text.get_content(), html.get_content()
        assert f'<html lang="{lang}"' in html_content, where  # inside the shared layout
        for part in (subject, text_content, html_content):
            assert not LEFTOVERS.search(part), f"{where}: {LEFTOVERS.search(part)}"
        texts[kind, lang] = text_content
    for kind in MailKind:  # each one translated, not the same words twice
        assert texts[kind, "lv"] != texts[kind, "en"], kind.name
