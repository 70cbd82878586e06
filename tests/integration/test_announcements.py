"""Announcements and change notices, as members receive them from a real SMTP server.

The network has the national videoconference (second Thursdays, 10.00 Riga: 10 December 2026,
14 January 2027, ...) and the EU-funded Vidzeme meeting (last Wednesdays, 13.00: 30 December
2026, ...). The job runs through the scheduler's registry; the sender delivers to aiosmtpd.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import func, select

from tests.factories import (
    NATIONAL,
    VIDZEME,
    browse,
    import_entries,
    members_only,
    national,
    session_id,
    vidzeme,
)
from tests.mail_factories import Sink, mail_context, smtp_server
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.mail.sender import Sender
from vcs.membership.members import EVERYTHING, Follows, MemberSpec, create_member
from vcs.planning import sessions
from vcs.scheduler.jobs import registry
from vcs.scheduler.runs import run_job
from vcs.storage.models import Delivery, JobRun, Session

RIGA = ZoneInfo("Europe/Riga")
# Six days and 23 hours before the Vidzeme meeting of Wednesday 30 December 2026, 13.00 Riga.
WEEK_BEFORE_VIDZEME = dt.datetime(2026, 12, 23, 12, 0, tzinfo=dt.UTC)
# Six days and 20 hours before the national videoconference of Thursday 10 December, 10.00 Riga.
WEEK_BEFORE_NATIONAL = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
FUNDING_LV = (
    "Tikšanās notiek ar Eiropas Sociālā fonda Plus atbalstu. Projekta Nr. 4.2.4.1/1/24/I/001"
)


@contextmanager
def network(tmp_path: Path, database_url: str | None = None) -> Iterator[tuple[Context, Sink]]:
    """The national and Vidzeme series on a fresh database, mail going to a real SMTP server."""
    with smtp_server() as (sink, port):
        context = mail_context(tmp_path, database_url, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        try:
            import_entries(context, tmp_path, national(), vidzeme())
            yield context, sink
        finally:
            context.close()


def member(
    context: Context,
    email: str,
    *,
    language: str = "lv",
    follows: Follows = EVERYTHING,
    status: str = "active",
) -> None:
    with context.database.session() as db:
        spec = MemberSpec(
            email=email, name="Ērika Ūdre", language=language, follows=follows, status=status
        )
        create_member(db, spec, actor="test")


def regions(*slugs: str) -> Follows:
    return Follows(False, regions=frozenset(slugs))


def at(context: Context, when: dt.datetime) -> None:
    clock = context.clock
    assert isinstance(clock, FixedClock)
    clock.at = when


def announce(context: Context) -> JobRun:
    run = run_job(context, registry.get("announce"), trigger="test")
    assert run.outcome == "ok", run.error
    return run


def deliver(context: Context, sink: Sink) -> list[EmailMessage]:
    """Send what is queued; return the messages that arrived in this call."""
    before = len(sink.messages)
    Sender(context).run()
    return sink.received()[before:]


def subject(message: EmailMessage) -> str:
    # The stdlib folds a subject that fits on one continuation line right after "Subject:";
    # unfolding leaves a leading space, which mail clients drop.
    return str(message["Subject"]).strip()


def to(messages: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in messages if m["To"].addresses[0].addr_spec == address]


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


def vevent(message: EmailMessage) -> icalendar.Event:
    # By default the .ics is an invitation: the body's text/calendar part, method=REQUEST or
    # CANCEL as its calendar says (more in tests/integration/test_invitations.py).
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") in ("REQUEST", "CANCEL")
    calendar = icalendar.Calendar.from_ical(part.get_content())
    assert calendar["METHOD"] == part.get_param("method")
    [event] = calendar.walk("VEVENT")
    return event


def feed_event(context: Context, path: str, uid: str) -> icalendar.Event:
    calendar = icalendar.Calendar.from_ical(browse(context).get(path).content)
    [event] = [e for e in calendar.walk("VEVENT") if str(e["UID"]) == uid]
    return event


def queued(context: Context) -> int:
    with context.database.session() as db:
        return int(db.scalar(select(func.count()).select_from(Delivery)) or 0)


def announced_session(context: Context, sink: Sink, slug: str, local_date: str) -> int:
    """Announce and deliver; return the session's id."""
    announce(context)
    assert deliver(context, sink)
    return session_id(context, slug, local_date)


