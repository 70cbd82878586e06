"""Certificates of participation (issue 17): the PDF and its QR code, release once, revoke, the
public verification page, the member's list and hours, the mail with the PDF, and the CLI."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
from pathlib import Path

import httpx
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.factories import (
    NATIONAL,
    VIDZEME,
    browse,
    import_entries,
    live_server,
    national,
    session_id,
    vidzeme,
)
from tests.mail_factories import add_members, mail_context, smtp_server
from vcs.certificates import codes, document, hours, issue
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.errors import VcsError
from vcs.mail import links
from vcs.mail.sender import Sender
from vcs.storage.models import Attendance, AuditEntry, Certificate, Delivery, Member, Session
from vcs.web.app import create_app

# After the Vidzeme meeting of 30 December 2026 (13.00-16.00 Riga) and the national
# videoconference of 14 January 2027.
AFTER = dt.datetime(2027, 1, 20, 12, 0, tzinfo=dt.UTC)
PROJECT = "4.2.4.1/1/24/I/001"
SPEAKERS = [
    {"name": "Anna Bērziņa", "role": "jaunatnes darbiniece", "organisation": "Cēsu novads"},
]


def network(context: Context, tmp_path: Path) -> dict[str, int]:
    """The funded Vidzeme meeting (3 h) and two national videoconferences (1 h 30 min), ended."""
    import_entries(context, tmp_path, national(), vidzeme())
    found = {
        "vidzeme": session_id(context, VIDZEME, "2026-12-30"),
        "december": session_id(context, NATIONAL, "2026-12-10"),
        "january": session_id(context, NATIONAL, "2027-01-14"),
    }
    with context.database.session() as db:
        session = db.get(Session, found["vidzeme"])
        assert session is not None
        session.topic_lv = "Kā sasniegt jauniešus, kuri nemācās un nestrādā"
        session.topic_en = "Reaching young people not in education or work"
        session.speakers = SPEAKERS
    context.clock = FixedClock(AFTER)
    return found


def attend(
    context: Context,
    session: int,
    email: str,
    name: str = "",
    minutes: int | None = None,
    member_id: int | None = None,
    language: str = "lv",
) -> int:
    with context.database.session() as db:
        row = Attendance(
            session_id=session,
            member_id=member_id,
            email=email,
            name=name,
            language=language,
            attendance="online",
            minutes=minutes,
            source="marked" if minutes is None else "zoom",
        )
        db.add(row)
        db.flush()
        return row.id


def release(context: Context, session: int) -> issue.Released:
    with context.database.session() as db:
        return issue.release(db, context.settings, context.clock, session, "test")


def certificate_of(context: Context, email: str, session: int) -> Certificate:
    with context.database.session() as db:
        return db.scalars(
            select(Certificate)
            .join(Attendance, Attendance.id == Certificate.attendance_id)
            .where(Attendance.email == email, Certificate.session_id == session)
        ).one()


def pdf_of(context: Context, code: str) -> bytes:
    with context.database.session() as db:
        found = issue.find(db, code)
        assert found is not None
        return document.render(context.settings, found, found.session)


def text_of(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def one_line(text: str) -> str:
    return " ".join(text.split())


# -- the PDF --------------------------------------------------------------------------------------


def test_a_funded_certificate_says_who_what_when_how_long_and_the_project(
    tmp_path: Path,
) -> None:
    context = mail_context(tmp_path)
    found = network(context, tmp_path)
    attend(context, found["vidzeme"], "ilze@example.lv", "Ilze Liepiņa")
    release(context, found["vidzeme"])
    certificate = certificate_of(context, "ilze@example.lv", found["vidzeme"])

    text = one_line(text_of(pdf_of(context, certificate.code)))

    assert "Apliecinājums par dalību" in text
    assert "Ilze Liepiņa" in text
    assert "Vidzemes pieredzes apmaiņas tikšanās" in text
    assert "Kā sasniegt jauniešus, kuri nemācās un nestrādā" in text
    assert "trešdiena, 2026. gada 30. decembris" in text
    assert "4 akadēmiskās stundas" in text  # 180 minutes
    assert "Anna Bērziņa, jaunatnes darbiniece (Cēsu novads)" in text
    assert "Vidzemes plānošanas reģions" in text
    assert "Līdzfinansē Eiropas Savienība" in text
    assert f"Projekta Nr. {PROJECT}" in text
    assert certificate.code in text
    assert f"https://tikls.example.lv/certificates/{certificate.code}" in text


def test_an_english_certificate_of_an_unfunded_series_has_no_funding_block(
    tmp_path: Path,
) -> None:
    context = mail_context(tmp_path)
    found = network(context, tmp_path)
    attend(context, found["december"], "tom@example.lv", "Tom Smith", language="en")
    release(context, found["december"])
    certificate = certificate_of(context, "tom@example.lv", found["december"])

    text = one_line(text_of(pdf_of(context, certificate.code)))

    assert "Certificate of participation" in text
    assert "Tom Smith" in text and "Youth work videoconferences" in text
    assert "Thursday, 10 December 2026" in text
    assert "2 academic hours" in text  # 90 minutes
    assert "European Union" not in text and "Project No." not in text


def test_the_qr_code_in_the_certificate_decodes_to_its_verification_address(
    tmp_path: Path,
) -> None:
    context = mail_context(tmp_path)
    found = network(context, tmp_path)
    attend(context, found["vidzeme"], "ilze@example.lv", "Ilze Liepiņa")
    release(context, found["vidzeme"])
    code = certificate_of(context, "ilze@example.lv", found["vidzeme"]).code
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf_of(context, code))

    # The page as a printer or a phone's camera sees it: rendered by poppler, not our PNG.
    subprocess.run(
        ["pdftoppm", "-png", "-r", "150", "-singlefile", str(path), str(tmp_path / "page")],
        check=True,
    )
    image = Image.open(tmp_path / "page.png")
    decoded = [result.text for result in zxingcpp.read_barcodes(image)]

    assert decoded == [f"https://tikls.example.lv/certificates/{code}"]


@pytest.mark.parametrize(
    ("minutes", "lang", "said"),
    [
        (45, "lv", "1 akadēmiskā stunda"),
        (90, "lv", "2 akadēmiskās stundas"),
        (21 * 45, "lv", "21 akadēmiskā stunda"),
        (11 * 45, "lv", "11 akadēmiskās stundas"),
        (0, "lv", "0 akadēmisko stundu"),
        (60, "lv", "1,3 akadēmiskās stundas"),
        (60, "en", "1.3 academic hours"),
        (45, "en", "1 academic hour"),
    ],
)
def test_academic_hours_are_said_with_the_right_plural(minutes: int, lang: str, said: str) -> None:
    assert hours.in_words(minutes, lang) == said


def test_codes_are_read_back_leniently_and_nothing_else_is_a_code() -> None:
    code = codes.new_code()
    assert len(code) == 14 and code.count("-") == 2
    assert codes.normalised(code.lower().replace("-", " ")) == code
    assert codes.normalised("0000-1111-OOOO") is None  # look-alikes are never in a code
    assert codes.normalised("ABCD") is None


# -- release and revoke ---------------------------------------------------------------------------


def test_release_gives_one_certificate_to_each_attendee_long_enough_and_queues_once(
    tmp_path: Path, any_database_url: str
) -> None:
    context = mail_context(tmp_path, any_database_url)
    found = network(context, tmp_path)
    session = found["vidzeme"]  # 180 minutes: 135 needed
    [member] = add_members(context, 1)
    attend(context, session, "biedrs0@example.lv", "Ērika Ūdre", member_id=member)
    attend(context, session, "long@example.lv", "Ilgā Dalībniece", minutes=135)
    attend(context, session, "short@example.lv", "Īsais Dalībnieks", minutes=134)

    first = release(context, session)
    again = release(context, session)

    assert (first.issued, first.queued, first.too_short) == (2, 2, 1)
    assert (again.issued, again.queued) == (0, 0)
    with context.database.session() as db:
        mails = db.scalars(select(Delivery).where(Delivery.kind == "certificate")).all()
        assert sorted(mail.to_address for mail in mails) == [
            "biedrs0@example.lv",
            "long@example.lv",
        ]
        assert len(db.scalars(select(Certificate)).all()) == 2

    attend(context, session, "late@example.lv", "Vēlā Dalībniece")  # recorded later
    later = release(context, session)
    assert (later.issued, later.queued) == (1, 1)


def test_the_minimum_presence_is_the_attendance_setting(tmp_path: Path) -> None:
    # The report import and the certificates count people present by one rule.
    context = mail_context(tmp_path, VCS_ATTENDANCE_MIN_PRESENCE="0.5")
    session = network(context, tmp_path)["vidzeme"]  # 180 minutes: 90 needed
    attend(context, session, "half@example.lv", "Puse Dalībnieka", minutes=90)
    attend(context, session, "less@example.lv", "Mazāk Dalībnieka", minutes=89)

    released = release(context, session)

    assert (released.issued, released.too_short) == (1, 1)
    assert certificate_of(context, "half@example.lv", session).minutes == 180


def test_release_is_refused_before_the_end_and_for_a_cancelled_session(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    found = network(context, tmp_path)
    context.clock = FixedClock(dt.datetime(2026, 12, 30, 12, 0, tzinfo=dt.UTC))  # 14.00 Riga
    with pytest.raises(VcsError) as early:
        release(context, found["vidzeme"])
    assert early.value.code == "certificates.not-ended"

    context.clock = FixedClock(AFTER)
    with context.database.session() as db:
        session = db.get(Session, found["december"])
        assert session is not None
        session.status = "cancelled"
    with pytest.raises(VcsError) as cancelled:
        release(context, found["december"])
    assert cancelled.value.code == "certificates.cancelled"


def test_revoking_is_audited_and_the_revoked_certificate_is_mailed_to_nobody(
    tmp_path: Path,
) -> None:
    context = mail_context(tmp_path)
    found = network(context, tmp_path)
    session = found["vidzeme"]
    attend(context, session, "ilze@example.lv", "Ilze Liepiņa")
    with context.database.session() as db:
        # Made, then revoked before its mail was queued (as if released and revoked at once).
        issue._add(
            db, db.get(Session, session), db.scalars(select(Attendance)).one(), "Ilze", AFTER
        )
    code = certificate_of(context, "ilze@example.lv", session).code

    with context.database.session() as db:
        issue.revoke(db, context.clock, code.lower(), "staff@example.lv", "a wrong name")
        issue.revoke(db, context.clock, code, "staff@example.lv", "again")  # changes nothing
    assert release(context, session).queued == 0

    revoked = certificate_of(context, "ilze@example.lv", session)
    assert (revoked.revoked_at, revoked.revoke_reason) == (AFTER, "a wrong name")
    with context.database.session() as db:
        [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "revoke"))
        assert (entry.actor, entry.entity_id) == ("staff@example.lv", code)
        with pytest.raises(VcsError) as unknown:
            issue.revoke(db, context.clock, "2345-6789-ABCD", "x")
        assert unknown.value.code == "certificates.unknown"


def test_the_certificate_mail_reaches_a_real_smtp_server_with_the_pdf(tmp_path: Path) -> None:
    with smtp_server() as (sink, port):
        context = mail_context(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        found = network(context, tmp_path)
        [member] = add_members(context, 1)
        attend(context, found["vidzeme"], "biedrs0@example.lv", "Ērika Ūdre", member_id=member)
        release(context, found["vidzeme"])
        assert Sender(context).run().sent == 1
        assert Sender(context).run().sent == 0
        release(context, found["vidzeme"])
        assert Sender(context).run().sent == 0  # released twice, mailed once

    [message] = sink.received()
    code = certificate_of(context, "biedrs0@example.lv", found["vidzeme"]).code
    assert message["To"].addresses[0].addr_spec == "biedrs0@example.lv"
    assert "Jūsu apliecinājums par dalību" in str(message["Subject"])
    body = message.get_body(("plain",))
    assert body is not None
    assert f"https://tikls.example.lv/certificates/{code}" in body.get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"certificate-{code}.pdf"
    assert "Ērika Ūdre" in text_of(attachment.get_content())


# -- the verification page ------------------------------------------------------------------------


def test_the_verification_page_confirms_a_real_code_and_refuses_others(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    found = network(context, tmp_path)
    [member] = add_members(context, 1)
    attend(context, found["vidzeme"], "biedrs0@example.lv", "Ērika Ūdre", member_id=member)
    attend(context, found["vidzeme"], "ilze@example.lv", "Ilze Liepiņa")
    release(context, found["vidzeme"])
    genuine = certificate_of(context, "biedrs0@example.lv", found["vidzeme"]).code
    revoked = certificate_of(context, "ilze@example.lv", found["vidzeme"]).code
    with context.database.session() as db:
        issue.revoke(db, context.clock, revoked, "staff@example.lv", "duplicate")

    with live_server(context) as base, httpx.Client(base_url=base) as client:
        real = client.get(f"/certificates/{genuine}?lang=lv")
        typed = client.get(f"/certificates/{genuine.lower().replace('-', '')}?lang=lv")
        made_up = client.get("/certificates/2345-6789-ABCD?lang=lv")
        nonsense = client.get("/certificates/hello?lang=lv")
        gone = client.get(f"/certificates/{revoked}?lang=lv")
        english = client.get(f"/certificates/{genuine}?lang=en")

    assert real.status_code == 200
    page = one_line(real.text)
    assert "Apliecinājums ir īsts" in page
    assert "Ērika Ūdre" in page
    assert "Vidzemes pieredzes apmaiņas tikšanās" in page
    assert "trešdiena, 2026. gada 30. decembris" in page
    assert "4 akadēmiskās stundas" in page
    assert real.headers["x-robots-tag"] == "noindex"
    assert '<meta name="robots" content="noindex">' in real.text
    assert real.headers["cache-control"] == "no-store"
    assert typed.status_code == 200 and "Ērika Ūdre" in typed.text

    for refused in (made_up, nonsense):
        assert refused.status_code == 404
        assert "Šāda apliecinājuma nav" in refused.text
    assert gone.status_code == 200
    assert "Apliecinājums ir atsaukts" in gone.text
    assert "2027. gada 20. janvārī" in one_line(gone.text)  # when, in the locative
    assert "Ilze" not in gone.text  # a revoked certificate names nobody
    assert "The certificate is genuine" in english.text

    for response in (real, typed, made_up, gone, english):
        assert "@" not in response.text.replace("@context", "")  # no e-mail address at all
        assert f"/members/{member}" not in response.text


def test_the_verification_page_limits_lookups_per_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vcs.web import certificates as pages

    monkeypatch.setattr(pages, "LOOKUPS_PER_WINDOW", 3)
    context = mail_context(tmp_path)
    client = browse(context)

    answers = [client.get(f"/certificates/2345-6789-ABC{n}").status_code for n in "DEFG"]

    assert answers == [404, 404, 404, 429]


# -- the member's list ----------------------------------------------------------------------------


def test_a_member_sees_all_their_certificates_and_hours_per_year(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    found = network(context, tmp_path)
    member, other = add_members(context, 2)
    for key in ("december", "vidzeme", "january"):
        attend(context, found[key], "biedrs0@example.lv", "Ērika Ūdre", member_id=member)
        release(context, found[key])
    attend(context, found["december"], "biedrs1@example.lv", "Cits Biedrs", member_id=other)
    release(context, found["december"])
    january = certificate_of(context, "biedrs0@example.lv", found["january"]).code
    december = certificate_of(context, "biedrs0@example.lv", found["december"]).code
    foreign = certificate_of(context, "biedrs1@example.lv", found["december"]).code
    with context.database.session() as db:
        issue.revoke(db, context.clock, january, "staff@example.lv", "not there")
        holder = db.get(Member, member)
        assert holder is not None
        path = links.preferences_url(context.settings, holder).removeprefix(
            context.settings.base_url
        )
    client = browse(context)

    page = client.get(f"{path}?lang=lv").text
    section = one_line(page[page.index('id="certificates-heading"') :])
    # 2026: 90 + 180 minutes = 6 academic hours; 2027: only a revoked one, so no total.
    assert "<dt>2026. gadā</dt><dd>6 akadēmiskās stundas</dd>" in section
    assert "2027. gadā" not in section
    assert section.count("<tr>") == 4  # the heading and three certificates
    assert "Vidzemes pieredzes apmaiņas tikšanās" in section
    assert "atsaukts" in section
    assert f"{path}/certificates/{december}.pdf" in section
    assert f"/certificates/{january}.pdf" not in section
    assert foreign not in page

    own = client.get(f"{path}/certificates/{december}.pdf")
    assert own.status_code == 200
    assert own.headers["content-type"] == "application/pdf"
    assert "Ērika Ūdre" in text_of(own.content)
    assert client.get(f"{path}/certificates/{foreign}.pdf").status_code == 404
    assert client.get(f"/preferences/forged/certificates/{december}.pdf").status_code == 400


# -- staff -------------------------------------------------------------------------------------


def test_staff_release_list_and_revoke_on_the_session_page(tmp_path: Path) -> None:
    from tests.integration.test_staff_access import EDITOR, add_staff, csrf_of, log_in

    context = mail_context(tmp_path)
    found = network(context, tmp_path)
    add_staff(context, EDITOR, "editor")
    attend(context, found["vidzeme"], "ilze@example.lv", "Ilze Liepiņa")
    attend(context, found["vidzeme"], "short@example.lv", "Īsais", minutes=10)
    # Staff cookies are Secure: the client speaks to the installation's https address.
    client = TestClient(create_app(context), base_url=context.settings.base_url)
    log_in(client, EDITOR)
    page = f"/staff/sessions/{found['vidzeme']}"

    before = client.get(f"{page}?lang=en").text
    section = before[before.index('id="certificates-heading"') :]
    assert "<dt>Attendees recorded</dt><dd>2</dd>" in section
    assert "<dt>Entitled to a certificate</dt><dd>1</dd>" in section
    released = client.post(f"{page}/certificates", data={"csrf_token": csrf_of(before)})
    assert released.status_code == 200  # followed back to the session page
    assert "Certificates made: 1. E-mails queued: 1." in released.text

    code = certificate_of(context, "ilze@example.lv", found["vidzeme"]).code
    assert client.get(f"/staff/certificates/{code}.pdf").headers["content-type"] == (
        "application/pdf"
    )
    revoked = client.post(
        f"/staff/certificates/{code}/revoke",
        data={"csrf_token": csrf_of(released.text), "reason": "duplicate"},
    )
    assert "The certificate has been revoked." in revoked.text
    assert certificate_of(context, "ilze@example.lv", found["vidzeme"]).revoke_reason == "duplicate"


# -- the CLI ------------------------------------------------------------------------------------


def test_the_cli_releases_once_and_revokes(tmp_path: Path) -> None:
    from tests.conftest import make_settings
    from tests.integration.test_sessions_cli import ok, vcs

    ok(tmp_path, "init")
    context = Context.from_settings(make_settings(tmp_path))
    import_entries(context, tmp_path, national())
    session = session_id(context, NATIONAL, "2026-12-10")
    with context.database.session() as db:
        # The commands run on the real clock: the session ended an hour ago.
        row = db.get(Session, session)
        assert row is not None
        now = dt.datetime.now(dt.UTC)
        row.start, row.end = now - dt.timedelta(minutes=150), now - dt.timedelta(hours=1)
    attend(context, session, "ilze@example.lv", "Ilze Liepiņa")

    assert ok(tmp_path, "certificates", "release", str(session)) == (
        f"session {session}: 1 certificates made, 1 e-mails queued\n"
    )
    assert ok(tmp_path, "certificates", "release", str(session)) == (
        f"session {session}: 0 certificates made, 0 e-mails queued\n"
    )
    code = certificate_of(context, "ilze@example.lv", session).code
    assert ok(tmp_path, "certificates", "revoke", code, "--reason", "wrong name") == (
        f"certificate {code} revoked\n"
    )
    assert certificate_of(context, "ilze@example.lv", session).revoked_at is not None
    unknown = vcs(tmp_path, "certificates", "revoke", "2345-6789-ABCD")
    assert unknown.returncode == 1
    assert unknown.stderr == "vcs: there is no certificate 2345-6789-ABCD\n"
    context.close()


def test_concurrent_releases_make_each_certificate_once(
    tmp_path: Path, any_database_url: str
) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    context = mail_context(tmp_path, any_database_url)
    found = network(context, tmp_path)
    for n in range(10):
        attend(context, found["vidzeme"], f"dalibnieks{n}@example.lv", f"Dalībnieks {n}")
    start = threading.Barrier(4)

    def one(_: int) -> issue.Released:
        start.wait()
        return release(context, found["vidzeme"])

    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(one, range(4)))

    assert sum(result.issued for result in done) == 10
    assert sum(result.queued for result in done) == 10
    with context.database.session() as db:
        assert len(db.scalars(select(Certificate)).all()) == 10
        assert len(db.scalars(select(Delivery)).all()) == 10
