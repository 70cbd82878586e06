"""The livestream page /sessions/{id}: countdown, player, recording or cancellation, with
schema.org data that matches the session, served from a cache that follows every change."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.factories import (
    MEMBERS,
    NATIONAL,
    VIDZEME,
    browse,
    edit,
    import_entries,
    members_only,
    national,
    session_id,
    vidzeme,
)
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.planning import sessions
from vcs.storage.models import Livestream, Session

DEC_1 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
# The first national session: Thursday 10 December 2026, 10.00–11.30 in Riga (08.00 UTC).
START = dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC)
JITSI = {"provider": "static", "watch_url": "https://meet.jit.si/tikls-{date}"}


def first_session(context: Context, tmp_path: Path, **overrides: Any) -> int:
    context.clock = FixedClock(DEC_1)
    import_entries(context, tmp_path, national(**overrides))
    return session_id(context, NATIONAL, "2026-12-10")


def at(context: Context, when: dt.datetime) -> None:
    context.clock = FixedClock(when)


def set_stream(context: Context, session: int, **values: Any) -> None:
    """What the provision and status jobs would have stored."""
    with context.database.session() as db:
        row = db.scalars(select(Livestream).where(Livestream.session_id == session)).first()
        if row is None:
            row = Livestream(session_id=session, provider="youtube", status="created")
            db.add(row)
        for key, value in values.items():
            setattr(row, key, value)


def set_session(context: Context, session: int, **values: Any) -> None:
    with context.database.session() as db:
        found = db.get(Session, session)
        assert found is not None
        for key, value in values.items():
            setattr(found, key, value)


def jsonld(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert found, "no JSON-LD on the page"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def watch_box(html: str) -> str:
    found = re.search(r'<section id="watch".*?</section>', html, re.S)
    assert found, "no watch box on the page"
    return found.group(0)


# -- phases ------------------------------------------------------------------------------------


def test_before_the_start_the_page_counts_down_in_latvian_and_offers_the_calendar(
    context: Context, tmp_path: Path
) -> None:
    first = first_session(context, tmp_path, livestream=JITSI)
    html = browse(context).get(f"/sessions/{first}").text
    box = watch_box(html)
    assert 'data-phase="upcoming"' in box
    # 8 days and 23 hours ahead.
    assert "Sāksies <strong" in box
    assert ">pēc 8 dienām</strong>" in box
    assert '<a href="https://meet.jit.si/tikls-2026-12-10">Atvērt tiešraidi</a>' in box
    assert "<iframe" not in html
    assert f'href="/sessions/{first}.ics" download' in html
    assert "calendar.google.com/calendar/render?action=TEMPLATE" in html
    at(context, START - dt.timedelta(minutes=90))
    english = browse(context).get(f"/sessions/{first}?lang=en").text
    assert ">in 90 minutes</strong>" in watch_box(english)


def test_while_live_the_page_embeds_the_privacy_enhanced_player(
    context: Context, tmp_path: Path
) -> None:
    first = first_session(context, tmp_path, livestream={"provider": "youtube"})
    set_stream(
        context,
        first,
        external_id="yt1",
        watch_url="https://www.youtube.com/watch?v=yt1",
        embed_url="https://www.youtube-nocookie.com/embed/yt1",
    )
    set_session(context, first, live_status="live")
    # The provider's word wins over the clock: the stream started five minutes early.
    at(context, START - dt.timedelta(minutes=5))
    box = watch_box(browse(context).get(f"/sessions/{first}").text)
    assert 'data-phase="live"' in box
    assert (
        '<iframe src="https://www.youtube-nocookie.com/embed/yt1" title="Tiešraide: '
        'Jaunatnes lietu speciālistu videokonferences"'
    ) in box
    assert '<a href="https://www.youtube.com/watch?v=yt1">' in box


def test_a_live_session_without_a_player_gets_a_clear_link(
    context: Context, tmp_path: Path
) -> None:
    first = first_session(context, tmp_path, livestream=JITSI)
    at(context, START + dt.timedelta(minutes=1))
    box = watch_box(browse(context).get(f"/sessions/{first}").text)
    assert 'data-phase="live"' in box
    assert (
        '<a class="button button--primary" href="https://meet.jit.si/tikls-2026-12-10">'
        "Atvērt tiešraidi</a>"
    ) in box


def test_a_live_session_with_no_link_yet_says_so_honestly(context: Context, tmp_path: Path) -> None:
    first = first_session(context, tmp_path, livestream={"provider": "youtube"})
    at(context, START + dt.timedelta(minutes=1))
    box = watch_box(browse(context).get(f"/sessions/{first}").text)
    assert "Tiešraides saite parādīsies šeit, tiklīdz tiešraide būs gatava." in box


def test_after_the_end_the_page_offers_the_recording_or_says_it_is_coming(
    context: Context, tmp_path: Path
) -> None:
    first = first_session(context, tmp_path, livestream=JITSI)
    at(context, START + dt.timedelta(hours=2))
    box = watch_box(browse(context).get(f"/sessions/{first}").text)
    assert 'data-phase="ended"' in box
    assert "Ieraksts parādīsies šeit, tiklīdz tas būs gatavs." in box
    set_session(context, first, recording_url="https://www.youtube.com/watch?v=rec1")
    html = browse(context).get(f"/sessions/{first}").text
    assert 'href="https://www.youtube.com/watch?v=rec1">Skatīties ierakstu</a>' in watch_box(html)
    assert jsonld(html)["recordedIn"]["url"] == "https://www.youtube.com/watch?v=rec1"


def test_a_cancelled_session_shows_the_reason_first_and_no_player(
    context: Context, tmp_path: Path
) -> None:
    first = first_session(context, tmp_path, livestream=JITSI)
    edit(context, first, lambda db, s: sessions.cancel(db, s, "Lektore saslima", "test"))
    html = browse(context).get(f"/sessions/{first}").text
    notice = html.index('<p class="notice notice--cancelled" role="status">')
    assert notice < html.index('<dl class="facts">')
    assert "<strong>Atcelta</strong>: Lektore saslima" in html
    assert '<section id="watch"' not in html
    assert jsonld(html)["eventStatus"] == "https://schema.org/EventCancelled"


def test_a_meeting_only_in_a_room_says_it_is_not_streamed(context: Context, tmp_path: Path) -> None:
    context.clock = FixedClock(DEC_1)
    room = {"kind": "venue", "venue": "Cēsu jauniešu māja", "address": "Lenču iela 1, Cēsis"}
    import_entries(context, tmp_path, vidzeme(place=room))
    first = session_id(context, VIDZEME, "2026-12-30")
    html = browse(context).get(f"/sessions/{first}").text
    assert "Šī tikšanās notiek tikai klātienē; tiešraides nebūs." in html
    assert '<section id="watch"' not in html
    assert jsonld(html)["eventAttendanceMode"] == ("https://schema.org/OfflineEventAttendanceMode")


# -- structured data and sharing ---------------------------------------------------------------


def test_the_json_ld_event_matches_an_online_session(context: Context, tmp_path: Path) -> None:
    first = first_session(context, tmp_path, livestream=JITSI)
    html = browse(context).get(f"/sessions/{first}").text
    event = jsonld(html)
    assert event["@context"] == "https://schema.org"
    assert event["@type"] == "Event"
    assert event["name"] == "Jaunatnes lietu speciālistu videokonferences"
    assert event["startDate"] == "2026-12-10T10:00:00+02:00"
    assert event["endDate"] == "2026-12-10T11:30:00+02:00"
    assert event["eventStatus"] == "https://schema.org/EventScheduled"
    assert event["eventAttendanceMode"] == "https://schema.org/OnlineEventAttendanceMode"
    assert event["location"] == {
        "@type": "VirtualLocation",
        "url": "https://meet.jit.si/tikls-2026-12-10",
    }
    assert event["url"] == f"http://127.0.0.1:8000/sessions/{first}"
    assert event["organizer"] == {
        "@type": "Organization",
        "name": "Jaunatnes lietu atbalsta tīkls",
        "url": "http://127.0.0.1:8000",
        "email": "tikls@example.lv",
    }


def test_the_json_ld_of_a_hybrid_meeting_has_the_room_and_the_stream(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(DEC_1)
    import_entries(context, tmp_path, vidzeme())
    first = session_id(context, VIDZEME, "2026-12-30")
    event = jsonld(browse(context).get(f"/sessions/{first}").text)
    assert event["eventAttendanceMode"] == "https://schema.org/MixedEventAttendanceMode"
    place, online = event["location"]
    assert place == {
        "@type": "Place",
        "name": "Valmieras jauniešu centrs „Vinda“",
        "address": {
            "@type": "PostalAddress",
            "streetAddress": "Rīgas iela 10, Valmiera",
            "addressLocality": "Valmieras novads",
            "addressCountry": "LV",
        },
    }
    assert online == {"@type": "VirtualLocation", "url": f"http://127.0.0.1:8000/sessions/{first}"}
    assert event["startDate"] == "2026-12-30T13:00:00+02:00"


def test_a_moved_session_is_rescheduled_in_json_ld_and_says_so_on_the_page(
    context: Context, tmp_path: Path
) -> None:
    first = first_session(context, tmp_path, livestream=JITSI)
    friday = dt.datetime(2026, 12, 11, 12, 0, tzinfo=dt.UTC)
    edit(context, first, lambda db, s: sessions.move(db, s, friday, "test"))
    html = browse(context).get(f"/sessions/{first}").text
    event = jsonld(html)
    assert event["eventStatus"] == "https://schema.org/EventRescheduled"
    assert event["startDate"] == "2026-12-11T14:00:00+02:00"
    assert event["previousStartDate"] == "2026-12-10T10:00:00+02:00"
    assert (
        "Sesija ir pārcelta. Tā bija paredzēta ceturtdien, 2026. gada 10. decembrī, 10.00." in html
    )


def test_the_page_has_open_graph_and_twitter_card_tags(context: Context, tmp_path: Path) -> None:
    first = first_session(context, tmp_path, livestream=JITSI)
    html = browse(context).get(f"/sessions/{first}").text
    assert (
        '<meta property="og:title" content="Jaunatnes lietu speciālistu videokonferences">' in html
    )
    assert f'<meta property="og:url" content="http://127.0.0.1:8000/sessions/{first}">' in html
    assert '<meta property="og:locale" content="lv_LV">' in html
    assert '<meta name="twitter:card" content="summary">' in html
    assert (
        '<meta property="og:description" content="ceturtdiena, 2026. gada 10. decembris, 10.00'
        in html
    )


def test_text_in_json_ld_cannot_close_the_script(context: Context, tmp_path: Path) -> None:
    first = first_session(context, tmp_path, livestream=JITSI)
    topic = "</script><script>alert(1)</script>"
    edit(context, first, lambda db, s: sessions.update_details(db, s, "test", topic_lv=topic))
    html = browse(context).get(f"/sessions/{first}").text
    assert "<script>alert(1)" not in html
    assert jsonld(html)["description"] == topic


# -- the JSON the page polls, and the watch box alone ------------------------------------------


def test_the_session_json_tells_the_phase_and_the_player(context: Context, tmp_path: Path) -> None:
    first = first_session(context, tmp_path, livestream={"provider": "youtube"})
    client = browse(context)
    body = client.get(f"/api/sessions/{first}").json()
    assert (body["id"], body["phase"], body["embed_url"]) == (first, "upcoming", "")
    set_stream(context, first, embed_url="https://www.youtube-nocookie.com/embed/yt1")
    set_session(context, first, live_status="live")
    body = client.get(f"/api/sessions/{first}").json()
    assert (body["phase"], body["embed_url"]) == (
        "live",
        "https://www.youtube-nocookie.com/embed/yt1",
    )
    assert body["start"] == "2026-12-10T10:00:00+02:00"


def test_sessions_of_members_only_series_and_unknown_ones_are_not_found(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(DEC_1)
    import_entries(context, tmp_path, members_only())
    hidden = session_id(context, MEMBERS, "2027-01-05")
    client = browse(context)
    for path in (
        f"/api/sessions/{hidden}",
        f"/sessions/{hidden}",
        f"/sessions/{hidden}/watch",
        "/api/sessions/999999",
        "/sessions/999999",
    ):
        assert client.get(path).status_code == 404, path


def test_the_watch_box_alone_is_served_in_the_visitors_language(
    context: Context, tmp_path: Path
) -> None:
    first = first_session(context, tmp_path, livestream=JITSI)
    at(context, START + dt.timedelta(minutes=1))
    response = browse(context).get(f"/sessions/{first}/watch?lang=en")
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="watch"')
    assert "<html" not in response.text
    assert 'data-announce="The livestream has started."' in response.text
    assert "Open the livestream" in response.text


# -- caching -----------------------------------------------------------------------------------


def test_the_page_is_built_once_and_answers_304_until_something_changes(
    context: Context, tmp_path: Path
) -> None:
    first = first_session(context, tmp_path, livestream=JITSI)
    client = browse(context)
    cache = client.app.state.page_cache  # type: ignore[attr-defined]
    first_response = client.get(f"/sessions/{first}")
    etag = first_response.headers["etag"]
    for _ in range(3):
        assert client.get(f"/sessions/{first}").headers["etag"] == etag
    assert cache.builds == 1
    assert client.get(f"/sessions/{first}", headers={"If-None-Match": etag}).status_code == 304
    # A change to the session makes a new page at once.
    edit(context, first, lambda db, s: sessions.update_details(db, s, "test", topic_lv="Jauna"))
    changed = client.get(f"/sessions/{first}", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert "Jauna" in changed.text
    # So does the clock reaching the start, with no change in the data.
    etag = changed.headers["etag"]
    at(context, START)
    client.app.state.context.clock = context.clock  # type: ignore[attr-defined]
    live = client.get(f"/sessions/{first}", headers={"If-None-Match": etag})
    assert live.status_code == 200
    assert 'data-phase="live"' in live.text


def test_the_page_is_gzipped_when_asked(context: Context, tmp_path: Path) -> None:
    first = first_session(context, tmp_path, livestream=JITSI)
    response = browse(context).get(f"/sessions/{first}", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "Jaunatnes lietu speciālistu videokonferences" in response.text
