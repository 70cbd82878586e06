"""The public site as a visitor meets it: a menu, a front page that leads with the next session,
an ended session that offers its recording, the privacy notice, the subscribe form's
municipality question, and e-mails that carry the site's name, colours and postal address."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from tests.factories import NATIONAL, VIDZEME, browse, import_entries, national, session_id, vidzeme
from tests.integration.test_livestream_page import DEC_1, JITSI, START, at, set_session
from tests.integration.test_subscriptions import member, offline, subscribe
from tests.mail_factories import mail_context
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.mail.compose import Content, in_layout
from vcs.mail.message import build_message
from vcs.paths import STATIC_DIR, TEMPLATES_DIR

MENU = ["/", "/regions", "/series", "/digests", "/subscribe"]


def a_network(context: Context, tmp_path: Path) -> int:
    """The national series (streamed) and the Vidzeme one; the first national session's id."""
    context.clock = FixedClock(DEC_1)
    import_entries(context, tmp_path, national(livestream=JITSI), vidzeme())
    return session_id(context, NATIONAL, "2026-12-10")


def test_every_public_page_has_the_menu_logo_favicon_and_privacy_link(
    context: Context, tmp_path: Path
) -> None:
    first = a_network(context, tmp_path)
    client = browse(context)
    for path in ["/", "/series", "/regions", "/regions/vidzeme", f"/series/{VIDZEME}",
                 f"/sessions/{first}", "/digests", "/subscribe", "/privacy"]:  # fmt: skip
        html = client.get(path).text
        menu = html[
            html.index('<nav class="site-nav"') : html.index("</nav>", html.index("site-nav"))
        ]
        assert re.findall(r'href="([^"]+)"', menu) == MENU, path
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
        assert 'src="/static/logo.svg"' in html
        footer = html[html.index('<footer class="site-footer">') :]
        assert '<a href="/privacy">Privātuma paziņojums</a>' in footer, path
        assert "Mazā Pils iela 1, Rīga, LV-1050" in footer
    for name in ("logo.svg", "favicon.svg"):
        assert (STATIC_DIR / name).read_text(encoding="utf-8").startswith("<svg")


def test_the_series_and_regions_pages_list_and_link_them(context: Context, tmp_path: Path) -> None:
    a_network(context, tmp_path)
    client = browse(context)
    series = client.get("/series").text
    assert f'href="/series/{NATIONAL}">Jaunatnes lietu speciālistu videokonferences</a>' in series
    assert f'href="/series/{VIDZEME}">Vidzemes pieredzes apmaiņas tikšanās</a>' in series
    assert "ceturtdiena, 2026. gada 10. decembris" in series  # the next session of each
    regions = client.get("/regions?lang=en").text
    assert '<a href="/regions/kurzeme">Kurzeme Planning Region</a>' in regions


def test_the_front_page_leads_with_the_next_session_then_the_calendar_then_the_list(
    context: Context, tmp_path: Path
) -> None:
    a_network(context, tmp_path)
    html = browse(context).get("/").text
    next_up = html.index('<section class="next-up next-up--upcoming"')
    calendar = html.index('<section class="subscribe"')
    listing = html.index('<h2 id="upcoming-heading">')
    assert next_up < calendar < listing
    box = html[next_up:calendar]
    assert "Nākamā videokonference" in box
    assert "Jaunatnes lietu speciālistu videokonferences" in box
    assert "Sāksies <strong" in box and "pēc 8 dienām" in box
    assert '<a href="/digests">' in html[listing:]
    assert '<a href="/series">Visas sērijas</a>' in html[listing:]


def test_the_front_page_says_live_now_with_the_player_link(
    context: Context, tmp_path: Path
) -> None:
    first = a_network(context, tmp_path)
    at(context, START + dt.timedelta(minutes=10))
    html = browse(context).get("/").text
    box = html[html.index('<section class="next-up next-up--live"') : html.index("</section>")]
    assert '<span class="badge badge--live">Tiešraidē tagad</span>' in box
    assert (
        f'<a class="button button--primary" href="/sessions/{first}">Skatīties tiešraidē</a>' in box
    )
    assert 'href="https://meet.jit.si/tikls-2026-12-10"' in box
    assert "Sāksies" not in box


def test_an_ended_session_offers_the_recording_not_the_calendar(
    context: Context, tmp_path: Path
) -> None:
    first = a_network(context, tmp_path)
    at(context, START + dt.timedelta(hours=2))
    set_session(context, first, recording_url="https://www.youtube.com/watch?v=rec1")
    html = browse(context).get(f"/sessions/{first}").text
    assert 'href="https://www.youtube.com/watch?v=rec1">Skatīties ierakstu</a>' in html
    assert "Atzīmējiet datumu" not in html and "Lejupielādēt .ics" not in html
    assert '<section class="subscribe"' not in html
    assert f'<a href="/series/{NATIONAL}">Citas sērijas „Jaunatnes lietu' in html


