"""Registration through a running server and a real SMTP server (issue 16, "done when").

The app runs under uvicorn on a loopback port; members use the links their e-mails carry; the
outbox sends to aiosmtpd. SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import select

from tests.factories import VIDZEME, import_entries, live_server, session_id, vidzeme
from tests.mail_factories import add_members, mail_context, smtp_server
from vcs.context import Context
from vcs.mail.sender import Sender
from vcs.planning import registrations, sessions
from vcs.states import SessionStatus
from vcs.storage.models import Member, Registration

DATE = "2026-12-30"


def open_session(context: Context, tmp_path: Path, capacity: int, **more: object) -> int:
    setting = {"open": True, "capacity": capacity, "closes": "P1D", **more}
    import_entries(context, tmp_path, vidzeme(registration=setting))
    return session_id(context, VIDZEME, DATE)


def member_links(context: Context, session: int, members: list[int]) -> dict[int, str]:
    """Each member's one-click registration link, as their announcement carries it (a path)."""
    with context.database.session() as db:
        found = sessions.get(db, session)
        links = {}
        for member_id in members:
            member = db.get(Member, member_id)
            assert member is not None
            url = registrations.member_url(context.settings, found, member)
            links[member_id] = url.removeprefix(context.settings.base_url)
        return links


def statuses(context: Context, session: int) -> dict[int | None, str]:
    with context.database.session() as db:
        rows = db.scalars(select(Registration).where(Registration.session_id == session))
        return {row.member_id: row.status for row in rows}


def test_capacity_waiting_list_promotion_and_refusals(
    tmp_path: Path, any_database_url: str
) -> None:
    with smtp_server() as (sink, port):
        context = mail_context(tmp_path, any_database_url, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        session = open_session(context, tmp_path, capacity=3)
        members = add_members(context, 6)
        links = member_links(context, session, members)
        with live_server(context) as base, httpx.Client(base_url=base) as client:
            # A mail scanner opening the link registers nobody.
            assert client.get(links[members[0]]).status_code == 200
            assert statuses(context, session) == {}

            for member in members[:5]:
                answer = client.post(links[member], data={"action": "register"})
                assert answer.status_code in (200, 303)
            found = statuses(context, session)
            assert [found[m] for m in members[:5]] == ["registered"] * 3 + ["waiting"] * 2

            # Registering twice is one registration.
            client.post(links[members[0]], data={"action": "register"})
            with context.database.session() as db:
                assert registrations.counts(db, session) == registrations.Counts(room=3, waiting=2)

            # One cancellation promotes exactly the first on the list, who is mailed once.
            client.post(links[members[1]], data={"action": "cancel"})
            found = statuses(context, session)
            assert (found[members[1]], found[members[3]], found[members[4]]) == (
                "cancelled",
                "registered",
                "waiting",
            )
            Sender(context).run()
            Sender(context).run()
            promoted = [
                m for m in sink.received() if m["To"].addresses[0].addr_spec == "biedrs3@example.lv"
            ]
            assert len(promoted) == 1
            assert sink.copies["biedrs4@example.lv"] == 0

            # A cancelled session refuses.
            with context.database.session() as db:
                sessions.get(db, session).status = SessionStatus.CANCELLED
            refused = client.post(links[members[5]], data={"action": "register"})
            assert refused.status_code == 400
            assert members[5] not in statuses(context, session)


def test_a_closed_session_refuses_through_the_page(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = open_session(context, tmp_path, capacity=3, closes="P40D")  # closed on 20 November
    [member] = add_members(context, 1)
    link = member_links(context, session, [member])[member]
    with live_server(context) as base, httpx.Client(base_url=base) as client:
        refused = client.post(link, data={"action": "register"})
        assert refused.status_code == 400
        assert "pieteikšanās" in refused.text.lower()
    assert statuses(context, session) == {}


def test_two_requests_for_the_last_seat_give_one_seat(
    tmp_path: Path, any_database_url: str
) -> None:
    context = mail_context(tmp_path, any_database_url)
    session = open_session(context, tmp_path, capacity=1)
    members = add_members(context, 2)
    links = member_links(context, session, members)
    start = threading.Barrier(len(members))

    with live_server(context) as base:

        def one(member: int) -> int:
            with httpx.Client(base_url=base) as client:
                start.wait()
                return client.post(links[member], data={"action": "register"}).status_code

        with ThreadPoolExecutor(len(members)) as pool:
            answers = list(pool.map(one, members))

    assert all(answer in (200, 303) for answer in answers)
    assert sorted(statuses(context, session).values()) == ["registered", "waiting"]