# --- announcements --------------------------------------------------------------------------


def test_announcement_arrives_a_week_before_with_the_feeds_uid_and_sequence(
    tmp_path: Path, any_database_url: str
) -> None:
    with network(tmp_path, any_database_url) as (context, sink):
        member(context, "anna@example.lv", follows=regions("vidzeme"))
        announce(context)
        assert deliver(context, sink) == []  # five weeks ahead: nothing yet

        at(context, WEEK_BEFORE_VIDZEME)
        announce(context)
        [message] = deliver(context, sink)

        assert subject(message) == (
            "Uzaicinājums: Vidzemes pieredzes apmaiņas tikšanās, "
            "trešdiena, 2026. gada 30. decembris, 13.00"
        )
        raw = sink.messages[-1][1].decode("ascii")
        assert "Subject: =?utf-8?" in raw  # the diacritics travel as RFC 2047 encoded words
        text, html = body(message, "plain"), body(message, "html")
        for part in (text, html):
            assert "trešdiena, 2026. gada 30. decembris, 13.00–16.00" in part
            assert "Rīgas iela 10, Valmiera" in part
            assert "Vidzemes plānošanas reģions" in part
            assert FUNDING_LV in part
        page = f"https://tikls.example.lv/sessions/{session_id(context, VIDZEME, '2026-12-30')}"
        assert f"Skatīties tiešraidē: {page}" in text
        assert f'href="{page}"' in html

        event = vevent(message)
        in_feed = feed_event(context, "/calendar.ics", str(event["UID"]))
        assert event["SEQUENCE"] == in_feed["SEQUENCE"]
        assert event["DTSTART"].dt == dt.datetime(2026, 12, 30, 13, 0, tzinfo=RIGA)
        with context.database.session() as db:
            announced = db.get(Session, session_id(context, VIDZEME, "2026-12-30"))
            assert announced is not None
            assert announced.uid == str(event["UID"])
            assert announced.announced_at == WEEK_BEFORE_VIDZEME
            assert announced.announced_revision == announced.revision


def test_region_followers_get_their_region_and_the_national_sessions_only(
    tmp_path: Path,
) -> None:
    with network(tmp_path) as (context, sink):
        member(context, "kurzeme@example.lv", follows=regions("kurzeme"))
        member(context, "vidzeme@example.lv", follows=regions("vidzeme"))
        member(context, "series@example.lv", follows=Follows(False, series=frozenset({VIDZEME})))

        at(context, WEEK_BEFORE_NATIONAL)
        announce(context)
        national_mail = deliver(context, sink)
        assert {m["To"].addresses[0].addr_spec for m in national_mail} == {
            "kurzeme@example.lv",
            "vidzeme@example.lv",
        }

        at(context, WEEK_BEFORE_VIDZEME)
        announce(context)
        vidzeme_mail = deliver(context, sink)
        assert {m["To"].addresses[0].addr_spec for m in vidzeme_mail} == {
            "vidzeme@example.lv",
            "series@example.lv",
        }


def test_unsubscribed_pending_and_bounced_members_get_nothing(tmp_path: Path) -> None:
    with network(tmp_path) as (context, sink):
        for status in ("unsubscribed", "pending", "bounced"):
            member(context, f"{status}@example.lv", status=status)
        member(context, "active@example.lv")
        at(context, WEEK_BEFORE_NATIONAL)
        announce(context)
        [message] = deliver(context, sink)
        assert message["To"].addresses[0].addr_spec == "active@example.lv"


def test_running_twice_queues_nothing_new_but_reaches_members_who_joined_since(
    tmp_path: Path, any_database_url: str
) -> None:
    with network(tmp_path, any_database_url) as (context, sink):
        member(context, "first@example.lv")
        at(context, WEEK_BEFORE_NATIONAL)
        first = announce(context)
        assert "1 sessions announced" in first.summary
        assert queued(context) == 1
        second = announce(context)
        assert "0 sessions announced" in second.summary
        assert queued(context) == 1

        member(context, "later@example.lv")
        announce(context)
        messages = deliver(context, sink)
        assert sorted(m["To"].addresses[0].addr_spec for m in messages) == [
            "first@example.lv",
            "later@example.lv",
        ]
        assert sink.copies["first@example.lv"] == 1


