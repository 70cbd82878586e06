"""Editing one session in the staff area: details, move, cancel, reinstate; the dashboard and the
audit log that show them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient

from tests.integration.test_staff_access import (
    ADMIN,
    EDITOR,
    csrf_of,
    first_session,
    log_in,
    staff_site,
)
from vcs.context import Context
from vcs.planning import sessions
from vcs.storage.models import AuditEntry, JobRun, Livestream, Session


def editor(context: Context, tmp_path: Path) -> tuple[TestClient, int, str]:
    """A logged-in editor, the first session and the CSRF token of its edit page."""
    client = staff_site(context, tmp_path)
    log_in(client, EDITOR)
    session = first_session(context)
    page = client.get(f"/staff/sessions/{session}")
    assert page.status_code == 200
    return client, session, csrf_of(page.text)


def stored(context: Context, session_id: int) -> Session:
    with context.database.session() as db:
        return sessions.get(db, session_id)


def test_an_editor_changes_titles_topics_and_speakers(context: Context, tmp_path: Path) -> None:
    client, session, token = editor(context, tmp_path)
    response = client.post(
        f"/staff/sessions/{session}/details",
        data={
            "csrf_token": token,
            "title_lv": "Jaunieši un mākslīgais intelekts",
            "title_en": "Young people and AI",
            "topic_lv": "Kā runāt par MI",
            "speakers": "Anna Bērziņa; lektore; LU\n\nJānis Kalniņš",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/staff/sessions/{session}?done=details"
    changed = stored(context, session)
    assert changed.title_lv == "Jaunieši un mākslīgais intelekts"
    assert changed.speakers == [
        {"name": "Anna Bērziņa", "role": "lektore", "organisation": "LU"},
        {"name": "Jānis Kalniņš", "role": "", "organisation": ""},
    ]
    assert changed.edited and changed.revision == 1
    page = client.get(response.headers["location"])
    assert "Sesijas informācija ir saglabāta." in page.text
    assert "Anna Bērziņa; lektore; LU" in page.text
    with context.database.session() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "edit")).one()
        assert entry.actor == EDITOR and entry.entity_id == str(session)


def test_a_speaker_without_a_name_is_refused_with_the_line(
    context: Context, tmp_path: Path
) -> None:
    client, session, token = editor(context, tmp_path)
    response = client.post(
        f"/staff/sessions/{session}/details",
        data={"csrf_token": token, "speakers": "Anna\n; lektore"},
    )
    assert response.status_code == 400
    assert "Runātāji, 2. rinda: runātājam jānorāda vārds." in response.text
    assert stored(context, session).speakers == []


def test_a_session_moves_in_its_series_time_zone(context: Context, tmp_path: Path) -> None:
    client, session, token = editor(context, tmp_path)
    move = {"csrf_token": token, "start": "2026-12-11T14:00"}
    # First the confirmation step, which changes nothing.
    asked = client.post(f"/staff/sessions/{session}/move", data=move)
    assert asked.status_code == 200
    assert "notiks piektdien, 2026. gada 11. decembrī, 14.00" in asked.text
    assert stored(context, session).start == dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC)
    response = client.post(f"/staff/sessions/{session}/move", data={**move, "confirm": "yes"})
    assert response.status_code == 303
    moved = stored(context, session)
    # 14.00 in Riga in December is 12.00 UTC; the session keeps its 90 minutes.
    assert moved.start == dt.datetime(2026, 12, 11, 12, 0, tzinfo=dt.UTC)
    assert moved.end - moved.start == dt.timedelta(minutes=90)
    bad = client.post(f"/staff/sessions/{session}/move", data={"csrf_token": token, "start": "rīt"})
    assert bad.status_code == 400
    assert "Norādiet datumu un laiku šādi" in bad.text


def test_cancel_needs_a_reason_and_reinstate_undoes_it(context: Context, tmp_path: Path) -> None:
    client, session, token = editor(context, tmp_path)
    url = f"/staff/sessions/{session}"
    empty = client.post(f"{url}/cancel", data={"csrf_token": token, "reason": "  "})
    assert empty.status_code == 400
    assert "Norādiet, kāpēc sesija tiek atcelta" in empty.text
    cancel = {"csrf_token": token, "reason": "Slimība", "reason_en": "Illness"}
    asked = client.post(f"{url}/cancel", data=cancel)
    assert asked.status_code == 200 and "Atcelt sesiju?" in asked.text
    assert stored(context, session).status == "scheduled"
    assert client.post(f"{url}/cancel", data={**cancel, "confirm": "yes"}).status_code == 303
    assert stored(context, session).cancel_reason == "Slimība"
    assert stored(context, session).cancel_reason_en == "Illness"
    page = client.get(url)
    assert "Atjaunot sesiju" in page.text and "Atcelt sesiju" not in page.text
    assert client.post(f"{url}/reinstate", data={"csrf_token": token}).status_code == 303
    assert stored(context, session).status == "scheduled"
    with context.database.session() as db:
        actions = db.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity == "session", AuditEntry.actor == EDITOR)
            .order_by(AuditEntry.id)
        ).all()
    assert actions == ["cancel", "reinstate"]


def test_an_unknown_session_is_404(context: Context, tmp_path: Path) -> None:
    client, _session, _token = editor(context, tmp_path)
    assert client.get("/staff/sessions/999999").status_code == 404


def test_the_dashboard_shows_livestream_errors_and_failed_jobs_and_sums_up_routine_runs(
    context: Context, tmp_path: Path
) -> None:
    client, session, _token = editor(context, tmp_path)
    now = context.clock.now()
    with context.database.session() as db:
        db.add(
            Livestream(
                session_id=session,
                provider="static",
                status="error",
                last_error="the room could not be made",
                error_count=3,
            )
        )
        db.add(JobRun(job="provision", started_at=now, outcome="failed", error="Boom\ntrace"))
        for minutes in range(20):
            at = now - dt.timedelta(minutes=minutes)
            db.add(JobRun(job="materialize", started_at=at, outcome="ok", summary="nothing to do"))
    page = client.get("/staff")
    assert page.status_code == 200
    assert f'href="/staff/sessions/{session}"' in page.text
    assert "the room could not be made" in page.text and "3 neizdevušies mēģinājumi" in page.text
    assert "Uzdevums neizdevās" in page.text and "Boom" in page.text and "trace" not in page.text
    # Twenty routine runs are one line: the job, how many runs, the last one.
    assert page.text.count("Sesiju veidošana no sērijām") == 1
    assert '<td data-label="Reizes">20</td>' in page.text
    assert "nothing to do" not in page.text
    assert page.text.count('class="row--failed"') == 1


def test_an_admin_reads_the_audit_log_newest_first_in_pages(
    context: Context, tmp_path: Path
) -> None:
    client = staff_site(context, tmp_path)
    log_in(client, ADMIN)
    session = first_session(context)
    with context.database.session() as db:
        found = sessions.get(db, session)
        for number in range(60):
            sessions.update_details(db, found, "cli", topic_lv=f"Tēma {number}")
    first = client.get("/staff/audit")
    assert first.status_code == 200
    assert "1. lapa no 2" in first.text
    assert first.text.index("Tēma 59") < first.text.index("Tēma 57")
    second = client.get("/staff/audit?page=2")
    assert "2. lapa no 2" in second.text and "Tēma 0" in second.text
    accounts_page = client.get("/staff/staff")
    assert EDITOR in accounts_page.text and "Administrators" in accounts_page.text


def test_a_session_that_took_place_says_so_and_offers_no_cancelling(
    context: Context, tmp_path: Path
) -> None:
    client, session, _token = editor(context, tmp_path)
    assert "Atcelt sesiju" in client.get(f"/staff/sessions/{session}").text
    with context.database.session() as db:
        found = sessions.get(db, session)
        found.start = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
        found.end = found.start + dt.timedelta(hours=2)
        found.recording_url = "https://www.youtube.com/watch?v=ieraksts"

    page = client.get(f"/staff/sessions/{session}").text
    assert "<dd>Notikusi</dd>" in page
    assert "Atcelt sesiju" not in page
