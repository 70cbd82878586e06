"""Registration per session (issue 16): capacity, the waiting list, visitors, cancelling."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.factories import VIDZEME, browse, import_entries, session_id, vidzeme
from tests.mail_factories import add_members, mail_context
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.errors import VcsError
from vcs.planning import registrations, sessions
from vcs.planning.series import read_series_file
from vcs.storage.models import Delivery, Member, Registration

DATE = "2026-12-30"
NETWORK = {"lv": "Tīkls", "en": "The network"}.__getitem__


def open_session(context: Context, tmp_path: Path, capacity: int = 3, **more: object) -> int:
    """The hybrid Vidzeme meeting of 30 December, open for registration with `capacity` seats."""
    setting = {"open": True, "capacity": capacity, "closes": "P1D", **more}
    import_entries(context, tmp_path, vidzeme(registration=setting))
    return session_id(context, VIDZEME, DATE)


def register(context: Context, session: int, member_id: int, attendance: str = "room") -> str:
    with context.database.session() as db:
        member = db.get(Member, member_id)
        assert member is not None
        return registrations.register_member(db, context.clock, session, member, attendance).status


def counts(context: Context, session: int) -> registrations.Counts:
    with context.database.session() as db:
        return registrations.counts(db, session)


def deliveries(context: Context, kind: str) -> list[Delivery]:
    with context.database.session() as db:
        return list(db.scalars(select(Delivery).where(Delivery.kind == kind)))


def test_a_full_room_puts_new_registrations_on_the_waiting_list(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = open_session(context, tmp_path, capacity=3)
    members = add_members(context, 6)

    statuses = [register(context, session, member) for member in members[:5]]
    online = register(context, session, members[5], "online")

    assert statuses == ["registered"] * 3 + ["waiting"] * 2
    assert online == "registered"  # the capacity counts the room only
    assert counts(context, session) == registrations.Counts(room=3, online=1, waiting=2)


def test_registering_twice_is_one_registration(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = open_session(context, tmp_path)
    [member] = add_members(context, 1)

    register(context, session, member)
    register(context, session, member)

    assert counts(context, session).room == 1


def test_a_cancellation_promotes_the_first_waiting_and_mails_them_once(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = open_session(context, tmp_path, capacity=1)
    seated, first, second = add_members(context, 3)
    for member in (seated, first, second):
        register(context, session, member)

    with context.database.session() as db:
        row = db.scalars(select(Registration).where(Registration.member_id == seated)).one()
        promoted = registrations.cancel(db, context.settings, context.clock, row.id, NETWORK)
        assert promoted is not None and promoted.member_id == first
        # Cancelling again changes nothing and promotes nobody else.
        assert registrations.cancel(db, context.settings, context.clock, row.id, NETWORK) is None

    assert counts(context, session) == registrations.Counts(room=1, waiting=1, cancelled=1)
    mails = deliveries(context, "registration-promoted")
    assert [mail.member_id for mail in mails] == [first]


def test_a_closed_or_cancelled_session_refuses(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = open_session(context, tmp_path, closes="P40D")  # closed since 20 November
    [member] = add_members(context, 1)

    with pytest.raises(VcsError) as closed:
        register(context, session, member)
    assert closed.value.code == "registration.closed"

    import_entries(context, tmp_path, vidzeme(registration={"open": False}))
    with pytest.raises(VcsError) as not_open:
        register(context, session, member)
    assert not_open.value.code == "registration.not-open"


def test_a_visitor_is_registered_only_after_confirming_and_not_made_a_member(
    tmp_path: Path,
) -> None:
    context = mail_context(tmp_path)
    session = open_session(context, tmp_path)
    visitor = registrations.Visitor("Vika Viesīte", "vika@example.lv", "Cēsis", "lv")

    with context.database.session() as db:
        outcome = registrations.ask_visitor(
            db, context.settings, context.clock, session, visitor, "room", NETWORK
        )
    assert outcome == "confirmation"
    assert counts(context, session) == registrations.Counts(unconfirmed=1)
    with context.database.session() as db:
        [mail] = db.scalars(select(Delivery).where(Delivery.kind == "registration-confirm"))
        assert mail.to_address == "vika@example.lv"
        row = db.scalars(select(Registration)).one()
        token = registrations.link_token(context.settings, row)
        assert registrations.link_url(context.settings, row) in _text_of(mail)
    for _ in range(2):  # the link works once: the second press changes nothing
        with context.database.session() as db:
            found = registrations.registration_for_link(db, context.settings, token)
            registrations.confirm_visitor(db, context.clock, found.id)

    assert counts(context, session) == registrations.Counts(room=1)
    with context.database.session() as db:
        assert db.scalars(select(Member)).all() == []


def test_a_forged_or_altered_link_opens_nothing(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    with context.database.session() as db:
        for token in ("nonsense", "WzEsICJ4Il0.abc"):
            with pytest.raises(VcsError) as refused:
                registrations.registration_for_link(db, context.settings, token)
            assert refused.value.code == "registration.link"


def _text_of(delivery: Delivery) -> str:
    import zlib
    from email import message_from_bytes, policy

    message = message_from_bytes(zlib.decompress(delivery.raw_message), policy=policy.SMTP)
    body = message.get_body(("plain",))  # type: ignore[attr-defined]
    return str(body.get_content())


@pytest.mark.parametrize(
    ("setting", "code"),
    [
        ({"open": "yes"}, "series.registration.open"),
        ({"capacity": 0}, "series.registration.capacity"),
        ({"capacity": "forty"}, "series.registration.capacity"),
        ({"closes": "1 day"}, "series.registration.closes"),
        ({"seats": 40}, "series.registration.unknown-key"),
        ("open", "series.registration.not-a-table"),
    ],
)
def test_a_malformed_registration_setting_is_refused_clearly(
    tmp_path: Path, setting: object, code: str
) -> None:
    from tests.factories import toml_value

    path = tmp_path / "series.toml"
    entry = vidzeme(registration=setting)
    path.write_text(
        "[[series]]\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in entry.items()),
        encoding="utf-8",
    )

    with pytest.raises(VcsError) as refused:
        read_series_file(path)

    assert refused.value.code == code
    assert "registration" in refused.value.lines("en")[0]
    latvian = refused.value.lines("lv")[0]
    assert latvian != refused.value.lines("en")[0]
    assert latvian.rpartition(": ")[2] != refused.value.lines("en")[0].rpartition(": ")[2]


def test_the_series_file_setting_is_read(tmp_path: Path) -> None:
    from tests.factories import toml_value

    path = tmp_path / "series.toml"
    entry = vidzeme(registration={"open": True, "capacity": 40, "closes": "P1D"})
    path.write_text(
        "[[series]]\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in entry.items()),
        encoding="utf-8",
    )

    [spec] = read_series_file(path)

    assert spec.registration == {"open": True, "capacity": 40, "closes": "P1D"}


def test_the_api_summary_counts_without_names(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = open_session(context, tmp_path, capacity=1)
    for member in add_members(context, 2):
        register(context, session, member)

    with context.database.session() as db:
        summary = registrations.summary(db, sessions.get(db, session))

    assert summary == {"open": True, "capacity": 1, "taken": 1, "waiting": 1}


def test_the_csv_export_is_for_excel_in_latvia(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = open_session(context, tmp_path)
    [member] = add_members(context, 1)
    register(context, session, member)
    visitor = registrations.Visitor("=HYPERLINK(1)", "vika@example.lv", "", "lv")
    with context.database.session() as db:
        registrations.ask_visitor(
            db, context.settings, context.clock, session, visitor, "online", NETWORK
        )
        row = db.scalars(select(Registration).where(Registration.member_id.is_(None))).one()
        registrations.confirm_visitor(db, context.clock, row.id)

    with context.database.session() as db:
        data = registrations.export_csv(db, session, ZoneInfo("Europe/Riga"))

    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0][:4] == ["status", "attendance", "name", "email"]
    assert rows[1][:4] == ["registered", "room", "Ērika Ūdre 0", "biedrs0@example.lv"]
    assert rows[2][:3] == ["registered", "online", "'=HYPERLINK(1)"]  # never a formula
    assert b"\r\n" in data


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_capacity_holds_under_concurrent_registrations(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'vcs.sqlite3'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    context = mail_context(tmp_path, url)
    session = open_session(context, tmp_path, capacity=5)
    members = add_members(context, 20)
    start = threading.Barrier(len(members))

    def one(member: int) -> str:
        start.wait()
        return register(context, session, member)

    with ThreadPoolExecutor(len(members)) as pool:
        statuses = list(pool.map(one, members))

    assert sorted(statuses) == ["registered"] * 5 + ["waiting"] * 15
    assert counts(context, session) == registrations.Counts(room=5, waiting=15)


# -- the pages ------------------------------------------------------------------------------------


def test_the_session_page_offers_the_form_only_when_registration_is_open(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = open_session(context, tmp_path)
    client = browse(context)

    page = client.get(f"/sessions/{session}?lang=lv").text
    assert f'action="/sessions/{session}/register"' in page
    assert 'value="room"' in page and 'value="online"' in page  # hybrid: a choice

    import_entries(context, tmp_path, vidzeme(registration={"open": False}))
    assert "/register" not in client.get(f"/sessions/{session}?lang=lv").text


def test_the_cached_session_page_drops_the_form_when_registration_closes(tmp_path: Path) -> None:
    # Nothing changes in the database at the closing time: the cached page must go stale alone.
    context = mail_context(tmp_path)
    # Closing at a time when the page's countdown stays the same ("in 2 days") either side.
    session = open_session(context, tmp_path, closes="P2DT5H")
    client = browse(context)
    with context.database.session() as db:
        start = sessions.get(db, session).start
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(start - dt.timedelta(days=2, hours=5, seconds=1) - context.clock.now())
    assert f'action="/sessions/{session}/register"' in client.get(f"/sessions/{session}").text

    context.clock.advance(dt.timedelta(seconds=2))
    page = client.get(f"/sessions/{session}").text
    assert f"/sessions/{session}" in page and "/register" not in page


def test_a_visitor_registers_confirms_and_cancels_through_the_pages(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = open_session(context, tmp_path, capacity=1)
    client = browse(context)
    form = {"name": "Vika", "email": "Vika@Example.lv", "municipality": "Cēsis"}

    sent = client.post(f"/sessions/{session}/register", data={**form, "attendance": "room"})
    assert sent.status_code == 200
    with context.database.session() as db:
        row = db.scalars(select(Registration)).one()
        assert (row.status, row.email) == ("unconfirmed", "vika@example.lv")
        link = registrations.link_url(context.settings, row).removeprefix(context.settings.base_url)

    opened = client.get(link)  # a mail scanner's GET changes nothing
    assert opened.headers["cache-control"] == "no-store"
    assert counts(context, session).room == 0
    client.post(link, data={"action": "confirm"})
    assert counts(context, session).room == 1
    client.post(link, data={"action": "cancel"})
    assert counts(context, session) == registrations.Counts(cancelled=1)


def test_a_member_registers_and_cancels_from_their_link(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = open_session(context, tmp_path)
    [member_id] = add_members(context, 1)
    with context.database.session() as db:
        member = db.get(Member, member_id)
        assert member is not None
        link = registrations.member_url(context.settings, sessions.get(db, session), member)
    link = link.removeprefix(context.settings.base_url)
    client = browse(context)

    client.post(link, data={"action": "register", "attendance": "online"})
    assert counts(context, session) == registrations.Counts(online=1)
    assert 'value="cancel"' in client.get(link).text  # the same link cancels
    client.post(link, data={"action": "cancel"})
    assert counts(context, session) == registrations.Counts(cancelled=1)
    refused = client.post(link, data={"action": "register", "attendance": "balcony"})
    assert refused.status_code == 400


def test_the_visitor_form_with_a_members_address_mails_the_members_link(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = open_session(context, tmp_path)
    add_members(context, 1)
    client = browse(context)

    client.post(
        f"/sessions/{session}/register",
        data={"name": "X", "email": "biedrs0@example.lv", "attendance": "room"},
    )

    with context.database.session() as db:
        assert db.scalars(select(Registration)).all() == []  # nobody registered by a form
        [mail] = db.scalars(select(Delivery).where(Delivery.kind == "registration-confirm"))
        assert f"/sessions/{session}/register/" in _text_of(mail)


def test_staff_see_counts_and_the_list_and_export_it(context: Context, tmp_path: Path) -> None:
    from tests.integration.test_staff_access import EDITOR, log_in, staff_site

    client = staff_site(context, tmp_path)
    session = open_session(context, tmp_path, capacity=1)
    members = add_members(context, 3)
    for member in members[:2]:
        register(context, session, member)
    register(context, session, members[2], "online")
    log_in(client, EDITOR)

    page = client.get(f"/staff/sessions/{session}?lang=en").text
    section = page[page.index('id="registrations-heading"') :]
    assert "<dt>In the room</dt><dd>1</dd>" in section
    assert "<dt>Online</dt><dd>1</dd>" in section
    assert "<dt>Waiting list</dt><dd>1</dd>" in section
    assert "Ērika Ūdre 2" in section and "biedrs1@example.lv" in section
    # Whether one may still register, that the room is full, and where the waiting stand.
    assert "Registration is open and closes on" in section
    assert "The room is full" in section
    assert "Waiting (1.)" in section

    exported = client.get(f"/staff/sessions/{session}/registrations.csv")
    assert exported.status_code == 200
    assert exported.content.startswith("\ufeff".encode())
    assert exported.headers["content-disposition"].startswith("attachment")
    assert len(exported.content.decode("utf-8-sig").splitlines()) == 4


def test_staff_see_when_registration_has_closed(context: Context, tmp_path: Path) -> None:
    from tests.integration.test_staff_access import EDITOR, log_in, staff_site

    client = staff_site(context, tmp_path)
    session = open_session(context, tmp_path, closes="P40D")  # closed on 20 November
    log_in(client, EDITOR)

    section = client.get(f"/staff/sessions/{session}").text.split('id="registrations-heading"')[1]
    assert "Pieteikšanās ir beigusies." in section
    assert "atvērta" not in section


def test_the_api_shows_registration_counts_without_names(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = open_session(context, tmp_path, capacity=1)
    for member in add_members(context, 2):
        register(context, session, member)

    response = browse(context).get(f"/api/sessions/{session}")

    assert response.json()["registration"] == {
        "open": True,
        "capacity": 1,
        "taken": 1,
        "waiting": 1,
    }
    assert "biedrs" not in response.text and "Ērika" not in response.text
