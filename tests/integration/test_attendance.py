"""Attendance (issue 17): staff mark registrants on the session page; the meeting tool's report
(Zoom, Teams, Jitsi/BigBlueButton) is imported from the staff page with a review, and with
`vcs attendance import`, all or nothing, measured against the minimum presence."""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.conftest import isolated_environ
from tests.factories import VIDZEME, import_entries, live_server, session_id, vidzeme
from tests.integration.test_staff_access import EDITOR, add_staff, csrf_of, log_in
from tests.mail_factories import add_members, mail_context
from vcs.attendance import records, reports
from vcs.attendance.reports import ReportError
from vcs.attendance.review import import_report
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.errors import VcsError
from vcs.planning import registrations, sessions
from vcs.storage.models import Attendance, AuditEntry, Member, Registration
from vcs.web.app import create_app

DATA = Path(__file__).parent.parent / "data" / "attendance"
ZOOM = DATA / "zoom-participants.csv"
TEAMS = DATA / "teams-attendance.csv"
JITSI = DATA / "jitsi-attendance.csv"
BAD = DATA / "zoom-bad.csv"
# The hybrid Vidzeme meeting of 30 December, 13.00–16.00 in Riga (11.00–14.00 UTC): 180 minutes,
# so 75 % is 135 minutes.
DATE = "2026-12-30"
DURING = dt.datetime(2026, 12, 30, 12, 0, tzinfo=dt.UTC)
# The staff cookie is Secure behind https; the test client speaks http.
HTTP = "http://127.0.0.1:8000"


def attended_session(context: Context, tmp_path: Path) -> tuple[int, list[int]]:
    """The Vidzeme meeting with biedrs0 (online) and biedrs1 (room) registered, and the visitor
    Vika; members biedrs2 and biedrs3 not registered; the clock in the middle of the session."""
    setting = {"open": True, "capacity": 10, "closes": "P1D"}
    import_entries(context, tmp_path, vidzeme(registration=setting))
    session = session_id(context, VIDZEME, DATE)
    members = add_members(context, 4)
    with context.database.session() as db:
        for member, how in ((members[0], "online"), (members[1], "room")):
            found = db.get(Member, member)
            assert found is not None
            registrations.register_member(db, context.clock, session, found, how)
        db.add(
            Registration(
                session_id=session,
                email="vika@example.lv",
                name="Vika Visitore",
                municipality="Cēsu novads",
                attendance="room",
                status="registered",
                asked_at=context.clock.now(),
            )
        )
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(DURING - context.clock.now())
    return session, members


def recorded(context: Context, session: int) -> dict[str, tuple[str, int | None, str]]:
    """email -> (attendance, minutes, source) of everyone recorded."""
    with context.database.session() as db:
        return {
            row.email: (row.attendance, row.minutes, row.source)
            for row in records.attendees(db, session)
        }


@pytest.fixture
def site(any_database_url: str, tmp_path: Path) -> tuple[Context, TestClient]:
    """An installation on SQLite or PostgreSQL with an editor, and a client (logged in by
    the test once the clock is where it wants it: a log-in lasts staff.session_hours)."""
    context = mail_context(tmp_path, any_database_url, VCS_BASE_URL=HTTP)
    add_staff(context, EDITOR, "editor")
    return context, TestClient(create_app(context), follow_redirects=False)


# -- marking on the staff session page ------------------------------------------------------------


