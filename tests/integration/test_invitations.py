"""Announcements and change notices as calendar invitations (iTIP, RFC 5546), as members receive
them from a real SMTP server.

The Vidzeme meeting of Wednesday 30 December 2026, 13.00 Riga, organised by the Vidzeme
planning region (jaunatne@example.lv); the network sends from tikls@example.lv. Each calendar is
read twice, by icalendar and by vobject, as two different calendar programs would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import icalendar
import pytest
import vobject

from tests.factories import VIDZEME, import_entries, national, session_id, vidzeme
from tests.integration.test_announcements import (
    RIGA,
    WEEK_BEFORE_VIDZEME,
    announce,
    at,
    body,
    deliver,
    member,
    subject,
    to,
)
from tests.mail_factories import Sink, mail_context, smtp_server
from vcs.config import ConfigError, Settings, load_settings
from vcs.context import Context
from vcs.network import network_name
from vcs.planning import sessions
from vcs.storage.models import Session

NETWORK_ADDRESS = "tikls@example.lv"
SERIES_ORGANISER = "jaunatne@example.lv"
INVITATION_LV = (
    "Šis uzaicinājums pievieno sesiju jūsu kalendāram un atjaunina to, ja kaut kas mainās; "
    "atbildes uz to netiek lasītas, tāpēc piesakieties vai atsakieties ar saiti augstāk."
)
UPDATE_LV = (
    "Šis uzaicinājums atjaunina sesiju jūsu kalendārā; atbildes uz to netiek lasītas, tāpēc "
    "piesakieties vai atsakieties ar saiti augstāk."
)
REMOVAL_LV = "Šis paziņojums noņem sesiju no jūsu kalendāra; atbildes uz to netiek lasītas."


@contextmanager
def network(
    tmp_path: Path, database_url: str | None = None, **environ: str
) -> Iterator[tuple[Context, Sink]]:
    """The national and Vidzeme series, mail going to a real SMTP server."""
    with smtp_server() as (sink, port):
        context = mail_context(
            tmp_path, database_url, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}", **environ
        )
        try:
            import_entries(context, tmp_path, national(), vidzeme())
            yield context, sink
        finally:
            context.close()


@contextmanager
def announced(
    tmp_path: Path, database_url: str | None = None, **environ: str
) -> Iterator[tuple[Context, Sink, int, list[EmailMessage]]]:
    """Anna (Latvian) and John (English) follow everything; the Vidzeme meeting is announced."""
    with network(tmp_path, database_url, **environ) as (context, sink):
        member(context, "anna@example.lv")
        member(context, "john@example.lv", language="en")
        at(context, WEEK_BEFORE_VIDZEME)
        announce(context)
        messages = deliver(context, sink)
        yield context, sink, session_id(context, VIDZEME, "2026-12-30"), messages


def raw(sink: Sink, address: str) -> str:
    """The last message to `address` as it went over SMTP."""
    [data] = [data for rcpt, data in sink.messages if rcpt == [address]][-1:]
    return data.decode("ascii")


def calendar_part(message: EmailMessage) -> EmailMessage:
    """The one text/calendar part of the message."""
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return part


def invitation(
    message: EmailMessage, method: str
) -> tuple[icalendar.Event, vobject.base.Component]:
    """The invitation's event as icalendar and as vobject read it, with its METHOD checked.

    The calendar is a part of the body's multipart/alternative (where Outlook and Gmail look),
    and the same bytes are attached as invite.ics.
    """
    part = calendar_part(message)
    assert part.get_param("method") == method
    assert part.get_content_disposition() is None  # in the body, not an attachment
    text = str(part.get_content())
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content().decode("utf-8").splitlines() == text.splitlines()

    calendar = icalendar.Calendar.from_ical(text)
    assert calendar["METHOD"] == method
    assert calendar["VERSION"] == "2.0"
    assert str(calendar["PRODID"]) == "-//vcs//Videoconference series manager//LV"
    assert [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")] == ["Europe/Riga"]
    [event] = calendar.walk("VEVENT")

    read = vobject.readOne(text)
    assert read.method.value == method
    assert len(read.vevent_list) == 1
    return event, read.vevent


def check_people(
    event: icalendar.Event,
    other: vobject.base.Component,
    address: str,
    lang: str,
    settings: Settings,
) -> None:
    """ORGANIZER is the network's sending address, ATTENDEE the recipient, both ways read."""
    organizer = event["ORGANIZER"]
    assert str(organizer) == f"mailto:{NETWORK_ADDRESS}"
    assert organizer.params["CN"] == network_name(settings, lang)
    attendee = event["ATTENDEE"]
    assert not isinstance(attendee, list)  # exactly one: this recipient
    assert str(attendee) == f"mailto:{address}"
    assert attendee.params["CN"] == "Ērika Ūdre"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert attendee.params["RSVP"] == "FALSE"

    assert other.organizer.value == f"mailto:{NETWORK_ADDRESS}"
    assert [a.value for a in other.attendee_list] == [f"mailto:{address}"]
    assert other.attendee.params["RSVP"] == ["FALSE"]
    # The series' organiser is still named, with their address, in the description.
    assert SERIES_ORGANISER in str(event["DESCRIPTION"])
    assert SERIES_ORGANISER in other.description.value


