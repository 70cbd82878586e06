"""The demo shows who comes: registrations with a waiting list, and a meeting that has ended with
its attendance, certificates and feedback (vcs/demo.py).

NOW (23 November 2026) is before the first Vidzeme meeting of the series file (30 December), so
the demo adds last week's meeting itself, on Wednesday 11 November.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.mail_factories import NOW, mail_context
from vcs import feedback
from vcs.attendance import records
from vcs.certificates import issue
from vcs.context import Context
from vcs.demo import WHO_COMES, load_demo
from vcs.planning import registrations
from vcs.storage.models import Delivery, Member, Registration, Series, Session

RIGA = dt.timezone(dt.timedelta(hours=2))


def vidzeme_sessions(context: Context) -> list[Session]:
    with context.database.session() as db:
        series = db.scalars(select(Series).where(Series.slug == WHO_COMES)).one()
        return list(
            db.scalars(
                select(Session).where(Session.series_id == series.id).order_by(Session.start)
            )
        )


def deliveries(context: Context) -> dict[str, int]:
    with context.database.session() as db:
        rows = db.execute(select(Delivery.kind, func.count()).group_by(Delivery.kind))
        return {kind: int(number) for kind, number in rows}


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_demo_has_registrations_a_waiting_list_and_a_meeting_with_its_results(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if database == "postgres" else None
    context = mail_context(tmp_path, url)
    said = "\n".join(load_demo(context))
    assert "takes registrations (12 seats): 12 in the room, 4 online, 2 waiting" in said
    assert "(ended): 7 attended, 7 certificates released, 4 feedback answers" in said

    past, upcoming, *later = vidzeme_sessions(context)
    assert past.end <= NOW < upcoming.start
    assert past.start == dt.datetime(2026, 11, 11, 13, 0, tzinfo=RIGA)
    assert past.topic_lv.startswith("Jauniešu garīgā veselība")
    assert all(session.registration is None for session in later)
    with context.database.session() as db:
        # The next meeting: the room full, some online, two waiting, the first come seated.
        assert upcoming.registration == {"open": True, "capacity": 12, "closes": "P1D"}
        assert registrations.choices(upcoming, NOW) == ("room", "online")
        assert registrations.counts(db, upcoming.id) == registrations.Counts(
            room=12, online=4, waiting=2
        )
        rows = registrations.registrants(db, upcoming.id)
        waiting = [row for row in rows if row.status == registrations.WAITING]
        assert [row.attendance for row in waiting] == ["room", "room"]
        assert max(row.asked_at for row in rows if row not in waiting) < waiting[0].asked_at
        members = {member.email: member.name for member in db.scalars(select(Member))}
        assert all(members[row.email] == row.name for row in rows)
        assert any(char in "āčēģīķļņšūž" for row in rows for char in row.name)

        # Last week's meeting: marked (one did not come), certificates out, feedback in.
        attended = records.attendees(db, past.id)
        assert len(attended) == 7
        assert {row.attendance for row in attended} == {"room", "online"}
        assert len(issue.of_session(db, past.id)) == 7
        summary = feedback.summary(db, past.id)
        assert summary.answers == 4
        assert summary.average == 4.25
        assert "Pārtraukums varētu būt garāks." in summary.improve
        assert feedback.progress(db, past, NOW).asked == 7
        assert registrations.counts(db, past.id).taken == 8

    # Only the mail staff would queue too: each attendee's certificate and feedback request.
    assert deliveries(context) == {"certificate": 7, "feedback": 7}
    context.close()


def test_the_demo_adds_none_of_it_again(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    list(load_demo(context))
    meetings = len(vidzeme_sessions(context))
    with context.database.session() as db:
        before = db.scalar(select(func.count()).select_from(Registration))
    said = "\n".join(load_demo(context))
    assert "takes registrations" not in said and "(ended)" not in said
    assert len(vidzeme_sessions(context)) == meetings
    with context.database.session() as db:
        assert db.scalar(select(func.count()).select_from(Registration)) == before
    assert deliveries(context) == {"certificate": 7, "feedback": 7}
    context.close()