def test_english_members_get_english(tmp_path: Path) -> None:
    with network(tmp_path) as (context, sink):
        member(context, "en@example.lv", language="en")
        member(context, "lv@example.lv")
        at(context, WEEK_BEFORE_VIDZEME)
        announce(context)
        messages = deliver(context, sink)
        [english] = to(messages, "en@example.lv")
        [latvian] = to(messages, "lv@example.lv")

        assert subject(english) == (
            "Invitation: Vidzeme experience-sharing meetings, Wednesday, 30 December 2026, 13:00"
        )
        assert english["Content-Language"] == "en"
        text = body(english, "plain")
        assert "Wednesday, 30 December 2026, 13:00–16:00" in text
        assert "The meetings are supported by the European Social Fund Plus." in text
        assert "Project No. 4.2.4.1/1/24/I/001" in text
        assert str(vevent(english)["SUMMARY"]).startswith("Vidzeme experience-sharing meetings")
        assert str(vevent(latvian)["SUMMARY"]).startswith("Vidzemes pieredzes apmaiņas tikšanās")


def test_an_in_person_meeting_links_its_page_not_a_stream(tmp_path: Path) -> None:
    with network(tmp_path) as (context, sink):
        member(context, "anna@example.lv")
        sid = session_id(context, VIDZEME, "2026-12-30")
        place = {"kind": "venue", "venue": "Cēsu jauniešu centrs", "address": "Lenču iela 4, Cēsis"}
        with context.database.session() as db:
            sessions.update_details(db, sessions.get(db, sid), "test", place=place)
        at(context, WEEK_BEFORE_VIDZEME)
        announce(context)
        [message] = deliver(context, sink)
        text = body(message, "plain")
        assert "Kur: Cēsu jauniešu centrs, Lenču iela 4, Cēsis\r\n" in text
        assert f"Sesijas lapa: https://tikls.example.lv/sessions/{sid}" in text


# --- change notices ---------------------------------------------------------------------------


def test_moved_session_gives_one_notice_with_the_new_time_and_a_higher_sequence(
    tmp_path: Path, any_database_url: str
) -> None:
    with network(tmp_path, any_database_url) as (context, sink):
        member(context, "anna@example.lv")
        at(context, WEEK_BEFORE_NATIONAL)
        sid = announced_session(context, sink, NATIONAL, "2026-12-10")
        [announcement] = sink.received()
        uid, sequence = str(vevent(announcement)["UID"]), vevent(announcement)["SEQUENCE"]

        with context.database.session() as db:
            new_start = dt.datetime(2026, 12, 11, 14, 0, tzinfo=RIGA)
            sessions.move(db, sessions.get(db, sid), new_start, "staff@example.lv")
        announce(context)
        [notice] = deliver(context, sink)

        assert subject(notice) == (
            "Pārcelta: Jaunatnes lietu speciālistu videokonferences, "
            "piektdiena, 2026. gada 11. decembris, 14.00"
        )
        text = body(notice, "plain")
        assert text.startswith("Sesija ir pārcelta.")
        assert "Iepriekš: ceturtdiena, 2026. gada 10. decembris, 10.00–11.30" in text
        assert "Kad: piektdiena, 2026. gada 11. decembris, 14.00–15.30" in text
        event = vevent(notice)
        assert str(event["UID"]) == uid
        assert event["SEQUENCE"] == sequence + 1
        assert event["SEQUENCE"] == feed_event(context, "/calendar.ics", uid)["SEQUENCE"]
        assert event["DTSTART"].dt == dt.datetime(2026, 12, 11, 14, 0, tzinfo=RIGA)
        with context.database.session() as db:
            kinds = db.execute(select(Delivery.kind, Delivery.ref).order_by(Delivery.id)).all()
        assert [tuple(k) for k in kinds] == [
            ("announcement", f"session:{sid}"),
            ("change", f"session:{sid}:rev{sequence + 1}"),
        ]

        announce(context)
        assert deliver(context, sink) == []
        assert sink.copies["anna@example.lv"] == 2