def test_an_ended_meeting_in_a_room_says_there_is_no_recording(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(DEC_1)
    room = {"kind": "venue", "venue": "Cēsu jauniešu māja", "address": "Lenču iela 1, Cēsis"}
    import_entries(context, tmp_path, vidzeme(place=room))
    first = session_id(context, VIDZEME, "2026-12-30")
    at(context, dt.datetime(2026, 12, 31, 12, 0, tzinfo=dt.UTC))
    html = browse(context).get(f"/sessions/{first}").text
    assert "Šī tikšanās notika tikai klātienē; ieraksta nav." in html
    assert "notiek tikai klātienē" not in html
    assert "Atzīmējiet datumu" not in html


def test_the_privacy_notice_says_who_why_how_long_and_the_rights(tmp_path: Path) -> None:
    _context, client = offline(tmp_path)
    lv = client.get("/privacy").text
    for words in ("Jūsu datu pārzinis ir Latvijas Pašvaldību savienība.",
                  "Mazā Pils iela 1, Rīga, LV-1050", 'href="mailto:tikls@example.lv"',
                  "Ko mēs glabājam un kāpēc", "Cik ilgi", "pēc 7 dienām vairs nedarbojas",
                  "Jūsu tiesības", "Datu valsts inspekcijā"):  # fmt: skip
        assert words in lv
    en = client.get("/privacy?lang=en").text
    assert "The controller of your data is Latvijas Pašvaldību savienība." in en
    assert "stops working after 7 days" in en
    form = client.get("/subscribe").text
    consent = form.index('<label for="consent">')
    assert form.index('<a href="/privacy">', consent) < form.index('<button type="submit"')


def test_the_subscribe_form_asks_for_a_municipality_instead_of_assuming_none(
    tmp_path: Path,
) -> None:
    context, client = offline(tmp_path)
    form = client.get("/subscribe").text
    assert '<option value="" selected>Izvēlieties…</option>' in form
    refused = subscribe(client, municipality="")
    assert refused.status_code == 400
    assert "Izvēlieties savu pašvaldību vai „Nav“, ja strādājat valsts iestādē." in refused.text
    assert member(context) is None
    accepted = subscribe(client, municipality="none")
    assert accepted.status_code == 303


def test_every_email_names_the_network_in_its_language_with_the_postal_address(
    tmp_path: Path,
) -> None:
    context = mail_context(tmp_path)
    content = Content("Temats", "Teksts.", "<p>Teksts.</p>")
    for lang, name in (("lv", "Jaunatnes lietu speciālistu atbalsta tīkls"),
                       ("en", "Youth Work Specialists' Support Network")):  # fmt: skip
        mail = in_layout(
            context.settings,
            content,
            language=lang,
            unsubscribe_url="https://tikls.example.lv/u",
            preferences_url="https://tikls.example.lv/p",
        )
        for body in (mail.text, mail.html.replace("&#39;", "'")):
            assert name in body, lang
            assert "Mazā Pils iela 1, Rīga, LV-1050" in body
            assert "https://tikls.example.lv/privacy" in body
    english = in_layout(
        context.settings, content, language="en", unsubscribe_url="u", preferences_url="p"
    )
    assert "Jaunatnes lietu" not in english.html
    for lang, sender in (("lv", "Jaunatnes lietu speciālistu atbalsta tīkls"),
                         ("en", "Youth Work Specialists' Support Network")):  # fmt: skip
        message = build_message(
            context.settings, subject="Temats", text=english.text, html=english.html,
            language=lang, to_address="anna@example.lv", to_name="Anna", unsubscribe_url="u",
            now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        )  # fmt: skip
        assert message["From"].addresses[0].display_name == sender


def test_emails_use_the_colours_of_the_site() -> None:
    css = (STATIC_DIR / "vcs.css").read_text(encoding="utf-8")
    root = css[css.index(":root {") : css.index("}", css.index(":root {"))]
    palette = {value.lower() for value in re.findall(r"#[0-9a-fA-F]{6}", root)} | {"#ffffff"}
    assert "#8a1c2b" in palette
    for template in sorted((TEMPLATES_DIR / "email").glob("*.html")):
        used = {value.lower() for value in re.findall(r"#[0-9a-fA-F]{6}\b", template.read_text())}
        assert used <= palette, f"{template.name}: {sorted(used - palette)}"
