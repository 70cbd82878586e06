"""The follow-up after a session: when its recording appears (set by staff or found by the
livestream-status job), calendars learn the link by a higher SEQUENCE and those who got the
announcement receive one short e-mail with the recording, in their language, from a real SMTP
server; running the job again sends nothing more.

The national videoconference of Thursday 10 December 2026 runs 10.00-11.30 Riga (08.00-09.30 UTC).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from tests.factories import NATIONAL, import_entries, national, session_id
from tests.integration.test_announcements import (
    WEEK_BEFORE_NATIONAL,
    announce,
    announced_session,
    at,
    body,
    deliver,
    feed_event,
    member,
    subject,
    to,
)
from tests.mail_factories import mail_context, smtp_server
from vcs.livestream.jobs import poll_status, provision
from vcs.planning import sessions
from vcs.storage.models import AuditEntry, Delivery, Session

RECORDING = "https://video.example.lv/ieraksti/2026-12-10"
AFTER_THE_SESSION = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)


def uid_and_sequence(context: object, sid: int) -> tuple[str, int]:
    with context.database.session() as db:  # type: ignore[attr-defined]
        found = db.get(Session, sid)
        assert found is not None
        return found.uid, found.revision


def test_a_recording_set_by_staff_raises_sequence_and_sends_one_follow_up_per_announced_member(
    tmp_path: Path, any_database_url: str
) -> None:
    with smtp_server() as (sink, port):
        context = mail_context(tmp_path, any_database_url, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        try:
            import_entries(context, tmp_path, national())
            member(context, "anna@example.lv")
            member(context, "john@example.lv", language="en")
            at(context, WEEK_BEFORE_NATIONAL)
            sid = announced_session(context, sink, NATIONAL, "2026-12-10")
            # Joined after the announcement went out: no follow-up for a session never announced
            # to them.
            member(context, "later@example.lv")
            uid, _revision = uid_and_sequence(context, sid)

            at(context, AFTER_THE_SESSION)
            before = feed_event(context, "/calendar.ics", uid)["SEQUENCE"]
            with context.database.session() as db:
                sessions.update_details(
                    db, sessions.get(db, sid), "staff@example.lv", recording_url=RECORDING
                )
            event = feed_event(context, "/calendar.ics", uid)
            assert event["SEQUENCE"] == before + 1
            assert RECORDING in str(event["DESCRIPTION"])

            run = announce(context)
            assert "1 follow-ups with recordings" in run.summary
            messages = deliver(context, sink)
            assert sorted(m["To"].addresses[0].addr_spec for m in messages) == [
                "anna@example.lv",
                "john@example.lv",
            ]
            [latvian] = to(messages, "anna@example.lv")
            [english] = to(messages, "john@example.lv")
            assert subject(latvian) == (
                "Ieraksts: Jaunatnes lietu speciālistu videokonferences, "
                "ceturtdiena, 2026. gada 10. decembris, 10.00"
            )
            assert subject(english) == (
                "Recording: Youth work videoconferences, Thursday, 10 December 2026, 10:00"
            )
            for message in (latvian, english):
                assert RECORDING in body(message, "plain")
                assert f'href="{RECORDING}"' in body(message, "html")
            assert body(latvian, "plain").startswith("Paldies par interesi: ieraksts ir pieejams.")

            # Again, and once more after another edit of the recording: nothing new.
            announce(context)
            with context.database.session() as db:
                sessions.update_details(
                    db, sessions.get(db, sid), "staff@example.lv", recording_url=RECORDING + "b"
                )
            announce(context)
            assert deliver(context, sink) == []
            assert sink.copies["anna@example.lv"] == 2  # the announcement and the follow-up
            assert sink.copies["later@example.lv"] == 0
            with context.database.session() as db:
                kinds = db.scalars(select(Delivery.kind).order_by(Delivery.id)).all()
            assert kinds.count("follow-up") == 2
        finally:
            context.close()


def test_a_recording_found_by_the_livestream_job_raises_sequence_and_is_followed_up_once(
    tmp_path: Path,
) -> None:
    with smtp_server() as (sink, port):
        context = mail_context(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        try:
            livestream = {
                "provider": "static",
                "watch_url": "https://meet.jit.si/tikls-{date}",
                "recording_url": "https://video.example.lv/ieraksti/{date}",
            }
            import_entries(context, tmp_path, national(livestream=livestream))
            member(context, "anna@example.lv")
            at(context, WEEK_BEFORE_NATIONAL)
            sid = announced_session(context, sink, NATIONAL, "2026-12-10")
            provision(context)
            uid, revision = uid_and_sequence(context, sid)

            at(context, dt.datetime(2026, 12, 10, 9, 31, tzinfo=dt.UTC))
            assert poll_status(context).ended == 1
            _uid, after = uid_and_sequence(context, sid)
            assert after == revision + 1
            assert feed_event(context, "/calendar.ics", uid)["SEQUENCE"] == after
            with context.database.session() as db:
                [entry] = db.scalars(
                    select(AuditEntry).where(AuditEntry.action == "recording")
                ).all()
                assert entry.actor == "scheduler" and entry.entity_id == str(sid)

            announce(context)
            [follow_up] = deliver(context, sink)
            assert RECORDING in body(follow_up, "plain")
            poll_status(context)
            announce(context)
            assert deliver(context, sink) == []
            assert sink.copies["anna@example.lv"] == 2
        finally:
            context.close()


def test_a_session_nobody_was_told_of_gets_no_follow_up(tmp_path: Path) -> None:
    with smtp_server() as (sink, port):
        context = mail_context(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        try:
            import_entries(context, tmp_path, national())
            sid = session_id(context, NATIONAL, "2026-12-10")
            at(context, AFTER_THE_SESSION)
            member(context, "anna@example.lv")
            with context.database.session() as db:
                sessions.update_details(db, sessions.get(db, sid), "test", recording_url=RECORDING)
            announce(context)
            assert deliver(context, sink) == []
        finally:
            context.close()
