"""Live now (issue 16): members who ask for it get one short e-mail when a session they follow
goes live, and the preferences page is where they ask.

The national videoconference of Thursday 10 December 2026 (10.00 Riga, 08.00 UTC) has a static
watch link, so it is live from its start by the clock, as its page says; a provider's word
(`live_status`) makes it live earlier. Mail goes to a real SMTP server.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select, update

from tests.factories import NATIONAL, VIDZEME, browse, session_id
from tests.integration.test_announcements import at, body, deliver, member, subject
from tests.integration.test_reminders import JOIN, network
from tests.integration.test_subscriptions import active_member, offline, preferences_path
from vcs.context import Context
from vcs.planning import sessions
from vcs.scheduler.jobs import registry
from vcs.scheduler.runs import run_job
from vcs.states import LiveStatus
from vcs.storage.models import AuditEntry, Delivery, Member, Session

START = dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC)
SUBJECT = "Tiešraidē tagad: Jaunatnes lietu speciālistu videokonferences"


def run(context: Context) -> str:
    job = run_job(context, registry.get("reminders"), trigger="test")
    assert job.outcome == "ok", job.error
    return job.summary


def wants_alerts(context: Context, *emails: str) -> None:
    with context.database.session() as db:
        db.execute(update(Member).where(Member.email.in_(emails)).values(live_alerts=True))


def alerts(context: Context) -> list[tuple[str, str]]:
    with context.database.session() as db:
        rows = db.execute(
            select(Delivery.to_address, Delivery.ref)
            .where(Delivery.kind == "live-now")
            .order_by(Delivery.id)
        ).all()
    return [(row[0], row[1]) for row in rows]


def test_members_who_opted_in_get_one_alert_when_a_followed_session_goes_live(
    tmp_path: Path, any_database_url: str
) -> None:
    with network(tmp_path, any_database_url) as (context, sink):
        member(context, "anna@example.lv")  # follows everything, asked for alerts
        member(context, "juris@example.lv")  # follows everything, did not ask
        wants_alerts(context, "anna@example.lv")
        sid = session_id(context, NATIONAL, "2026-12-10")

        got = []
        for moment in (
            START - dt.timedelta(minutes=1),
            START,
            START + dt.timedelta(minutes=1),
            START + dt.timedelta(minutes=20),
        ):
            at(context, moment)
            run(context)
            got.append(deliver(context, sink))

        assert [len(messages) for messages in got] == [0, 1, 0, 0]
        [message] = got[1]
        assert message["To"].addresses[0].addr_spec == "anna@example.lv"
        assert subject(message) == SUBJECT
        text = body(message, "plain")
        assert text.startswith("Sesija ir sākusies, tiešraide notiek tagad:")
        assert f"Skatīties tiešraidē: https://tikls.example.lv/sessions/{sid}" in text
        assert f"Pievienoties sanāksmei: {JOIN}" in text
        assert "To var izslēgt savā iestatījumu lapā." in text
        assert alerts(context) == [("anna@example.lv", f"session:{sid}:live")]


def test_a_late_scheduler_sends_no_stale_alert(tmp_path: Path) -> None:
    with network(tmp_path) as (context, _sink):
        member(context, "anna@example.lv")
        wants_alerts(context, "anna@example.lv")
        at(context, START + dt.timedelta(minutes=31))  # the first run since before the start
        run(context)
        assert alerts(context) == []


def test_the_provider_s_word_makes_a_session_live_before_its_start(tmp_path: Path) -> None:
    with network(tmp_path) as (context, _sink):
        member(context, "anna@example.lv")
        wants_alerts(context, "anna@example.lv")
        sid = session_id(context, NATIONAL, "2026-12-10")
        at(context, START - dt.timedelta(minutes=10))
        run(context)
        assert alerts(context) == []
        with context.database.session() as db:
            db.execute(update(Session).where(Session.id == sid).values(live_status=LiveStatus.LIVE))
        run(context)
        assert alerts(context) == [("anna@example.lv", f"session:{sid}:live")]


def test_no_alert_for_a_cancelled_session_or_one_the_member_does_not_follow(
    tmp_path: Path,
) -> None:
    from tests.integration.test_announcements import regions
    from vcs.membership.members import Follows

    with network(tmp_path) as (context, _sink):
        # Follows only the Vidzeme series: national sessions are not hers.
        member(context, "series@example.lv", follows=Follows(False, series=frozenset({VIDZEME})))
        member(context, "kurzeme@example.lv", follows=regions("kurzeme"))
        wants_alerts(context, "series@example.lv", "kurzeme@example.lv")
        sid = session_id(context, NATIONAL, "2026-12-10")
        with context.database.session() as db:
            sessions.cancel(db, sessions.get(db, sid), "Slimība", "staff@example.lv")
        at(context, START)
        run(context)
        assert alerts(context) == []
        # The January one is not cancelled; a region's follower gets the national sessions.
        january = session_id(context, NATIONAL, "2027-01-14")
        at(context, dt.datetime(2027, 1, 14, 8, 0, tzinfo=dt.UTC))
        run(context)
        assert alerts(context) == [("kurzeme@example.lv", f"session:{january}:live")]


# --- the preferences page -------------------------------------------------------------------------


def test_the_preferences_checkbox_turns_alerts_on_and_off(tmp_path: Path) -> None:
    context, client = offline(tmp_path)
    anna = active_member(context, client)
    path = preferences_path(context, anna)
    page = client.get(path)
    assert 'name="live_alerts"' in page.text
    assert "Sūtīt man e-pastu, kad sākas tiešraide sesijai, kurai sekoju" in page.text
    assert 'value="1" checked' not in page.text

    form = {"language": "lv", "follows": "all"}
    saved = client.post(path, data={**form, "live_alerts": "1"}, follow_redirects=False)
    assert saved.status_code == 303
    with context.database.session() as db:
        assert db.get_one(Member, anna.id).live_alerts is True
        entry = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry is not None and entry.after == {"live_alerts": True}
    again = client.get(saved.headers["location"])
    assert 'id="live-alerts" name="live_alerts" value="1" checked' in again.text

    client.post(path, data=form, follow_redirects=False)  # the box left empty
    with context.database.session() as db:
        assert db.get_one(Member, anna.id).live_alerts is False


# --- the banner on the pages ----------------------------------------------------------------------


def test_the_front_page_and_the_session_page_say_it_is_live(tmp_path: Path) -> None:
    with network(tmp_path) as (context, _sink):
        sid = session_id(context, NATIONAL, "2026-12-10")
        client = browse(context)
        at(context, START - dt.timedelta(minutes=5))
        assert "badge--live" not in client.get(f"/sessions/{sid}").text
        at(context, START + dt.timedelta(minutes=5))
        home = client.get("/").text
        assert '<span class="badge badge--live">Tiešraidē tagad</span>' in home
        page = client.get(f"/sessions/{sid}").text
        box = page[page.index('<section id="watch"') :]
        assert 'data-phase="live"' in box
        assert '<span class="badge badge--live">Tiešraidē</span> Skatīties tiešraidē' in box
