"""One session said one way: the page, the announcement, the digest, the calendar feed and the
API name its speakers, its place and its page alike, in Latvian and in English.

The EU-funded Vidzeme meeting of Wednesday 30 December 2026 (hybrid, in Valmiera) gets four
speakers, one of each shape; a week before, the announce job runs, the week's digest is sent, and
both reach a Latvian and an English member through a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import icalendar
import pytest

from tests.factories import VIDZEME, browse, edit, import_entries, national, session_id, vidzeme
from tests.mail_factories import mail_context, smtp_server
from vcs import digest as digests
from vcs.clock import FixedClock
from vcs.mail.sender import Sender
from vcs.membership.members import EVERYTHING, MemberSpec, create_member
from vcs.planning import sessions
from vcs.scheduler.jobs import registry
from vcs.scheduler.runs import run_job

BASE = "https://tikls.example.lv"
# Six days and 23 hours before the meeting (13.00 Riga): it is announced and in this week's digest.
WEEK_BEFORE = dt.datetime(2026, 12, 23, 12, 0, tzinfo=dt.UTC)
SPEAKERS = [
    {"name": "Anna Bērziņa", "role": "speciāliste", "organisation": "Cēsu novads"},
    {"name": "Jānis Kalniņš", "role": "lektors", "organisation": ""},
    {"name": "Ilze Ozola", "role": "", "organisation": "Valmieras novads"},
    {"name": "Pēteris Liepa", "role": "", "organisation": ""},
]
# Name, role (organisation): as a sentence reads, in every language.
SAID = [
    "Anna Bērziņa, speciāliste (Cēsu novads)",
    "Jānis Kalniņš, lektors",
    "Ilze Ozola (Valmieras novads)",
    "Pēteris Liepa",
]
ROOM = "Valmieras jauniešu centrs „Vinda“, Rīgas iela 10, Valmiera"
PLACE = {"lv": f"{ROOM} · un tiešsaistē", "en": f"{ROOM} · and online"}
LABELS = {
    "lv": {"speakers": "Runātāji:", "where": "Kur:"},
    "en": {"speakers": "Speakers:", "where": "Where:"},
}


@dataclass(frozen=True)
class Told:
    """What one reader in one language gets to see of the session."""

    page: str
    announcement_text: str
    announcement_html: str
    digest_text: str
    digest_html: str
    feed: icalendar.Event
    api: dict[str, Any]


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def _about(messages: list[EmailMessage], address: str, kind: str) -> EmailMessage:
    """The message of `kind` (the session's announcement, or the digest) sent to `address`."""
    found = [
        m
        for m in messages
        if m["To"].addresses[0].addr_spec == address
        and ("Vidzeme" in str(m["Subject"])) == (kind == "announcement")
    ]
    assert len(found) == 1, [str(m["Subject"]) for m in messages]
    return found[0]


@pytest.fixture(scope="module")
def told(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, dict[str, Told]]]:
    """The session's id, and what a Latvian and an English member are told of it."""
    tmp_path: Path = tmp_path_factory.mktemp("wording")
    with smtp_server() as (sink, port):
        context = mail_context(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        try:
            import_entries(context, tmp_path, national(), vidzeme())
            sid = session_id(context, VIDZEME, "2026-12-30")
            edit(context, sid, lambda db, s: sessions.update_details(db, s, "t", speakers=SPEAKERS))
            with context.database.session() as db:
                for lang in ("lv", "en"):
                    spec = MemberSpec(
                        email=f"{lang}@example.lv", name="Ērika Ūdre", language=lang,
                        follows=EVERYTHING, status="active",
                    )  # fmt: skip
                    create_member(db, spec, actor="test")
            assert isinstance(context.clock, FixedClock)
            context.clock.at = WEEK_BEFORE
            run = run_job(context, registry.get("announce"), trigger="test")
            assert run.outcome == "ok", run.error
            with context.database.session() as db:
                digest, _created = digests.draft(db, context.settings, WEEK_BEFORE, "test")
                digests.send(db, context.settings, digest, WEEK_BEFORE, "test")
            Sender(context).run()
            messages = sink.received()
            client = browse(context)
            api = client.get(f"/api/sessions/{sid}").json()
            result = {}
            for lang in ("lv", "en"):
                address = f"{lang}@example.lv"
                announcement = _about(messages, address, "announcement")
                digest_mail = _about(messages, address, "digest")
                feed = icalendar.Calendar.from_ical(
                    client.get(f"/sessions/{sid}.ics?lang={lang}").content
                )
                result[lang] = Told(
                    page=client.get(f"/sessions/{sid}?lang={lang}").text,
                    announcement_text=_body(announcement, "plain"),
                    announcement_html=_body(announcement, "html"),
                    digest_text=_body(digest_mail, "plain"),
                    digest_html=_body(digest_mail, "html"),
                    feed=feed.walk("VEVENT")[0],
                    api=api,
                )
            yield sid, result
        finally:
            context.close()


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_every_surface_names_a_speaker_as_name_role_and_organisation(
    told: tuple[int, dict[str, Told]], lang: str
) -> None:
    _sid, by_lang = told
    seen = by_lang[lang]
    for said in SAID:
        assert f"<li>{html.escape(said)}</li>" in seen.page
        assert f"\n- {said}\n" in seen.announcement_text
        assert html.escape(said) in seen.announcement_html
        assert f"- {said}" in str(seen.feed["DESCRIPTION"]).splitlines()
    # The digest lists them on one line.
    line = f"{LABELS[lang]['speakers']} {'; '.join(SAID)}"
    assert line in seen.digest_text
    assert html.escape(line) in seen.digest_html
    # The API keeps the parts apart, for programs to say them as they like.
    assert seen.api["speakers"] == SPEAKERS


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_every_surface_says_the_place_alike_and_calendars_get_the_room(
    told: tuple[int, dict[str, Told]], lang: str
) -> None:
    _sid, by_lang = told
    seen = by_lang[lang]
    where, place = LABELS[lang]["where"], PLACE[lang]
    assert f"<dd>{html.escape(place)}</dd>" in seen.page
    assert f"\n{where[:-1]}: {place}\n" in seen.announcement_text
    assert html.escape(place) in seen.announcement_html
    assert f"{where} {place}" in seen.digest_text
    assert html.escape(f"{where} {place}") in seen.digest_html
    # Calendars look the LOCATION up on a map: the room alone.
    assert seen.feed["LOCATION"] == ROOM


def _session_links(text: str, sid: int) -> set[str]:
    return set(re.findall(rf"{re.escape(BASE)}/sessions/{sid}(?![\d/])[^\s\"'<>]*", text))


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_every_surface_links_the_one_session_page(
    told: tuple[int, dict[str, Told]], lang: str
) -> None:
    sid, by_lang = told
    seen = by_lang[lang]
    page = f"{BASE}/sessions/{sid}"
    # Members land on the page in their own language; Latvian is the site's default.
    reader = page + ("?lang=en" if lang == "en" else "")
    assert f'<link rel="canonical" href="{page}">' in seen.page
    assert str(seen.feed["URL"]) == page
    assert seen.api["url"] == page
    for mail in (seen.announcement_text, seen.announcement_html):
        assert _session_links(mail, sid) == {reader}
    for mail in (seen.digest_text, seen.digest_html):
        assert _session_links(mail, sid) == {reader, f"{page}.ics"}