def test_cancelled_session_gives_status_cancelled_with_the_reason(
    tmp_path: Path, any_database_url: str
) -> None:
    with network(tmp_path, any_database_url) as (context, sink):
        member(context, "anna@example.lv")
        member(context, "john@example.lv", language="en")
        at(context, WEEK_BEFORE_NATIONAL)
        sid = announced_session(context, sink, NATIONAL, "2026-12-10")

        with context.database.session() as db:
            sessions.cancel(db, sessions.get(db, sid), "Lektore saslima", "staff@example.lv")
        announce(context)
        messages = deliver(context, sink)
        [latvian] = to(messages, "anna@example.lv")
        [english] = to(messages, "john@example.lv")

        assert subject(latvian) == (
            "Atcelta: Jaunatnes lietu speciālistu videokonferences, "
            "ceturtdiena, 2026. gada 10. decembris, 10.00"
        )
        assert "Iemesls: Lektore saslima" in body(latvian, "plain")
        assert "Lektore saslima" in body(latvian, "html")
        event = vevent(latvian)
        assert event["STATUS"] == "CANCELLED"
        assert "Lektore saslima" in str(event["DESCRIPTION"])
        assert subject(english).startswith("Cancelled: Youth work videoconferences")
        assert body(english, "plain").startswith("The session has been cancelled.")
        with context.database.session() as db:
            [kind] = db.scalars(select(Delivery.kind).where(Delivery.ref.like("%:rev%"))).unique()
        assert kind == "cancellation"

        announce(context)
        assert deliver(context, sink) == []


def test_reinstated_session_gives_a_notice_and_a_new_title_gives_none(tmp_path: Path) -> None:
    with network(tmp_path) as (context, sink):
        member(context, "anna@example.lv")
        at(context, WEEK_BEFORE_NATIONAL)
        sid = announced_session(context, sink, NATIONAL, "2026-12-10")

        with context.database.session() as db:
            sessions.update_details(db, sessions.get(db, sid), "staff", title_lv="Jauns nosaukums")
        announce(context)
        assert deliver(context, sink) == []

        with context.database.session() as db:
            sessions.cancel(db, sessions.get(db, sid), "Telpa aizņemta", "staff")
        with context.database.session() as db:
            sessions.reinstate(db, sessions.get(db, sid), "staff")
        announce(context)
        assert deliver(context, sink) == []  # cancelled and back before anyone was told

        with context.database.session() as db:
            sessions.cancel(db, sessions.get(db, sid), "Telpa aizņemta", "staff")
        announce(context)
        [cancelled] = deliver(context, sink)
        with context.database.session() as db:
            sessions.reinstate(db, sessions.get(db, sid), "staff")
        announce(context)
        [reinstated] = deliver(context, sink)
        assert subject(cancelled).startswith("Atcelta: Jauns nosaukums")
        assert subject(reinstated).startswith("Tomēr notiks: Jauns nosaukums")
        assert vevent(reinstated)["STATUS"] == "CONFIRMED"
        assert vevent(reinstated)["SEQUENCE"] > vevent(cancelled)["SEQUENCE"]


def test_notices_go_to_those_who_got_the_announcement_not_to_later_followers(
    tmp_path: Path,
) -> None:
    with network(tmp_path) as (context, sink):
        member(context, "early@example.lv")
        at(context, WEEK_BEFORE_NATIONAL)
        sid = announced_session(context, sink, NATIONAL, "2026-12-10")
        with context.database.session() as db:
            new_start = dt.datetime(2026, 12, 10, 12, 0, tzinfo=RIGA)
            sessions.move(db, sessions.get(db, sid), new_start, "staff")
        member(context, "late@example.lv")
        announce(context)
        messages = deliver(context, sink)

        [notice] = to(messages, "early@example.lv")
        [announcement] = to(messages, "late@example.lv")
        assert subject(notice).startswith("Pārcelta: ")
        assert subject(announcement).startswith("Uzaicinājums: ")
        assert vevent(announcement)["SEQUENCE"] == vevent(notice)["SEQUENCE"]
        assert vevent(announcement)["DTSTART"].dt == dt.datetime(2026, 12, 10, 12, 0, tzinfo=RIGA)


def test_members_only_sessions_are_announced_to_their_followers_with_their_ics(
    tmp_path: Path,
) -> None:
    with network(tmp_path) as (context, sink):
        import_entries(context, tmp_path, members_only())
        member(context, "anna@example.lv")
        at(context, dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC))
        announce(context)
        [message] = deliver(context, sink)

        assert subject(message).startswith("Uzaicinājums: Koordinatoru slēgtās sanāksmes, otrdiena")
        assert "/sessions/" not in body(message, "plain")  # no public page to link to
        event = vevent(message)
        assert event["CLASS"] == "PRIVATE"
        assert str(event["UID"]) not in browse(context).get("/calendar.ics").text