def test_staff_mark_registrants_on_the_running_server(
    site: tuple[Context, TestClient], tmp_path: Path
) -> None:
    context, _client = site
    session, _members = attended_session(context, tmp_path)
    with context.database.session() as db:
        ids = {row.email: row.id for row in registrations.registrants(db, session)}

    with live_server(context) as base, httpx.Client(base_url=base) as client:
        log_in(client, EDITOR)  # type: ignore[arg-type]
        page = client.get(f"/staff/sessions/{session}?lang=lv").text
        section = page[page.index('id="attendance-heading"') :]
        assert "Apmeklējums" in section and "Ērika Ūdre 1" in section
        assert "Vika Visitore" in section
        assert f'name="attended_{ids["biedrs1@example.lv"]}" value="room"' in section

        form = {
            "csrf_token": csrf_of(page),
            f"attended_{ids['biedrs0@example.lv']}": "online",
            f"attended_{ids['biedrs1@example.lv']}": "room",
            f"attended_{ids['vika@example.lv']}": "",
        }
        saved = client.post(f"/staff/sessions/{session}/attendance", data=form)
        assert saved.status_code == 303
        assert recorded(context, session) == {
            "biedrs0@example.lv": ("online", None, "marked"),
            "biedrs1@example.lv": ("room", None, "marked"),
        }
        after = client.get(saved.headers["location"]).text
        assert "Apmeklējums ir saglabāts." in after
        assert f'name="attended_{ids["biedrs1@example.lv"]}" value="room" checked' in after

        # Unmarking removes the row; the audit log says who changed what.
        form[f"attended_{ids['biedrs0@example.lv']}"] = ""
        client.post(f"/staff/sessions/{session}/attendance", data=form)
    assert set(recorded(context, session)) == {"biedrs1@example.lv"}
    with context.database.session() as db:
        entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "attendance")).all()
        assert [entry.actor for entry in entries] == [EDITOR, EDITOR]
        assert entries[-1].after == {"biedrs0@example.lv": ""}


def test_attendance_is_refused_before_the_session_starts(tmp_path: Path) -> None:
    context = mail_context(tmp_path, VCS_BASE_URL=HTTP)
    add_staff(context, EDITOR, "editor")
    client = TestClient(create_app(context), follow_redirects=False)
    log_in(client, EDITOR)
    setting = {"open": True, "capacity": 10, "closes": "P1D"}
    import_entries(context, tmp_path, vidzeme(registration=setting))
    session = session_id(context, VIDZEME, DATE)
    [member] = add_members(context, 1)
    with context.database.session() as db:
        found = db.get(Member, member)
        assert found is not None
        registration = registrations.register_member(db, context.clock, session, found, "room")
        registration_id = registration.id

    page = client.get(f"/staff/sessions/{session}?lang=lv").text
    assert "Apmeklējumu var atzīmēt, kad sesija ir sākusies." in page
    assert f"attended_{registration_id}" not in page
    refused = client.post(
        f"/staff/sessions/{session}/attendance",
        data={"csrf_token": csrf_of(page), f"attended_{registration_id}": "room"},
    )
    assert refused.status_code == 400
    form_page = client.get(f"/staff/sessions/{session}/attendance/import?lang=lv").text
    assert "Apmeklējumu var atzīmēt, kad sesija ir sākusies." in form_page
    assert 'type="file"' not in form_page
    uploaded = client.post(
        f"/staff/sessions/{session}/attendance/import",
        data={"csrf_token": csrf_of(page)},
        files={"file": ("zoom.csv", ZOOM.read_bytes(), "text/csv")},
    )
    assert uploaded.status_code == 400
    assert "apmeklējumu var atzīmēt, kad sesija ir sākusies" in uploaded.text
    assert recorded(context, session) == {}
    with pytest.raises(VcsError) as caught:
        import_report(context, session, ZOOM.read_bytes(), "zoom.csv", "test")
    assert caught.value.code == "attendance.not-started"


# -- importing a report on the staff page ---------------------------------------------------------


def test_a_zoom_report_is_reviewed_then_saved_from_the_staff_page(
    site: tuple[Context, TestClient], tmp_path: Path
) -> None:
    context, client = site
    session, members = attended_session(context, tmp_path)
    log_in(client, EDITOR)
    form_page = client.get(f"/staff/sessions/{session}/attendance/import?lang=lv").text
    assert "135 minūtes" in form_page  # 75 % of 180 minutes

    reviewed = client.post(
        f"/staff/sessions/{session}/attendance/import",
        data={"csrf_token": csrf_of(form_page)},
        files={"file": ("zoom.csv", ZOOM.read_bytes(), "text/csv")},
    )
    assert reviewed.status_code == 200
    text = html.unescape(reviewed.text)
    assert "nekas vēl nav saglabāts" in text
    assert recorded(context, session) == {}  # nothing before "Save"
    row = re.search(r"<tr>\s*<td>Ērika Ūdre 2</td>.*?</tr>", text, re.S)
    assert row and "netiek skaitīts: mazāk par minimumu" in row.group(0)
    assert "Zane (iPhone)" in text and "netiek saglabāts" in text

    report = re.search(r'name="report" value="([^"]+)"', reviewed.text)
    assert report is not None
    saved = client.post(
        f"/staff/sessions/{session}/attendance/import/save",
        data={"csrf_token": csrf_of(reviewed.text), "name": "zoom.csv", "report": report.group(1)},
    )
    assert saved.status_code == 200
    assert recorded(context, session) == {
        "jaunatne@example.lv": ("online", 189, "zoom"),
        "biedrs0@example.lv": ("online", 184, "zoom"),
        # Two stays, added up; the address matched whatever its case in the report.
        "biedrs1@example.lv": ("online", 172, "zoom"),
        "janis.kalnins@example.com": ("online", 180, "zoom"),
    }
    with context.database.session() as db:
        rows = {row.email: row for row in db.scalars(select(Attendance))}
        assert rows["biedrs1@example.lv"].member_id == members[1]
        assert rows["biedrs1@example.lv"].registration_id is not None
        assert rows["janis.kalnins@example.com"].member_id is None


