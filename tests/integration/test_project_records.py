"""A funded series' records for a period (issue 17, item 5): the CSV for Excel, the attendance
sheets as a PDF, the staff form and `vcs certificates export`."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.factories import NATIONAL, VIDZEME, import_entries, session_id, vidzeme
from tests.integration.test_certificates import (
    PROJECT,
    attend,
    network,
    one_line,
    release,
    text_of,
)
from tests.mail_factories import add_members, mail_context
from vcs.certificates import records
from vcs.context import Context
from vcs.errors import VcsError
from vcs.storage.models import Member
from vcs.web.app import create_app

DECEMBER = (dt.date(2026, 12, 1), dt.date(2026, 12, 31))


def attended(context: Context, tmp_path: Path) -> dict[str, int]:
    """The Vidzeme meeting of 30 December: a member marked by staff, a visitor the meeting tool
    counted long enough, one it counted too short; released."""
    found = network(context, tmp_path)
    [member] = add_members(context, 1, organisation="Valmieras jauniešu centrs")
    session = found["vidzeme"]
    attend(context, session, "biedrs0@example.lv", "Ērika Ūdre", member_id=member)
    attend(context, session, "viesis@example.lv", "=Viesis", minutes=170)
    attend(context, session, "short@example.lv", "Īsais Dalībnieks", minutes=20)
    release(context, session)
    return found


def collect(context: Context, slug: str, start: dt.date, end: dt.date) -> records.Records:
    with context.database.session() as db:
        return records.collect(db, context.settings, slug, start, end)


def test_the_csv_lists_each_attendee_with_hours_for_excel_in_latvia(
    tmp_path: Path, any_database_url: str
) -> None:
    context = mail_context(tmp_path, any_database_url)
    attended(context, tmp_path)

    data = records.as_csv(collect(context, VIDZEME, *DECEMBER))

    assert data.startswith("\ufeff".encode()) and b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == list(records.CSV_COLUMNS)
    by_name = {row[5]: row for row in rows[1:]}
    assert sorted(by_name) == ["'=Viesis", "Ērika Ūdre", "Īsais Dalībnieks"]  # never a formula
    member = by_name["Ērika Ūdre"]
    assert member[1:5] == ["2026-12-30", "13:00", "16:00", "Vidzemes pieredzes apmaiņas tikšanās"]
    assert member[6] == "Valmieras jauniešu centrs"
    assert (member[9], member[10]) == ("", "4")  # marked by staff: the session's 4 hours
    assert len(member[11]) == 14  # the certificate's code
    assert (by_name["'=Viesis"][9], by_name["'=Viesis"][10]) == ("170", "4")
    assert by_name["Īsais Dalībnieks"][9:] == ["20", "0", ""]


def test_the_pdf_holds_the_project_the_sessions_and_the_attendance_sheets(
    tmp_path: Path,
) -> None:
    context = mail_context(tmp_path)
    attended(context, tmp_path)

    text = one_line(text_of(records.as_pdf(collect(context, VIDZEME, *DECEMBER), "lv")))

    assert "Dalības uzskaite" in text
    assert "Periods: 2026. gada 1. decembris – 2026. gada 31. decembris" in text
    assert "Līdzfinansē Eiropas Savienība" in text and f"Projekta Nr. {PROJECT}" in text
    assert "trešdiena, 2026. gada 30. decembris, 13.00–16.00" in text
    assert "Anna Bērziņa" in text
    assert "Ērika Ūdre" in text and "Īsais Dalībnieks" in text
    assert "Dalībnieki: 3" in text
    assert "Visu dalībnieku akadēmiskās stundas: 8" in text  # two attendees × 4 hours


def test_only_a_funded_series_has_records_and_the_period_is_checked(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    network(context, tmp_path)

    for slug, start, end, code in (
        (NATIONAL, *DECEMBER, "records.not-funded"),
        ("nav-tadas", *DECEMBER, "records.unknown-series"),
        (VIDZEME, DECEMBER[1], DECEMBER[0], "records.period"),
    ):
        with pytest.raises(VcsError) as refused:
            collect(context, slug, start, end)
        assert refused.value.code == code
    # January has no Vidzeme session with attendance: the sheet says so, it does not fail.
    january = collect(context, VIDZEME, dt.date(2027, 1, 1), dt.date(2027, 1, 31))
    assert [sheet.attendees for sheet in january.sheets] == [[]]


def test_staff_download_the_records_from_the_series_page(tmp_path: Path) -> None:
    from tests.integration.test_staff_access import EDITOR, add_staff, log_in

    context = mail_context(tmp_path)
    attended(context, tmp_path)
    add_staff(context, EDITOR, "editor")
    client = TestClient(create_app(context), base_url=context.settings.base_url)
    log_in(client, EDITOR)

    assert f'href="/staff/series/{VIDZEME}/records"' in client.get(f"/staff/series/{VIDZEME}").text
    assert f"/staff/series/{NATIONAL}/records" not in client.get(f"/staff/series/{NATIONAL}").text
    form = client.get(f"/staff/series/{VIDZEME}/records?lang=en")
    assert form.status_code == 200 and 'name="from"' in form.text
    pdf = client.get(f"/staff/series/{VIDZEME}/records?from=2026-12-01&to=2026-12-31&format=pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert "Ērika Ūdre" in text_of(pdf.content)
    table = client.get(f"/staff/series/{VIDZEME}/records?from=2026-12-01&to=2026-12-31&format=csv")
    assert table.headers["content-disposition"].endswith('.csv"')
    assert len(table.content.decode("utf-8-sig").splitlines()) == 4
    wrong = client.get(f"/staff/series/{VIDZEME}/records?from=31.12.2026&to=2026-12-01&lang=en")
    assert wrong.status_code == 400 and "Give a date like 2027-01-31." in wrong.text


def test_the_cli_writes_the_csv_and_the_pdf(tmp_path: Path) -> None:
    from tests.conftest import make_settings
    from tests.integration.test_sessions_cli import ok, vcs

    ok(tmp_path, "init")
    context = Context.from_settings(make_settings(tmp_path))
    import_entries(context, tmp_path, vidzeme())
    session = session_id(context, VIDZEME, "2026-12-30")
    with context.database.session() as db:
        member = Member(email="a@example.lv", name="Anna", status="active", feed_token="t")
        db.add(member)
        db.flush()
        member_id = member.id
    attend(context, session, "a@example.lv", "Anna Ozola", member_id=member_id)
    context.close()

    out = ok(
        tmp_path, "certificates", "export", VIDZEME, "--from", "2026-12-01", "--to",
        "2026-12-31", "--csv", str(tmp_path / "r.csv"), "--pdf", str(tmp_path / "r.pdf"),
    )  # fmt: skip

    assert out.startswith(f"{VIDZEME}: 1 sessions, 1 attendances; wrote ")
    assert "Anna Ozola" in (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert "Anna Ozola" in text_of((tmp_path / "r.pdf").read_bytes())
    refused = vcs(tmp_path, "certificates", "export", VIDZEME, "--from", "x", "--to", "y")
    assert refused.returncode == 1
    assert refused.stderr.startswith("vcs: say where to write")
