"""The printable attendance sheet (issue 16): the PDF staff download from the session page, read
back as text (names, the funding statement and the project number) and checked for the EU
emblem, drawn in its Reflex Blue."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pypdf
import pytest
from starlette.testclient import TestClient

from tests.factories import NATIONAL, VIDZEME, import_entries, national, session_id, vidzeme
from tests.integration.test_staff_access import EDITOR, add_staff, log_in
from tests.mail_factories import add_members, mail_context
from vcs.attendance import sheet
from vcs.context import Context
from vcs.planning import registrations, sessions
from vcs.storage.models import Member
from vcs.web.app import create_app

HTTP = "http://127.0.0.1:8000"
OPEN = {"open": True, "capacity": 40, "closes": "P1D"}
# The emblem's blue (#003399) as the PDF's fill colour: the emblem is drawn, not an image.
EU_BLUE = re.compile(rb"(?<![\d.])0 0\.2 0\.6 rg")


def client_for(context: Context) -> TestClient:
    add_staff(context, EDITOR, "editor")
    client = TestClient(create_app(context), follow_redirects=False)
    log_in(client, EDITOR)
    return client


def register(context: Context, session: int, members: list[int], how: str) -> None:
    with context.database.session() as db:
        for member in members:
            found = db.get(Member, member)
            assert found is not None
            registrations.register_member(db, context.clock, session, found, how)


def pages_of(data: bytes) -> list[pypdf.PageObject]:
    return list(pypdf.PdfReader(io.BytesIO(data)).pages)


def text_of(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pages_of(data))


def drawn(data: bytes) -> bytes:
    return b"".join(page.get_contents().get_data() for page in pages_of(data))


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_sheet_of_a_funded_session_lists_registrants_to_sign(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'vcs.sqlite3'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    context = mail_context(tmp_path, url, VCS_BASE_URL=HTTP)
    import_entries(context, tmp_path, vidzeme(registration=OPEN))
    session = session_id(context, VIDZEME, "2026-12-30")
    members = add_members(context, 5)
    register(context, session, members[:3], "room")
    register(context, session, members[3:4], "online")
    with context.database.session() as db:
        cancelled = registrations.registrants(db, session)[0]
        registrations.cancel(db, context.settings, context.clock, cancelled.id, lambda _: "Tīkls")
    client = client_for(context)

    page = client.get(f"/staff/sessions/{session}?lang=lv").text
    assert f'href="/staff/sessions/{session}/attendance-sheet.pdf"' in page
    response = client.get(f"/staff/sessions/{session}/attendance-sheet.pdf?lang=lv")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert f'filename="apmeklejuma-lapa-{session}.pdf"' in response.headers["content-disposition"]
    text = text_of(response.content)
    assert "Apmeklējuma lapa" in text
    assert "Vidzemes pieredzes apmaiņas tikšanās" in text
    assert "trešdiena, 2026. gada 30. decembris, 13.00–16.00" in text
    assert "Valmieras jauniešu centrs „Vinda“" in text
    assert "Vidzemes plānošanas reģions" in text
    assert "Līdzfinansē Eiropas Savienība" in text
    assert "Tikšanās notiek ar Eiropas Sociālā fonda Plus atbalstu." in " ".join(text.split())
    assert "4.2.4.1/1/24/I/001" in text
    assert "Paraksts" in text
    # One row per registered registrant (the cancelled one is not there), room first.
    names = re.findall(r"Ērika Ūdre \d", text)
    assert names == ["Ērika Ūdre 1", "Ērika Ūdre 2", "Ērika Ūdre 3"]
    assert cancelled.name == "Ērika Ūdre 0"
    assert "Klātienē" in text and "Tiešsaistē" in text
    assert EU_BLUE.search(drawn(response.content))


def test_a_session_without_funding_has_no_emblem_nor_statement(
    context: Context, tmp_path: Path
) -> None:
    import_entries(context, tmp_path, national(registration=OPEN))
    session = session_id(context, NATIONAL, "2026-12-10")
    with context.database.session() as db:
        data = sheet.attendance_sheet(db, sessions.get(db, session), "lv")

    text = text_of(data)
    assert "Jaunatnes lietu speciālistu videokonferences" in text
    assert "Līdzfinansē" not in text and "Finansējums" not in text
    assert not EU_BLUE.search(drawn(data))


def test_many_registrants_continue_on_more_pages_with_the_header_again(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    import_entries(context, tmp_path, vidzeme(registration=OPEN))
    session = session_id(context, VIDZEME, "2026-12-30")
    register(context, session, add_members(context, 40), "room")
    with context.database.session() as db:
        data = sheet.attendance_sheet(db, sessions.get(db, session), "en")

    pages = pages_of(data)
    assert len(pages) == 2
    for number, page in enumerate(pages, 1):
        assert "Signature" in page.extract_text()
        assert f"Page {number} of 2" in page.extract_text()
    assert len(set(re.findall(r"Ērika Ūdre \d+", text_of(data)))) == 40
