"""The member pages of the staff area (admins only): search and filters, the CSV import as a dry
run and then a confirmation, a bad file that imports nothing, and the export download."""

from __future__ import annotations

import re
from pathlib import Path

from httpx import Response
from sqlalchemy import func, select
from starlette.testclient import TestClient

from tests.factories import NATIONAL
from tests.integration.test_staff_access import ADMIN, EDITOR, csrf_of, log_in, staff_site
from vcs.context import Context
from vcs.membership.members import NOTHING, Follows, MemberSpec, create_members
from vcs.membership.members_csv import export_members
from vcs.storage.models import AuditEntry, Member

HEADER = "email;name;municipality;status;follows\n"


def admin(context: Context, tmp_path: Path) -> TestClient:
    client = staff_site(context, tmp_path)
    log_in(client, ADMIN)
    return client


def add_members(context: Context) -> None:
    specs = [
        MemberSpec("anna@cesis.lv", "Anna Ozola", municipality="cesu-novads", status="active"),
        MemberSpec(
            "janis@rezekne.lv",
            "Jānis Kalniņš",
            municipality="rezekne",
            follows=Follows(False, frozenset({NATIONAL})),
        ),
        MemberSpec(
            "ilze@valmiera.lv",
            "Ilze Liepiņa",
            municipality="valmieras-novads",
            follows=NOTHING,
            status="unsubscribed",
        ),
    ]
    with context.database.session() as db:
        create_members(db, specs, "test")


def names_listed(client: TestClient, **params: str) -> list[str]:
    page = client.get("/staff/members", params=params)
    assert page.status_code == 200
    return re.findall(r"<tr>\s*<td>([^<]+)</td>", page.text)


def member_count(context: Context) -> int:
    with context.database.session() as db:
        return db.scalar(select(func.count()).select_from(Member)) or 0


def upload(client: TestClient, text: str, name: str = "members.csv") -> Response:
    token = csrf_of(client.get("/staff/members/import").text)
    return client.post(
        "/staff/members/import",
        data={"csrf_token": token},
        files={"file": (name, text.encode("utf-8"), "text/csv")},
    )