def test_a_report_with_bad_lines_imports_nothing_and_names_each_line(
    site: tuple[Context, TestClient], tmp_path: Path
) -> None:
    context, client = site
    session, _ = attended_session(context, tmp_path)
    log_in(client, EDITOR)
    form_page = client.get(f"/staff/sessions/{session}/attendance/import?lang=en").text

    refused = client.post(
        f"/staff/sessions/{session}/attendance/import",
        data={"csrf_token": csrf_of(form_page)},
        files={"file": ("zoom-bad.csv", BAD.read_bytes(), "text/csv")},
    )

    assert refused.status_code == 400
    cells = re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td></tr>", html.unescape(refused.text))
    assert [line for line, _ in cells] == ["3", "4", "5"]
    assert "'biedrs1@@example.lv' is not an e-mail address" in cells[0][1]
    assert "'trīs stundas' is not a length of time" in cells[1][1]
    assert 'name="report"' not in refused.text  # nothing to save
    assert recorded(context, session) == {}
    # A tampered review refuses the same way on save.
    tampered = client.post(
        f"/staff/sessions/{session}/attendance/import/save",
        data={
            "csrf_token": csrf_of(form_page),
            "name": "zoom.csv",
            "report": base64.b64encode(BAD.read_bytes()).decode(),
        },
    )
    assert tampered.status_code == 400
    assert recorded(context, session) == {}


def test_a_teams_report_counts_the_time_in_the_meeting_not_first_join_to_last_leave(
    site: tuple[Context, TestClient], tmp_path: Path
) -> None:
    context, _client = site
    session, members = attended_session(context, tmp_path)

    review = import_report(context, session, TEAMS.read_bytes(), "teams.csv", "test")

    assert review.tool == "teams"
    assert review.minimum == 135
    people = {person.email: person for person in review.people}
    # 13.00 to 16.00, but "In-Meeting Duration" 2h 10m: under 135 minutes.
    assert (people["biedrs1@example.lv"].minutes, people["biedrs1@example.lv"].outcome) == (
        130,
        "under",
    )
    assert people["biedrs3@example.lv"].member_id == members[3]  # "Biedrs3@Example.lv"
    assert people["biedrs3@example.lv"].registration_id is None
    assert recorded(context, session) == {
        "jaunatne@example.lv": ("online", 186, "teams"),
        "biedrs0@example.lv": ("online", 181, "teams"),
        "biedrs3@example.lv": ("online", 170, "teams"),
    }
    # The same report again changes nothing.
    again = import_report(context, session, TEAMS.read_bytes(), "teams.csv", "test")
    assert again.count("new", "updated") == 0


def test_the_minimum_presence_is_a_setting(tmp_path: Path) -> None:
    context = mail_context(tmp_path, VCS_ATTENDANCE_MIN_PRESENCE="0.5")
    session, _ = attended_session(context, tmp_path)

    review = import_report(context, session, TEAMS.read_bytes(), "teams.csv", "test")

    assert review.minimum == 90
    assert "biedrs1@example.lv" in recorded(context, session)  # 130 minutes: enough now


