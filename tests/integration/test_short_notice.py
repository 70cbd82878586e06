"""Short-notice sessions: a session created, moved or reinstated less than one provisioning
interval (10 minutes) before it starts gets its livestream at once, so a short session that ends
before the next provision run still goes live, ends and shows its recording.

The series uses the static provider: a watch link and a recording link from URL templates.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient

from tests.conftest import isolated_environ
from tests.factories import NATIONAL, import_entries, national, session_id
from tests.integration.test_staff_access import EDITOR, add_staff, csrf_of, log_in
from vcs.clock import FixedClock, SystemClock
from vcs.context import Context
from vcs.livestream.jobs import poll_status
from vcs.planning import sessions
from vcs.storage.models import Livestream, Session
from vcs.web.app import create_app

STATIC = {
    "provider": "static",
    "watch_url": "https://meet.jit.si/tikls-{date}",
    "recording_url": "https://video.example.lv/ieraksti/{date}",
}
# A Monday between two provision runs (they run at :00, :10, :20 ...).
MONDAY = dt.datetime(2026, 12, 7, 9, 3, tzinfo=dt.UTC)


def livestream(context: Context, sid: int) -> Livestream | None:
    with context.database.session() as db:
        row = db.scalars(select(Livestream).where(Livestream.session_id == sid)).first()
        if row is not None:
            db.expunge(row)
        return row


def recording(context: Context, sid: int) -> str:
    with context.database.session() as db:
        found = db.get(Session, sid)
        assert found is not None
        return found.recording_url


def staff(context: Context) -> TestClient:
    add_staff(context, EDITOR, "editor")
    client = TestClient(create_app(context), follow_redirects=False)
    log_in(client, EDITOR)
    return client


def test_a_session_moved_to_start_within_the_interval_is_provisioned_at_once(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(MONDAY)
    import_entries(context, tmp_path, national(livestream=STATIC))
    sid = session_id(context, NATIONAL, "2026-12-10")
    assert livestream(context, sid) is None  # 3 days ahead: the provision job's turn

    client = staff(context)
    page = client.get(f"/staff/sessions/{sid}")
    # To 11.05 Riga (09.05 UTC) for 5 minutes: over before the next run at 09.10.
    response = client.post(
        f"/staff/sessions/{sid}/move",
        data={
            "csrf_token": csrf_of(page.text),
            "start": "2026-12-07T11:05",
            "end": "2026-12-07T11:09",
            "confirm": "yes",  # the page asks first (vcs/web/staff/confirm.py)
        },
    )
    assert response.headers["location"] == f"/staff/sessions/{sid}?done=moved"
    row = livestream(context, sid)
    assert row is not None and row.status == "created"
    assert row.watch_url == "https://meet.jit.si/tikls-2026-12-07"

    assert isinstance(context.clock, FixedClock)
    context.clock.at = MONDAY + dt.timedelta(minutes=6, seconds=30)  # 09.09.30: ended
    assert poll_status(context).ended == 1
    assert recording(context, sid) == "https://video.example.lv/ieraksti/2026-12-07"


def test_a_session_reinstated_just_before_it_starts_is_provisioned_at_once(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(MONDAY)
    import_entries(context, tmp_path, national(livestream=STATIC))
    sid = session_id(context, NATIONAL, "2026-12-10")
    start = MONDAY + dt.timedelta(minutes=4)
    with context.database.session() as db:
        found = sessions.get(db, sid)
        sessions.move(db, found, start, "test", start + dt.timedelta(minutes=5))
        sessions.cancel(db, found, "Lektore saslima.", "test")
    client = staff(context)
    page = client.get(f"/staff/sessions/{sid}")
    response = client.post(
        f"/staff/sessions/{sid}/reinstate",
        data={"csrf_token": csrf_of(page.text), "confirm": "yes"},
    )
    assert response.headers["location"] == f"/staff/sessions/{sid}?done=reinstated"
    row = livestream(context, sid)
    assert row is not None and row.status == "created"


def test_a_series_whose_first_session_starts_in_minutes_is_provisioned_on_import(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(MONDAY)
    # First session at 11.08 Riga today, 5 minutes from now.
    import_entries(
        context,
        tmp_path,
        national(
            livestream=STATIC, rrule="FREQ=WEEKLY;BYDAY=MO", start="2026-12-07T11:08",
            duration="PT10M",
        ),
    )  # fmt: skip
    sid = session_id(context, NATIONAL, "2026-12-07")
    row = livestream(context, sid)
    assert row is not None and row.status == "created"
    # The next Monday's session waits for the provision job.
    assert livestream(context, session_id(context, NATIONAL, "2026-12-14")) is None


def test_the_command_moving_a_session_to_start_in_minutes_provisions_it(tmp_path: Path) -> None:
    environ = isolated_environ(tmp_path)
    context = Context.from_settings(
        __import__("vcs.config", fromlist=["load_settings"]).load_settings(environ),
        clock=SystemClock(),
    )
    try:
        from vcs.bootstrap import initialise

        initialise(context)
        import_entries(context, tmp_path, national(livestream=STATIC))
        sid = session_id(context, NATIONAL, "2026-12-10")
        start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        result = subprocess.run(
            [sys.executable, "-m", "vcs", "sessions", "move", str(sid),
             "--start", start.isoformat(timespec="seconds"),
             "--end", (start + dt.timedelta(minutes=3)).isoformat(timespec="seconds")],
            env={"PATH": "/usr/bin:/bin", **environ},
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        row = livestream(context, sid)
        assert row is not None and row.status == "created"
    finally:
        context.close()
