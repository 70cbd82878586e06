"""Changing one session's place and links, from the command line (`vcs sessions edit`) and the
staff session page: the revision (SEQUENCE) rises, the members who got the announcement get a
notice, and the audit log has the change; the digest's changes block lists a new place.

The national videoconference of Thursday 10 December 2026 is announced a week before.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient

from tests.conftest import isolated_environ
from tests.factories import NATIONAL, import_entries, national
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
    vevent,
)
from tests.integration.test_staff_access import EDITOR, add_staff, csrf_of, log_in
from tests.mail_factories import mail_context, smtp_server
from vcs.planning import sessions
from vcs.storage.models import AuditEntry, Session
from vcs.web.app import create_app

LIEPAJA = {
    "kind": "hybrid",
    "venue": "Liepājas Jauniešu māja",
    "address": "Peldu iela 5, Liepāja",
    "municipality": "liepaja",
}
JOIN = "https://zoom.example.com/j/81234567890?pwd=tikls"


def vcs(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`vcs ARGS` in its own process, on the installation under tmp_path."""
    return subprocess.run(
        [sys.executable, "-m", "vcs", *args],
        env={"PATH": "/usr/bin:/bin", **isolated_environ(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )


def stored(context: object, sid: int) -> Session:
    with context.database.session() as db:  # type: ignore[attr-defined]
        return sessions.get(db, sid)


def audit_entries(context: object, sid: int) -> list[AuditEntry]:
    with context.database.session() as db:  # type: ignore[attr-defined]
        query = select(AuditEntry).where(
            AuditEntry.entity == "session", AuditEntry.entity_id == str(sid)
        )
        return list(db.scalars(query.order_by(AuditEntry.id)))


def test_the_command_changes_place_links_and_topic_and_members_get_one_notice(
    tmp_path: Path,
) -> None:
    with smtp_server() as (sink, port):
        # The same SQLite file as the `vcs` processes use (isolated_environ under tmp_path).
        context = mail_context(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        try:
            import_entries(context, tmp_path, national())
            member(context, "anna@example.lv")
            at(context, WEEK_BEFORE_NATIONAL)
            sid = announced_session(context, sink, NATIONAL, "2026-12-10")
            before = stored(context, sid)

            result = vcs(
                tmp_path, "sessions", "edit", str(sid),
                "--place-kind", "hybrid", "--venue", LIEPAJA["venue"],
                "--address", LIEPAJA["address"], "--municipality", "liepaja",
                "--watch-url", "https://www.youtube.com/watch?v=tikls",
                "--join-url", JOIN, "--topic", "Darbs ar NEET jauniešiem",
                "--topic-en", "Working with NEET youth",
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            assert result.stdout == f"session {sid} changed\n"

            after = stored(context, sid)
            assert after.place == LIEPAJA
            assert after.join_url == JOIN
            assert after.watch_url == "https://www.youtube.com/watch?v=tikls"
            assert (after.topic_lv, after.topic_en) == (
                "Darbs ar NEET jauniešiem",
                "Working with NEET youth",
            )
            assert after.revision == before.revision + 1 and after.edited
            [entry] = audit_entries(context, sid)
            assert (entry.actor, entry.action) == ("cli", "edit")
            assert entry.before is not None and entry.after is not None
            assert entry.before["place"] is None and entry.after["place"] == LIEPAJA
            assert entry.after["join_url"] == JOIN

            announce(context)
            [notice] = deliver(context, sink)
            assert subject(notice).startswith("Mainīta norises vieta: ")
            text = body(notice, "plain")
            assert "Kur: Liepājas Jauniešu māja, Peldu iela 5, Liepāja · un tiešsaistē" in text
            assert f"Pievienoties sanāksmei: {JOIN}" in text
            assert vevent(notice)["SEQUENCE"] == after.revision
            assert vevent(notice)["LOCATION"] == "Liepājas Jauniešu māja, Peldu iela 5, Liepāja"

            # The same values again change nothing and tell nobody anything.
            again = vcs(tmp_path, "sessions", "edit", str(sid), "--join-url", JOIN)
            assert again.stdout == f"session {sid} unchanged\n"
            announce(context)
            assert deliver(context, sink) == []
        finally:
            context.close()


def test_the_command_refuses_a_bad_link_or_kind_in_one_line(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    try:
        import_entries(context, tmp_path, national())
        sid = sessions_first(context)
        bad = vcs(tmp_path, "sessions", "edit", str(sid), "--join-url", "zoom.example.com/j/1")
        assert bad.returncode == 1
        assert bad.stderr.startswith("vcs: ")
        assert "join_url" in bad.stderr and "http(s)" in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
        venue = vcs(tmp_path, "sessions", "edit", str(sid), "--place-kind", "venue")
        assert venue.returncode == 1 and "venue" in venue.stderr
        unknown = vcs(tmp_path, "sessions", "edit", str(sid), "--municipality", "atlantida",
                      "--place-kind", "hybrid", "--venue", "A", "--address", "B")  # fmt: skip
        assert unknown.returncode == 1 and "atlantida" in unknown.stderr
        nothing = vcs(tmp_path, "sessions", "edit", str(sid))
        assert nothing.returncode != 0
        assert stored(context, sid).revision == 0
        assert audit_entries(context, sid) == []
    finally:
        context.close()


def sessions_first(context: object) -> int:
    from tests.factories import session_id

    return session_id(context, NATIONAL, "2026-12-10")  # type: ignore[arg-type]


def test_the_staff_page_changes_place_and_links_and_members_hear_of_the_new_link(
    tmp_path: Path,
) -> None:
    with smtp_server() as (sink, port):
        context = mail_context(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        try:
            import_entries(context, tmp_path, national())
            add_staff(context, EDITOR, "editor")
            member(context, "anna@example.lv")
            at(context, WEEK_BEFORE_NATIONAL)
            sid = announced_session(context, sink, NATIONAL, "2026-12-10")
            uid = stored(context, sid).uid
            sequence = feed_event(context, "/calendar.ics", uid)["SEQUENCE"]

            client = TestClient(
                create_app(context), base_url="https://testserver", follow_redirects=False
            )
            log_in(client, EDITOR)
            page = client.get(f"/staff/sessions/{sid}")
            assert "Norises vieta un saites" in page.text
            form = {
                "csrf_token": csrf_of(page.text),
                "place_kind": "online",
                "place_venue": "",
                "place_address": "",
                "place_municipality": "",
                "watch_url": "",
                "join_url": JOIN,
                "recording_url": "",
            }
            response = client.post(f"/staff/sessions/{sid}/place", data=form)
            assert response.status_code == 303
            assert response.headers["location"] == f"/staff/sessions/{sid}?done=place"
            shown = client.get(response.headers["location"])
            assert "Sesijas norises vieta un saites ir saglabātas." in shown.text
            assert f'value="{JOIN}"' in shown.text

            assert stored(context, sid).join_url == JOIN
            # The series' place was online already: the session keeps following the series.
            assert stored(context, sid).place is None
            assert feed_event(context, "/calendar.ics", uid)["SEQUENCE"] == sequence + 1
            [entry] = audit_entries(context, sid)
            assert (entry.actor, entry.action, entry.after) == (EDITOR, "edit", {"join_url": JOIN})

            announce(context)
            [notice] = deliver(context, sink)
            assert subject(notice).startswith("Jauna saite: ")
            assert body(notice, "plain").startswith("Sesijai ir jauna saite.")
            assert f"Pievienoties sanāksmei: {JOIN}" in body(notice, "plain")

            # The same form again: nothing changes, nobody is told.
            again = client.post(f"/staff/sessions/{sid}/place", data=form)
            assert again.headers["location"] == f"/staff/sessions/{sid}?done=unchanged"
            bad = client.post(
                f"/staff/sessions/{sid}/place",
                data={**form, "place_kind": "venue", "watch_url": "ftp://x"},
            )
            assert bad.status_code == 400
            assert 'aria-invalid="true"' in bad.text
            announce(context)
            assert deliver(context, sink) == []
        finally:
            context.close()


def test_the_digest_lists_a_new_place_among_the_changes(tmp_path: Path) -> None:
    from vcs import digest

    context = mail_context(tmp_path)
    try:
        import_entries(context, tmp_path, national())
        sid = sessions_first(context)
        at(context, WEEK_BEFORE_NATIONAL)
        with context.database.session() as db:
            sessions.update_details(db, sessions.get(db, sid), "staff", place=LIEPAJA)
        with context.database.session() as db:
            found, _created = digest.draft(db, context.settings, context.clock.now(), "staff")
            changes = digest.changes(db, context.settings, found, "lv")
        assert [(c.kind, c.title) for c in changes] == [
            ("place", "Jaunatnes lietu speciālistu videokonferences")
        ]
        assert changes[0].was == "Tiešsaistē"
    finally:
        context.close()
