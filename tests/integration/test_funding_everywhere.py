"""The organiser and the EU funding statement reach every place a funded session is announced:
its page (with the EU emblem), JSON-LD, the calendar feed, /api/sessions, the announcement and
change notice, and the digest's entry for it.

The network has the national videoconference (no funding) and the EU-funded Vidzeme meeting
(last Wednesdays, 13.00 Riga: 30 December 2026, ...), whose organiser has a phone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import icalendar
from sqlalchemy import select

from tests.factories import NATIONAL, VIDZEME, browse, import_entries, national, session_id
from tests.factories import vidzeme as vidzeme_entry
from tests.mail_factories import mail_context
from vcs import announcements
from vcs import digest as digests
from vcs.context import Context
from vcs.mail import outbox
from vcs.planning import sessions
from vcs.storage.models import Series

STATEMENT_LV = "Tikšanās notiek ar Eiropas Sociālā fonda Plus atbalstu."
STATEMENT_EN = "The meetings are supported by the European Social Fund Plus."
PROJECT = "4.2.4.1/1/24/I/001"
ORGANISER = {
    "name": "Vidzemes plānošanas reģions",
    "email": "jaunatne@example.lv",
    "phone": "+371 64 000 000",
}
ORGANISER_LINE = "Vidzemes plānošanas reģions, jaunatne@example.lv, +371 64 000 000"
EMBLEM = "https://tikls.example.lv/static/eu-emblem.svg"


def network(tmp_path: Path) -> tuple[Context, int, int]:
    """The two series; (context, the Vidzeme session of 30 December, the national one of 10
    December)."""
    context = mail_context(tmp_path, VCS_DIGEST_DAYS_AHEAD="45")
    import_entries(context, tmp_path, national(), vidzeme_entry(organiser=ORGANISER))
    return (
        context,
        session_id(context, VIDZEME, "2026-12-30"),
        session_id(context, NATIONAL, "2026-12-10"),
    )


def jsonld(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert found, "no JSON-LD on the page"
    data: dict[str, object] = json.loads(found.group(1))
    return data


def test_the_digest_preview_carries_organiser_statement_project_and_emblem(
    tmp_path: Path,
) -> None:
    context, _vidzeme, _national = network(tmp_path)
    with context.database.session() as db:
        digest, _created = digests.draft(db, context.settings, context.clock.now(), "test")
        previews = {
            lang: digests.preview(db, context.settings, digest, lang) for lang in ("lv", "en")
        }
    _subject, text, html = previews["lv"]
    line = f"{STATEMENT_LV} Projekta Nr. {PROJECT}"
    assert line in html and line in text
    assert "Līdzfinansē Eiropas Savienība" in html and "Līdzfinansē Eiropas Savienība" in text
    assert f"Organizators: {ORGANISER_LINE}" in html and ORGANISER_LINE in text
    # The emblem by its absolute address (mail clients have no base), beside the words.
    assert html.count(f'src="{EMBLEM}"') == 1  # only the funded session has it
    assert 'alt="Eiropas Savienības karogs"' in html
    _subject, text_en, html_en = previews["en"]
    assert f"{STATEMENT_EN} Project No. {PROJECT}" in html_en
    assert "Co-funded by the European Union" in text_en
    assert 'alt="Flag of the European Union"' in html_en


def test_the_api_gives_organiser_and_funding(tmp_path: Path) -> None:
    context, vidzeme, national_id = network(tmp_path)
    client = browse(context)
    listed = {s["id"]: s for s in client.get("/api/sessions").json()}
    funded = {
        "statement": {"lv": STATEMENT_LV, "en": STATEMENT_EN},
        "project": PROJECT,
        "funded_by": {
            "lv": "Līdzfinansē Eiropas Savienība",
            "en": "Co-funded by the European Union",
        },
    }
    assert listed[vidzeme]["funding"] == funded
    assert listed[vidzeme]["organiser"] == ORGANISER
    assert listed[national_id]["funding"] is None
    assert listed[national_id]["organiser"] == {
        "name": "Jaunatnes lietu atbalsta tīkls",
        "email": "tikls@example.lv",
        "phone": "",
    }
    one = client.get(f"/api/sessions/{vidzeme}").json()
    assert (one["funding"], one["organiser"]) == (funded, ORGANISER)


def test_the_session_page_and_its_jsonld_carry_organiser_funder_and_emblem(
    tmp_path: Path,
) -> None:
    context, vidzeme, _national = network(tmp_path)
    client = browse(context)
    page = client.get(f"/sessions/{vidzeme}").text
    assert f"{STATEMENT_LV} Projekta Nr. {PROJECT}" in page
    assert re.search(
        r'<img src="/static/eu-emblem.svg" width="60" height="40" alt="Eiropas Savienības '
        r'karogs"> <span>Līdzfinansē Eiropas Savienība</span>',
        page,
    )
    assert 'href="tel:+37164000000"' in page and 'href="mailto:jaunatne@example.lv"' in page
    data = jsonld(page)
    assert data["organizer"] == {
        "@type": "Organization",
        "name": ORGANISER["name"],
        "url": "https://tikls.example.lv",
        "email": ORGANISER["email"],
        "telephone": ORGANISER["phone"],
    }
    funder = {"@type": "Organization", "name": "Eiropas Savienība"}
    assert data["funder"] == funder
    assert data["funding"] == {
        "@type": "Grant",
        "description": STATEMENT_LV,
        "funder": funder,
        "identifier": PROJECT,
    }
    english = jsonld(client.get(f"/sessions/{vidzeme}?lang=en").text)
    assert english["funder"] == {"@type": "Organization", "name": "European Union"}


def test_the_emblem_is_the_eu_flag_served_as_svg(tmp_path: Path) -> None:
    context, _vidzeme, _national = network(tmp_path)
    answer = browse(context).get("/static/eu-emblem.svg")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert 'fill="#003399"' in answer.text and 'fill="#FFCC00"' in answer.text
    assert answer.text.count('<use href="#star"') == 12


def test_an_unfunded_session_shows_no_emblem(tmp_path: Path) -> None:
    context, _vidzeme, national_id = network(tmp_path)
    client = browse(context)
    page = client.get(f"/sessions/{national_id}").text
    assert "eu-emblem.svg" not in page
    assert "funder" not in jsonld(page)


def test_the_feed_event_has_organizer_and_a_description_with_phone_and_funding(
    tmp_path: Path,
) -> None:
    context, vidzeme, _national = network(tmp_path)
    answer = browse(context).get(f"/sessions/{vidzeme}.ics")
    event = icalendar.Calendar.from_ical(answer.content).walk("VEVENT")[0]
    organizer = event["ORGANIZER"]
    assert str(organizer) == "mailto:jaunatne@example.lv"
    assert organizer.params["CN"] == ORGANISER["name"]
    description = str(event["DESCRIPTION"])
    assert f"Organizators: {ORGANISER_LINE}" in description
    assert f"Līdzfinansē Eiropas Savienība. {STATEMENT_LV} Projekta Nr. {PROJECT}" in description


def test_the_announcement_and_the_change_notice_show_statement_and_emblem(
    tmp_path: Path,
) -> None:
    context, vidzeme, _national = network(tmp_path)
    lv = outbox.Recipient(address="a@example.lv", name="Anna", language="lv")
    en = outbox.Recipient(address="b@example.lv", name="Ben", language="en")
    with context.database.session() as db:
        session = sessions.get(db, vidzeme)
        announcement = announcements.announcement_composer(db, context.settings, session)
        notice = announcements.notice_composer(db, context.settings, session, ("place",), None)
        mails = [announcement(lv), notice(lv)]
        english = announcement(en)
    for mail in mails:
        assert f'<img src="{EMBLEM}" width="60" height="40" alt="Eiropas Savienības karogs"' in (
            mail.html
        )
        assert "Līdzfinansē Eiropas Savienība" in mail.html
        assert f"{STATEMENT_LV} Projekta Nr. {PROJECT}" in mail.html
        assert f"Līdzfinansē Eiropas Savienība. {STATEMENT_LV} Projekta Nr. {PROJECT}" in (
            mail.text
        )
        assert ORGANISER_LINE in mail.html
    assert "Co-funded by the European Union" in english.html
    assert f"{STATEMENT_EN} Project No. {PROJECT}" in english.text


def test_a_funding_statement_staff_remove_leaves_every_place(tmp_path: Path) -> None:
    context, vidzeme, _national = network(tmp_path)
    with context.database.session() as db:
        series = db.scalars(select(Series).where(Series.slug == VIDZEME)).one()
        series.funding_text_lv = series.funding_text_en = series.funding_project = ""
    client = browse(context)
    assert client.get(f"/api/sessions/{vidzeme}").json()["funding"] is None
    assert "eu-emblem.svg" not in client.get(f"/sessions/{vidzeme}").text