def test_editors_may_not_open_the_member_pages(context: Context, tmp_path: Path) -> None:
    client = staff_site(context, tmp_path)
    log_in(client, EDITOR)
    token = csrf_of(client.get("/staff").text)
    for path in ("/staff/members", "/staff/members/import", "/staff/members/export"):
        assert client.get(path).status_code == 403, path
    for path in ("/staff/members/import", "/staff/members/import/confirm"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    assert 'href="/staff/members"' not in client.get("/staff").text


def test_members_are_found_by_name_or_address_and_filtered(
    context: Context, tmp_path: Path
) -> None:
    client = admin(context, tmp_path)
    add_members(context)
    assert names_listed(client) == ["Anna Ozola", "Ilze Liepiņa", "Jānis Kalniņš"]
    assert names_listed(client, q="ozol") == ["Anna Ozola"]
    assert names_listed(client, q="REZEKNE.LV") == ["Jānis Kalniņš"]
    assert names_listed(client, region="latgale") == ["Jānis Kalniņš"]
    assert names_listed(client, region="vidzeme") == ["Anna Ozola", "Ilze Liepiņa"]
    assert names_listed(client, municipality="cesu-novads") == ["Anna Ozola"]
    assert names_listed(client, status="unsubscribed") == ["Ilze Liepiņa"]
    assert names_listed(client, following="all") == ["Anna Ozola"]
    assert names_listed(client, following="none") == ["Ilze Liepiņa"]
    # Following a series: its own followers and those who follow everything.
    assert names_listed(client, following=f"series:{NATIONAL}") == ["Anna Ozola", "Jānis Kalniņš"]
    assert names_listed(client, region="vidzeme", status="active") == ["Anna Ozola"]
    assert "Atrasti dalībnieki: 1" in client.get("/staff/members", params={"q": "ilze"}).text


def test_the_member_list_is_paged(context: Context, tmp_path: Path) -> None:
    client = admin(context, tmp_path)
    specs = [MemberSpec(f"m{n:03}@example.lv", f"Dalībnieks {n:03}") for n in range(60)]
    with context.database.session() as db:
        create_members(db, specs, "test")
    first = client.get("/staff/members", params={"q": "dalībnieks"})
    assert len(re.findall(r"<tr>\s*<td>", first.text)) == 50
    assert "1. lapa no 2" in first.text
    assert 'href="/staff/members?q=dal%C4%ABbnieks&amp;page=2"' in first.text
    second = names_listed(client, q="dalībnieks", page="2")
    assert second == [f"Dalībnieks {n:03}" for n in range(50, 60)]


def test_an_import_is_a_dry_run_first_then_confirmed(context: Context, tmp_path: Path) -> None:
    client = admin(context, tmp_path)
    add_members(context)
    text = HEADER + (
        "anna@cesis.lv;Anna Ozola-Bērziņa;cesu-novads;active;all\n"
        "peteris@talsi.lv;Pēteris Zariņš;Talsu novads;pending;all\n"
    )
    before = member_count(context)
    dry = upload(client, text)
    assert dry.status_code == 200
    html = dry.text
    assert "nekas vēl nav saglabāts" in html
    assert "Izveidoti: 1, mainīti: 1, bez izmaiņām: 0." in html
    assert "tiktu izveidots" in html and "tiktu mainīts" in html
    assert member_count(context) == before
    upload_id = re.search(r'name="upload" value="([^"]+)"', html)
    assert upload_id
    token = csrf_of(html)
    done = client.post(
        "/staff/members/import/confirm", data={"csrf_token": token, "upload": upload_id.group(1)}
    )
    assert done.status_code == 200
    assert "Datne members.csv ir importēta." in done.text
    assert member_count(context) == before + 1
    with context.database.session() as db:
        anna = db.scalars(select(Member).where(Member.email == "anna@cesis.lv")).one()
        assert anna.name == "Anna Ozola-Bērziņa"
        actors = db.scalars(
            select(AuditEntry.actor).where(AuditEntry.entity == "member", AuditEntry.actor == ADMIN)
        ).all()
        assert len(actors) == 2
    # The kept file is gone: confirming twice imports nothing more.
    again = client.post(
        "/staff/members/import/confirm", data={"csrf_token": token, "upload": upload_id.group(1)}
    )
    assert again.status_code == 400
    assert "vairs nav pieejama" in again.text


def test_an_upload_can_be_confirmed_only_by_the_log_in_that_made_it(
    context: Context, tmp_path: Path
) -> None:
    client = admin(context, tmp_path)
    dry = upload(client, HEADER + "peteris@talsi.lv;Pēteris Zariņš;;;\n")
    upload_id = re.search(r'name="upload" value="([^"]+)"', dry.text)
    assert upload_id
    other = TestClient(client.app, follow_redirects=False)
    log_in(other, ADMIN)
    token = csrf_of(other.get("/staff/members/import").text)
    answer = other.post(
        "/staff/members/import/confirm", data={"csrf_token": token, "upload": upload_id.group(1)}
    )
    assert answer.status_code == 400
    assert member_count(context) == 0


def test_a_bad_file_imports_nothing_and_lists_every_problem(
    context: Context, tmp_path: Path
) -> None:
    client = admin(context, tmp_path)
    rows = [f"m{n}@example.lv;Dalībnieks {n};;;" for n in range(20)]
    rows[4] = "m4(at)example.lv;Dalībnieks 4;;;"
    rows[11] = "m11@example.lv;Dalībnieks 11;Cēsis;;"
    rows[15] = "m15@example.lv;;;active;"
    response = upload(client, HEADER + "\n".join(rows) + "\n", name="slikts.csv")
    assert response.status_code == 400
    html = response.text
    assert "Nekas netika importēts." in html
    assert "Kļūdas: 3" in html
    found = re.findall(r"<tr><td>(\d+)</td><td><code>(\w+)</code></td><td>", html)
    assert found == [("6", "email"), ("13", "municipality"), ("17", "name")]
    assert "vai domājāt &#39;Cēsu novads&#39;" in html
    assert 'name="upload"' not in html
    assert member_count(context) == 0


def test_the_export_downloads_the_member_file(context: Context, tmp_path: Path) -> None:
    client = admin(context, tmp_path)
    add_members(context)
    response = client.get("/staff/members/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["content-disposition"] == 'attachment; filename="members-2026-11-23.csv"'
    )
    with context.database.session() as db:
        assert response.content == export_members(db, context.settings.tz)
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("email;name;phone;municipality")
    assert "anna@cesis.lv;Anna Ozola" in text
    with context.database.session() as db:
        assert db.scalars(select(AuditEntry.actor).where(AuditEntry.action == "export")).all() == [
            ADMIN
        ]