def test_announcement_invites_each_member_and_notices_move_and_cancel_the_entry(
    tmp_path: Path, any_database_url: str
) -> None:
    with announced(tmp_path, any_database_url) as (context, sink, sid, messages):
        with context.database.session() as db:
            session = db.get(Session, sid)
            assert session is not None
            uid, revision = session.uid, session.revision

        # -- the announcement: an invitation to each member, naming them
        for address, lang in (("anna@example.lv", "lv"), ("john@example.lv", "en")):
            [message] = to(messages, address)
            assert 'Content-Type: text/calendar; charset="utf-8"; method="REQUEST"' in raw(
                sink, address
            )
            event, other = invitation(message, "REQUEST")
            check_people(event, other, address, lang, context.settings)
            assert str(event["UID"]) == uid == other.uid.value
            assert event["SEQUENCE"] == revision == int(other.sequence.value)
            assert event["STATUS"] == "CONFIRMED"
            assert event["DTSTART"].dt == dt.datetime(2026, 12, 30, 13, 0, tzinfo=RIGA)
            assert other.dtstart.value == dt.datetime(2026, 12, 30, 13, 0, tzinfo=RIGA)
        [anna] = to(messages, "anna@example.lv")
        for part in (body(anna, "plain"), body(anna, "html")):
            assert INVITATION_LV in part
            assert "Atveriet pievienoto .ics failu" not in part
        [john] = to(messages, "john@example.lv")
        assert "replies to it are not read" in body(john, "plain")

        # -- moved: the same UID, a higher SEQUENCE, still a REQUEST
        with context.database.session() as db:
            new_start = dt.datetime(2026, 12, 31, 10, 0, tzinfo=RIGA)
            sessions.move(db, sessions.get(db, sid), new_start, "staff@example.lv")
        announce(context)
        moved = deliver(context, sink)
        assert len(moved) == 2
        [notice] = to(moved, "anna@example.lv")
        assert subject(notice).startswith("Pārcelta: ")
        assert 'method="REQUEST"' in raw(sink, "anna@example.lv")
        event, other = invitation(notice, "REQUEST")
        check_people(event, other, "anna@example.lv", "lv", context.settings)
        assert str(event["UID"]) == uid == other.uid.value
        assert event["SEQUENCE"] > revision
        assert int(other.sequence.value) == event["SEQUENCE"]
        assert event["DTSTART"].dt == dt.datetime(2026, 12, 31, 10, 0, tzinfo=RIGA)
        assert UPDATE_LV in body(notice, "plain")
        assert UPDATE_LV in body(notice, "html")
        moved_sequence = event["SEQUENCE"]

        # -- cancelled: METHOD:CANCEL, the same UID, a higher SEQUENCE still
        with context.database.session() as db:
            sessions.cancel(db, sessions.get(db, sid), "Lektore saslima", "staff@example.lv")
        announce(context)
        cancelled = deliver(context, sink)
        [cancellation] = to(cancelled, "anna@example.lv")
        [english] = to(cancelled, "john@example.lv")
        assert subject(cancellation).startswith("Atcelta: ")
        assert 'Content-Type: text/calendar; charset="utf-8"; method="CANCEL"' in raw(
            sink, "anna@example.lv"
        )
        event, other = invitation(cancellation, "CANCEL")
        check_people(event, other, "anna@example.lv", "lv", context.settings)
        assert str(event["UID"]) == uid == other.uid.value
        assert event["SEQUENCE"] > moved_sequence
        assert event["STATUS"] == "CANCELLED" == other.status.value
        with context.database.session() as db:
            session = db.get(Session, sid)
            assert session is not None
            assert event["SEQUENCE"] == session.revision
        assert REMOVAL_LV in body(cancellation, "plain")
        assert REMOVAL_LV in body(cancellation, "html")
        event, other = invitation(english, "CANCEL")
        check_people(event, other, "john@example.lv", "en", context.settings)


