"""Registration settings outside series files (issue 16): the staff series form, a session's own
settings on the staff session page, `registration` in `[[series.sessions]]` overrides, and the
one-click registration link in announcements."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.factories import NATIONAL, browse, import_entries, national, session_id, vidzeme
from tests.integration.test_announcements import (
    VIDZEME,
    WEEK_BEFORE_VIDZEME,
    announce,
    at,
    body,
    deliver,
    member,
    network,
    regions,
    to,
)
from tests.integration.test_series_overrides import (
    KURZEME,
    NOTHING_DONE,
    exported,
    import_file,
    kurzeme_file,
    session,
    snapshot,
)
from tests.integration.test_staff_access import EDITOR, csrf_of, first_session, log_in, staff_site
from tests.integration.test_staff_series import editor_on, form_of
from tests.mail_factories import mail_context, smtp_server
from vcs.context import Context
from vcs.planning import registrations, sessions
from vcs.planning.series import ImportedSeries, SeriesError
from vcs.planning.series_export import export_series
from vcs.storage.models import AuditEntry, Member, Series


def stored_setting(context: Context) -> dict[str, object] | None:
    with context.database.session() as db:
        return db.scalars(select(Series.registration).where(Series.slug == NATIONAL)).one()


def test_the_series_form_saves_registration_in_plain_words(
    context: Context, tmp_path: Path
) -> None:
    client, html = editor_on(context, tmp_path, f"/staff/series/{NATIONAL}")
    fields = form_of(html, f"/staff/series/{NATIONAL}")
    assert "registration_open" not in fields and fields["registration_capacity"] == ""
    fields.update(
        registration_open="1",
        registration_capacity="40",
        registration_closes="2",
        registration_unit="days",
        action="save",
    )
    response = client.post(f"/staff/series/{NATIONAL}", data=fields)
    assert response.headers["location"] == f"/staff/series/{NATIONAL}?done=changed"
    assert stored_setting(context) == {"open": True, "capacity": 40, "closes": "P2D"}
    with context.database.session() as db:
        assert registrations.rules(sessions.get(db, first_session(context))) is not None

    # Shown again as it was written; unticking "open" closes registration and keeps the rest.
    again = form_of(client.get(f"/staff/series/{NATIONAL}").text, f"/staff/series/{NATIONAL}")
    assert (again["registration_capacity"], again["registration_closes"]) == ("40", "2")
    assert again["registration_unit"] == "days" and again["registration_open"] == "1"
    del again["registration_open"]
    again.update(registration_closes="36", registration_unit="hours", action="save")
    client.post(f"/staff/series/{NATIONAL}", data=again)
    assert stored_setting(context) == {"open": False, "capacity": 40, "closes": "PT36H"}


def test_the_series_form_refuses_bad_registration_fields_in_latvian(
    context: Context, tmp_path: Path
) -> None:
    client, html = editor_on(context, tmp_path, f"/staff/series/{NATIONAL}")
    fields = form_of(html, f"/staff/series/{NATIONAL}")
    fields.update(
        registration_open="1", registration_capacity="0", registration_closes="x", action="save"
    )
    response = client.post(f"/staff/series/{NATIONAL}", data=fields)
    assert response.status_code == 400
    text = response.text
    assert 'id="registration_capacity-error"' in text
    assert "jābūt veselam vietu skaitam no 1 līdz 100000, nevis 0" in text
    assert 'id="registration_closes-error"' in text
    assert "nav ISO 8601 ilgums pirms sākuma" in text
    assert stored_setting(context) is None

    english = client.post(f"/staff/series/{NATIONAL}?lang=en", data=fields).text
    assert "must be a whole number of seats from 1 to 100000, not 0" in english


def test_staff_set_a_sessions_own_registration_and_it_is_audited(
    context: Context, tmp_path: Path
) -> None:
    client = staff_site(context, tmp_path)
    log_in(client, EDITOR)
    session = first_session(context)
    token = csrf_of(client.get(f"/staff/sessions/{session}").text)
    response = client.post(
        f"/staff/sessions/{session}/registration",
        data={"csrf_token": token, "registration_mode": "open", "registration_capacity": "12"},
    )
    assert response.headers["location"] == f"/staff/sessions/{session}?done=registration"
    page = client.get(response.headers["location"]).text
    assert "Sesijas pieteikšanās iestatījumi ir saglabāti." in page
    with context.database.session() as db:
        found = sessions.get(db, session)
        assert found.registration == {"open": True, "capacity": 12, "closes": "PT0M"}
        rules = registrations.rules(found)
        assert rules is not None and rules.capacity == 12
        entry = db.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "session", AuditEntry.entity_id == str(session)
            )
        ).one()
        assert entry.actor == EDITOR and entry.after == {"registration": found.registration}

    refused = client.post(
        f"/staff/sessions/{session}/registration",
        data={"csrf_token": token, "registration_mode": "open", "registration_capacity": "-3"},
    )
    assert refused.status_code == 400
    assert "jābūt veselam vietu skaitam no 1 līdz 100000" in refused.text
    assert 'id="registration_capacity-error"' in refused.text

    back = client.post(
        f"/staff/sessions/{session}/registration",
        data={"csrf_token": token, "registration_mode": "series"},
    )
    assert back.headers["location"] == f"/staff/sessions/{session}?done=registration"
    with context.database.session() as db:
        found = sessions.get(db, session)
        assert found.registration is None and registrations.rules(found) is None


def test_staff_set_a_sessions_own_closing_time(context: Context, tmp_path: Path) -> None:
    client = staff_site(context, tmp_path)
    log_in(client, EDITOR)
    session = first_session(context)
    token = csrf_of(client.get(f"/staff/sessions/{session}").text)
    fields = {"csrf_token": token, "registration_mode": "open", "registration_capacity": "12"}
    client.post(
        f"/staff/sessions/{session}/registration",
        data={**fields, "registration_closes": "3", "registration_unit": "hours"},
    )
    with context.database.session() as db:
        found = sessions.get(db, session)
        assert found.registration == {"open": True, "capacity": 12, "closes": "PT3H"}
        rules = registrations.rules(found)
        assert rules is not None and rules.closes_at(found) == found.start - dt.timedelta(hours=3)
    page = client.get(f"/staff/sessions/{session}").text
    assert 'name="registration_closes" type="number" min="0" step="1" value="3"' in page
    assert '<option value="hours" selected>' in page

    refused = client.post(
        f"/staff/sessions/{session}/registration",
        data={**fields, "registration_closes": "2,5", "registration_unit": "days"},
    )
    assert refused.status_code == 400
    assert 'id="registration_closes-error"' in refused.text


def test_a_series_file_override_opens_one_date_and_export_imports_as_same(
    tmp_path: Path,
) -> None:
    context = mail_context(tmp_path)
    override = {"date": "2027-02-09", "registration": {"open": True, "capacity": 25}}
    import_file(context, kurzeme_file(tmp_path, override))
    february, march = session(context, "2027-02-09"), session(context, "2027-03-09")
    assert february.registration == {"open": True, "capacity": 25, "closes": "PT0M"}
    assert march.registration is None
    with context.database.session() as db:
        rules = registrations.rules(sessions.get(db, february.id))
        assert rules is not None and rules.capacity == 25
        assert registrations.rules(sessions.get(db, march.id)) is None

    path = exported(context, tmp_path)
    [entry] = tomllib.loads(path.read_text(encoding="utf-8"))["series"]
    said = {value["date"]: value for value in entry["sessions"]}
    assert said["2027-02-09"]["registration"] == {"open": True, "capacity": 25, "closes": "PT0M"}
    before = snapshot(context)
    assert import_file(context, path) == [ImportedSeries(KURZEME, "same", NOTHING_DONE)]
    assert snapshot(context) == before
    context.close()


def test_a_malformed_override_registration_is_refused_with_the_date(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    override = {"date": "2027-02-09", "registration": {"open": True, "capacity": 0}}
    with pytest.raises(SeriesError) as refused:
        import_file(context, kurzeme_file(tmp_path, override))
    [problem] = refused.value.problems
    assert problem.code == "series.registration.capacity"
    assert "2027-02-09" in problem.line() and "registration.capacity" in problem.line()
    context.close()


def test_a_staff_set_session_registration_is_exported_as_an_override(
    context: Context, tmp_path: Path
) -> None:
    client = staff_site(context, tmp_path)
    log_in(client, EDITOR)
    session_at = first_session(context)
    token = csrf_of(client.get(f"/staff/sessions/{session_at}").text)
    client.post(
        f"/staff/sessions/{session_at}/registration",
        data={"csrf_token": token, "registration_mode": "closed"},
    )
    with context.database.session() as db:
        found = sessions.get(db, session_at)
        local = f"{found.start.astimezone(sessions.timezone(found)):%Y-%m-%d}"
        text = export_series(db, NATIONAL)
    [entry] = tomllib.loads(text)["series"]
    said = {value["date"]: value for value in entry["sessions"]}
    assert said[local]["registration"] == {"open": False, "closes": "PT0M"}


def test_the_announcement_link_opens_the_members_registration(tmp_path: Path) -> None:
    with smtp_server() as (sink, port):
        context = mail_context(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        setting = {"open": True, "capacity": 10, "closes": "P1D"}
        import_entries(context, tmp_path, national(), vidzeme(registration=setting))
        member(context, "anna@example.lv", follows=regions("vidzeme"))
        member(context, "juris@example.lv", follows=regions("vidzeme"))
        at(context, WEEK_BEFORE_VIDZEME)
        announce(context)
        messages = deliver(context, sink)
        sid = session_id(context, VIDZEME, "2026-12-30")
        [anna] = to(messages, "anna@example.lv")
        [juris] = to(messages, "juris@example.lv")
        text, html = body(anna, "plain"), body(anna, "html")
        found = re.search(r"Pieteikties uz šo sesiju \(jūsu personīgā saite\): (\S+)", text)
        assert found, text
        link = found.group(1)
        assert link.startswith(f"https://tikls.example.lv/sessions/{sid}/register/")
        assert f'href="{link}"' in html
        assert link not in body(juris, "plain")  # each member has their own link

        client = browse(context)
        path = link.removeprefix("https://tikls.example.lv")
        page = client.get(path)
        assert page.status_code == 200
        with context.database.session() as db:
            assert registrations.counts(db, sid).taken == 0  # opening the link changes nothing
        assert 'value="register"' in page.text
        client.post(path, data={"action": "register", "attendance": "room"})
        with context.database.session() as db:
            [row] = registrations.registrants(db, sid)
            member_row = db.get(Member, row.member_id)
            assert member_row is not None and member_row.email == "anna@example.lv"
        context.close()


def test_an_announcement_of_a_session_without_registration_has_no_link(tmp_path: Path) -> None:
    with network(tmp_path) as (context, sink):
        member(context, "anna@example.lv", follows=regions("vidzeme"))
        at(context, WEEK_BEFORE_VIDZEME)
        announce(context)
        [message] = deliver(context, sink)
        assert "/register/" not in body(message, "plain")
        assert "Pieteikties uz šo sesiju" not in body(message, "html")
