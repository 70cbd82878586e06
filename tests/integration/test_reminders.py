"""Reminders before a session (issue 16), as readers receive them from a real SMTP server.

The national videoconference of Thursday 10 December 2026 starts at 10.00 Riga (08.00 UTC), so
its day-before reminder is due at 08.00 UTC on 9 December and its hour-before one at 07.00 UTC
on 10 December. The hybrid Vidzeme meeting of Wednesday 30 December starts at 13.00 Riga (11.00
UTC) and takes registrations. The job runs through the scheduler's registry with a fixed clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.factories import NATIONAL, VIDZEME, import_entries, national, session_id, vidzeme
from tests.integration.test_announcements import (
    WEEK_BEFORE_NATIONAL,
    WEEK_BEFORE_VIDZEME,
    announce,
    at,
    body,
    deliver,
    member,
    regions,
    subject,
    to,
)
from tests.mail_factories import Sink, mail_context, smtp_server
from vcs.config import ConfigError
from vcs.context import Context
from vcs.membership.members import Follows
from vcs.planning import registrations, sessions
from vcs.reminders import due_offset
from vcs.scheduler.jobs import registry
from vcs.scheduler.runs import run_job
from vcs.storage.models import Delivery, Member, Registration

RIGA = ZoneInfo("Europe/Riga")
UTC = dt.UTC
JOIN = "https://zoom.example.com/j/tikls-nacionala"
VIDZEME_JOIN = "https://teams.example.com/l/meetup-join/vidzeme"
DAY_BEFORE_NATIONAL = dt.datetime(2026, 12, 9, 8, 0, tzinfo=UTC)
HOUR_BEFORE_NATIONAL = dt.datetime(2026, 12, 10, 7, 0, tzinfo=UTC)
DAY_BEFORE_VIDZEME = dt.datetime(2026, 12, 29, 11, 0, tzinfo=UTC)
NETWORK = {"lv": "Tīkls", "en": "The network"}.__getitem__
NATIONAL_SUBJECT = (
    "Atgādinājums: Jaunatnes lietu speciālistu videokonferences, "
    "ceturtdiena, 2026. gada 10. decembris, 10.00"
)


@contextmanager
def network(tmp_path: Path, database_url: str | None = None) -> Iterator[tuple[Context, Sink]]:
    """The national series (with a join link) and the Vidzeme one (hybrid, registration open,
    its own join link), mail going to a real SMTP server."""
    with smtp_server() as (sink, port):
        context = mail_context(tmp_path, database_url, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        try:
            import_entries(
                context,
                tmp_path,
                national(join_url=JOIN),
                vidzeme(
                    join_url=VIDZEME_JOIN,
                    registration={"open": True, "capacity": 2, "closes": "P1D"},
                ),
            )
            yield context, sink
        finally:
            context.close()


def remind(context: Context) -> str:
    run = run_job(context, registry.get("reminders"), trigger="test")
    assert run.outcome == "ok", run.error
    return run.summary


def reminders(context: Context) -> list[tuple[str, str, str]]:
    """(address, ref, status) of every reminder in the outbox, in the order queued."""
    with context.database.session() as db:
        rows = db.execute(
            select(Delivery.to_address, Delivery.ref, Delivery.status)
            .where(Delivery.kind == "reminder")
            .order_by(Delivery.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def plain(message: EmailMessage) -> str:
    return body(message, "plain").replace("\r\n", "\n")


def national_announced(context: Context, sink: Sink) -> int:
    at(context, WEEK_BEFORE_NATIONAL)
    announce(context)
    deliver(context, sink)
    return session_id(context, NATIONAL, "2026-12-10")


# --- when ---------------------------------------------------------------------------------------


def test_a_day_and_an_hour_before_once_each_with_the_time_and_the_join_link(
    tmp_path: Path, any_database_url: str
) -> None:
    with network(tmp_path, any_database_url) as (context, sink):
        member(context, "anna@example.lv")
        sid = national_announced(context, sink)

        for moment, expected in [
            (DAY_BEFORE_NATIONAL - dt.timedelta(minutes=1), 0),
            (DAY_BEFORE_NATIONAL, 1),
            (DAY_BEFORE_NATIONAL + dt.timedelta(minutes=1), 0),  # never twice
            (DAY_BEFORE_NATIONAL + dt.timedelta(hours=6), 0),
            (HOUR_BEFORE_NATIONAL - dt.timedelta(minutes=1), 0),
            (HOUR_BEFORE_NATIONAL, 1),
            (HOUR_BEFORE_NATIONAL + dt.timedelta(minutes=5), 0),
            (HOUR_BEFORE_NATIONAL + dt.timedelta(hours=1), 0),  # started
        ]:
            at(context, moment)
            remind(context)
            arrived = deliver(context, sink)
            assert len(arrived) == expected, moment
            for message in arrived:
                assert subject(message) == NATIONAL_SUBJECT
                text, html = body(message, "plain"), body(message, "html")
                assert text.startswith("Atgādinām par sesiju:")
                assert "Kad: ceturtdiena, 2026. gada 10. decembris, 10.00–11.30" in text
                assert "Kur: Tiešsaistē" in text
                assert f"Pievienoties sanāksmei: {JOIN}" in text
                page = f"https://tikls.example.lv/sessions/{sid}"
                assert f"Skatīties tiešraidē: {page}" in text
                assert f'href="{JOIN}"' in html and f'href="{page}"' in html

        assert reminders(context) == [
            ("anna@example.lv", f"session:{sid}:reminder:P1D:20261210T0800Z", "sent"),
            ("anna@example.lv", f"session:{sid}:reminder:PT1H:20261210T0800Z", "sent"),
        ]


def test_english_readers_get_english_and_members_who_were_not_announced_get_none(
    tmp_path: Path,
) -> None:
    with network(tmp_path) as (context, sink):
        member(context, "john@example.lv", language="en")
        national_announced(context, sink)
        # Joined after the announcement went out: no announcement yet, so no reminder either.
        member(context, "late@example.lv")
        at(context, DAY_BEFORE_NATIONAL)
        remind(context)
        [message] = deliver(context, sink)
        assert message["To"].addresses[0].addr_spec == "john@example.lv"
        assert subject(message) == (
            "Reminder: Youth work videoconferences, Thursday, 10 December 2026, 10:00"
        )
        assert "When: Thursday, 10 December 2026, 10:00–11:30" in body(message, "plain")


def test_a_late_run_sends_only_the_shortest_due_reminder_and_none_too_late(
    tmp_path: Path,
) -> None:
    with network(tmp_path) as (context, sink):
        member(context, "anna@example.lv")
        sid = national_announced(context, sink)
        # The scheduler was stopped all day: two hours before, the day's reminder is too late.
        at(context, HOUR_BEFORE_NATIONAL - dt.timedelta(hours=1))
        remind(context)
        assert reminders(context) == []
        # Forty minutes before, the hour's reminder still has more than half its lead.
        at(context, HOUR_BEFORE_NATIONAL + dt.timedelta(minutes=20))
        remind(context)
        assert [ref for _to, ref, _status in reminders(context)] == [
            f"session:{sid}:reminder:PT1H:20261210T0800Z"
        ]


def test_the_rule_for_which_reminder_is_due() -> None:
    offsets = (("P1D", dt.timedelta(days=1)), ("PT1H", dt.timedelta(hours=1)))
    start = dt.datetime(2026, 12, 10, 8, 0, tzinfo=UTC)

    def due(before: dt.timedelta) -> str | None:
        return due_offset(offsets, start, start - before)

    assert due(dt.timedelta(days=2)) is None
    assert due(dt.timedelta(days=1)) == "P1D"
    assert due(dt.timedelta(hours=12)) == "P1D"
    assert due(dt.timedelta(hours=11, minutes=59)) is None  # less than half the day left
    assert due(dt.timedelta(hours=2)) is None  # never the day's reminder two hours before
    assert due(dt.timedelta(hours=1)) == "PT1H"
    assert due(dt.timedelta(minutes=30)) == "PT1H"  # a session added half an hour before
    assert due(dt.timedelta(minutes=29)) is None
    assert due(dt.timedelta(0)) is None
    assert due_offset((), start, start - dt.timedelta(hours=1)) is None


# --- cancelled and moved ----------------------------------------------------------------------


def test_none_after_a_cancellation_and_a_queued_one_is_withdrawn(
    tmp_path: Path, any_database_url: str
) -> None:
    with network(tmp_path, any_database_url) as (context, sink):
        member(context, "anna@example.lv")
        sid = national_announced(context, sink)
        at(context, DAY_BEFORE_NATIONAL)
        remind(context)  # queued, not sent yet (say, outside the relay's send window)

        with context.database.session() as db:
            sessions.cancel(db, sessions.get(db, sid), "Slimība", "staff@example.lv")
        at(context, DAY_BEFORE_NATIONAL + dt.timedelta(minutes=1))
        assert "1 withdrawn" in remind(context)
        at(context, HOUR_BEFORE_NATIONAL)
        remind(context)

        assert deliver(context, sink) == []
        assert reminders(context) == [
            ("anna@example.lv", f"session:{sid}:reminder:P1D:20261210T0800Z", "cancelled")
        ]
        with context.database.session() as db:
            error = db.scalar(select(Delivery.last_error).where(Delivery.kind == "reminder"))
        assert error == "the session was cancelled"


def test_a_moved_session_is_reminded_at_its_new_time(tmp_path: Path, any_database_url: str) -> None:
    with network(tmp_path, any_database_url) as (context, sink):
        member(context, "anna@example.lv")
        sid = national_announced(context, sink)
        at(context, DAY_BEFORE_NATIONAL)
        remind(context)
        [first] = deliver(context, sink)
        assert subject(first) == NATIONAL_SUBJECT

        # A day later, to Friday 11 December, 14.00 Riga (12.00 UTC).
        with context.database.session() as db:
            new_start = dt.datetime(2026, 12, 11, 14, 0, tzinfo=RIGA)
            sessions.move(db, sessions.get(db, sid), new_start, "staff@example.lv")
        got = []
        for moment in (
            DAY_BEFORE_NATIONAL + dt.timedelta(minutes=1),
            HOUR_BEFORE_NATIONAL,  # the old hour: nothing
            dt.datetime(2026, 12, 10, 12, 0, tzinfo=UTC),
            dt.datetime(2026, 12, 10, 12, 1, tzinfo=UTC),
            dt.datetime(2026, 12, 11, 11, 0, tzinfo=UTC),
        ):
            at(context, moment)
            remind(context)
            got.append([subject(message) for message in deliver(context, sink)])

        moved = (
            "Atgādinājums: Jaunatnes lietu speciālistu videokonferences, "
            "piektdiena, 2026. gada 11. decembris, 14.00"
        )
        assert got == [[], [], [moved], [], [moved]]
        assert [ref for _to, ref, _status in reminders(context)] == [
            f"session:{sid}:reminder:P1D:20261210T0800Z",
            f"session:{sid}:reminder:P1D:20261211T1200Z",
            f"session:{sid}:reminder:PT1H:20261211T1200Z",
        ]


def test_a_reminder_of_the_old_time_still_queued_is_withdrawn_when_the_session_moves(
    tmp_path: Path,
) -> None:
    with network(tmp_path) as (context, sink):
        member(context, "anna@example.lv")
        sid = national_announced(context, sink)
        at(context, DAY_BEFORE_NATIONAL)
        remind(context)
        with context.database.session() as db:
            new_start = dt.datetime(2026, 12, 10, 15, 0, tzinfo=RIGA)
            sessions.move(db, sessions.get(db, sid), new_start, "staff@example.lv")
        remind(context)
        assert reminders(context) == [
            ("anna@example.lv", f"session:{sid}:reminder:P1D:20261210T0800Z", "cancelled"),
        ]
        # Five hours later (a day before 15.00 Riga, 13.00 UTC), the new time's reminder.
        at(context, DAY_BEFORE_NATIONAL + dt.timedelta(hours=5))
        remind(context)
        [message] = deliver(context, sink)
        assert "15.00–16.30" in body(message, "plain")


# --- who, and with which link ---------------------------------------------------------------------


def _register_member(context: Context, session: int, email: str, attendance: str) -> None:
    with context.database.session() as db:
        found = db.scalars(select(Member).where(Member.email == email)).one()
        registrations.register_member(db, context.clock, session, found, attendance)


def _register_visitor(
    context: Context, session: int, email: str, attendance: str, confirm: bool = True
) -> None:
    visitor = registrations.Visitor("Vika Viesīte", email, "Cēsis", "lv")
    with context.database.session() as db:
        registrations.ask_visitor(
            db, context.settings, context.clock, session, visitor, attendance, NETWORK
        )
    if confirm:
        with context.database.session() as db:
            row = db.scalars(select(Registration).where(Registration.email == email)).one()
            registrations.confirm_visitor(db, context.clock, row.id)


def test_registrants_and_followers_each_get_one_reminder_with_their_own_links(
    tmp_path: Path,
) -> None:
    with network(tmp_path) as (context, sink):
        nobody = Follows(False)
        member(context, "follower@example.lv", follows=regions("vidzeme"))
        member(context, "both@example.lv", follows=regions("vidzeme"))
        member(context, "room@example.lv", follows=nobody)
        member(context, "waiting@example.lv", follows=nobody)
        at(context, WEEK_BEFORE_VIDZEME)
        announce(context)
        deliver(context, sink)
        sid = session_id(context, VIDZEME, "2026-12-30")
        _register_member(context, sid, "room@example.lv", "room")
        _register_member(context, sid, "both@example.lv", "online")
        _register_visitor(context, sid, "vika@example.lv", "room")  # the room's second seat
        _register_member(context, sid, "waiting@example.lv", "room")  # the room is full
        _register_visitor(context, sid, "olga@example.lv", "online")
        _register_visitor(context, sid, "nora@example.lv", "online", confirm=False)
        deliver(context, sink)  # the visitors' confirmation links

        at(context, DAY_BEFORE_VIDZEME)
        remind(context)
        remind(context)
        arrived = deliver(context, sink)

        assert sorted(m["To"].addresses[0].addr_spec for m in arrived) == [
            "both@example.lv",
            "follower@example.lv",
            "olga@example.lv",
            "room@example.lv",
            "vika@example.lv",
        ]
        room = "Valmieras jauniešu centrs „Vinda“, Rīgas iela 10, Valmiera"
        page = f"https://tikls.example.lv/sessions/{sid}"
        readers = ("both", "follower", "olga", "room", "vika")
        texts = {
            f"{name}@example.lv": plain(to(arrived, f"{name}@example.lv")[0]) for name in readers
        }
        for address, text in texts.items():
            assert "Kad: trešdiena, 2026. gada 30. decembris, 13.00–16.00" in text, address
            assert f"Skatīties tiešraidē: {page}" in text, address
            # The join link is for members only.
            assert (VIDZEME_JOIN in text) == address.startswith(("both", "follower", "room"))
        assert (
            f"Kur: {room}\nJūsu pieteikums ir reģistrēts: vieta telpā ir jūsu."
            in texts["room@example.lv"]
        )
        assert (
            f"Kur: {room}\nJūsu pieteikums ir reģistrēts: vieta telpā ir jūsu."
            in texts["vika@example.lv"]
        )
        assert (
            "Kur: Tiešsaistē\nJūsu pieteikums dalībai tiešsaistē ir reģistrēts."
            in texts["olga@example.lv"]
        )
        assert "Jūsu pieteikums dalībai tiešsaistē ir reģistrēts." in texts["both@example.lv"]
        assert f"Kur: {room} · un tiešsaistē" in texts["follower@example.lv"]
        assert "reģistrēts" not in texts["follower@example.lv"]
        # Registrants get the link to cancel: a visitor hers, a member his own page.
        with context.database.session() as db:
            vika = db.scalars(select(Registration).where(Registration.email == "vika@example.lv"))
            assert registrations.link_url(context.settings, vika.one()) in texts["vika@example.lv"]
            room_member = db.scalars(select(Member).where(Member.email == "room@example.lv"))
            own = registrations.member_url(
                context.settings, sessions.get(db, sid), room_member.one()
            )
        assert own in texts["room@example.lv"]
        assert "lai vietu saņemtu nākamais gaidītājs" in texts["room@example.lv"]
        assert "Ja nevarat piedalīties, varat atcelt pieteikšanos:" in texts["olga@example.lv"]


# --- settings -------------------------------------------------------------------------------------


def test_an_empty_list_turns_reminders_off(tmp_path: Path) -> None:
    with smtp_server() as (sink, port):
        context = mail_context(
            tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}", VCS_REMINDERS_BEFORE=""
        )
        try:
            import_entries(context, tmp_path, national())
            member(context, "anna@example.lv")
            national_announced(context, sink)
            at(context, HOUR_BEFORE_NATIONAL)
            remind(context)
            assert reminders(context) == []
        finally:
            context.close()


@pytest.mark.parametrize("value", ["P1D 1H", "PT0M", "P", "P1W"])
def test_a_malformed_reminder_setting_is_refused_clearly(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        mail_context(tmp_path, VCS_REMINDERS_BEFORE=value)
    line = refused.value.problems[0].text("en")
    assert line.startswith("reminders.before (VCS_REMINDERS_BEFORE): ")
    assert 'is not an ISO 8601 duration like "P1D" or "PT1H"' in line