def test_the_publish_setting_sends_the_plain_ics_as_before(
    tmp_path: Path, any_database_url: str
) -> None:
    environ = {"VCS_ANNOUNCEMENTS_INVITATIONS": "publish"}
    with announced(tmp_path, any_database_url, **environ) as (context, sink, sid, messages):
        for address in ("anna@example.lv", "john@example.lv"):
            [message] = to(messages, address)
            data = raw(sink, address)
            assert 'method="PUBLISH"' in data
            assert "REQUEST" not in data and "ATTENDEE" not in data
            [attachment] = list(message.iter_attachments())
            assert attachment.get_content_type() == "text/calendar"
            assert attachment.get_param("method") == "PUBLISH"
            assert attachment.get_filename() == f"session-{sid}.ics"
            text = attachment.get_content()
            calendar = icalendar.Calendar.from_ical(text)
            assert calendar["METHOD"] == "PUBLISH"
            [event] = calendar.walk("VEVENT")
            assert "ATTENDEE" not in event
            # The series' organiser, as every feed has it.
            assert str(event["ORGANIZER"]) == f"mailto:{SERIES_ORGANISER}"
            read = vobject.readOne(text)
            assert read.method.value == "PUBLISH"
            assert not hasattr(read.vevent, "attendee")
        [anna] = to(messages, "anna@example.lv")
        assert "Atveriet pievienoto .ics failu" in body(anna, "plain")
        assert INVITATION_LV not in body(anna, "plain")

        with context.database.session() as db:
            sessions.cancel(db, sessions.get(db, sid), "Telpa aizņemta", "staff@example.lv")
        announce(context)
        [cancellation] = to(deliver(context, sink), "anna@example.lv")
        [attachment] = list(cancellation.iter_attachments())
        assert attachment.get_param("method") == "PUBLISH"
        calendar = icalendar.Calendar.from_ical(attachment.get_content())
        assert calendar["METHOD"] == "PUBLISH"
        [event] = calendar.walk("VEVENT")
        assert event["STATUS"] == "CANCELLED"
        assert REMOVAL_LV not in body(cancellation, "plain")


def test_a_wrong_invitations_setting_names_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"VCS_ANNOUNCEMENTS_INVITATIONS": "yes"})
    assert str(caught.value) == (
        "config: announcements.invitations (VCS_ANNOUNCEMENTS_INVITATIONS): "
        'must be "request" or "publish", not \'yes\''
    )