def test_an_import_keeps_who_staff_marked_in_the_room(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session, _ = attended_session(context, tmp_path)
    with context.database.session() as db:
        row = next(
            r for r in registrations.registrants(db, session) if r.email == "biedrs0@example.lv"
        )
        records.save_marks(
            db, sessions.get(db, session), {row.id: "room"}, EDITOR, context.clock.now()
        )

    review = import_report(context, session, JITSI.read_bytes(), "jitsi.csv", "test")

    assert review.tool == "jitsi"
    assert [p.outcome for p in review.people if p.email == "biedrs0@example.lv"] == ["kept"]
    assert recorded(context, session) == {
        "biedrs0@example.lv": ("room", None, "marked"),
        "biedrs1@example.lv": ("online", 150, "jitsi"),  # from the join and leave times
    }


def test_durations_and_headers_of_the_tools_are_read() -> None:
    assert reports.duration_minutes("1h 2m 30s") == 62.5
    assert reports.duration_minutes("45m 0s") == 45
    assert reports.duration_minutes("1:30:00") == 90
    assert reports.duration_minutes("45") == 45
    assert reports.duration_minutes("trīs") is None
    newer_zoom = (
        "Name (original name),Email,Join time,Leave time,Duration (minutes),Guest\n"
        "Anna Ozola,Anna@Cesis.lv,12/30/2026 13:00,12/30/2026 15:30,150,No\n"
    )
    report = reports.read_report(newer_zoom.encode(), "zoom.csv")
    assert (report.tool, report.lines[0].email, report.lines[0].minutes) == (
        "zoom",
        "anna@cesis.lv",
        150,
    )
    with pytest.raises(ReportError) as caught:
        reports.read_report(b"Vards;Uzvards\nAnna;Ozola\n", "list.csv")
    assert caught.value.code == "attendance.report.no-header"


# -- the command line -----------------------------------------------------------------------------


def vcs(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": "/usr/bin:/bin", **isolated_environ(tmp_path)}
    environ["VCS_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "vcs", *args],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


def past_session(context: Context, tmp_path: Path) -> int:
    """attended_session(), its time moved to yesterday: the command reads the real clock."""
    session, _ = attended_session(context, tmp_path)
    with context.database.session() as db:
        found = sessions.get(db, session)
        found.start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        found.end = found.start + dt.timedelta(hours=3)
    return session


def test_the_command_imports_a_zoom_report_and_lists_it(
    any_database_url: str, tmp_path: Path
) -> None:
    context = mail_context(tmp_path, any_database_url)
    session = past_session(context, tmp_path)

    dry = vcs(
        tmp_path, any_database_url, "attendance", "import", str(session), str(ZOOM), "--dry-run"
    )
    assert dry.returncode == 0, dry.stderr
    assert "line 7, 8: biedrs1@example.lv: member, registered: 172 min, new" in dry.stdout
    assert "line 9: biedrs2@example.lv: member, not registered: under the minimum (61 min)" in (
        dry.stdout
    )
    assert "line 10: Zane (iPhone): no e-mail address, not saved" in dry.stdout
    assert dry.stdout.splitlines()[-1].startswith("dry run, nothing was saved: 4 attended")
    assert recorded(context, session) == {}

    done = vcs(tmp_path, any_database_url, "attendance", "import", str(session), str(ZOOM))
    assert done.returncode == 0, done.stderr
    listed = vcs(tmp_path, any_database_url, "attendance", "list", str(session), "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [row["email"] for row in rows] == [  # by name, "Ē" with "E"
        "biedrs0@example.lv",
        "biedrs1@example.lv",
        "janis.kalnins@example.com",
        "jaunatne@example.lv",
    ]
    assert rows[1] == {
        "email": "biedrs1@example.lv",
        "name": "Ērika Ūdre 1",
        "attendance": "online",
        "minutes": 172,
        "source": "zoom",
        "member_id": rows[1]["member_id"],
    }
    assert isinstance(rows[1]["member_id"], int)
    plain = vcs(tmp_path, any_database_url, "attendance", "list", str(session))
    assert plain.stdout.splitlines()[-1] == "4 attended"


def test_the_command_refuses_a_bad_report_whole(any_database_url: str, tmp_path: Path) -> None:
    context = mail_context(tmp_path, any_database_url)
    session = past_session(context, tmp_path)

    result = vcs(tmp_path, any_database_url, "attendance", "import", str(session), str(BAD))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "vcs: nothing was saved:",
        f"{BAD}: line 3: 'biedrs1@@example.lv' is not an e-mail address (it needs one @)",
        f"{BAD}: line 4: 'trīs stundas' is not a length of time like 45 (minutes) or 1h 2m 3s",
        f"{BAD}: line 5: has 5 values but the header has 7 columns (a value with the separator "
        "in it needs quotes)",
    ]
    assert recorded(context, session) == {}
