"""Cached public pages: answered from bytes built once per change, yet never stale, in the
visitor's language, with every header a page gets, and cacheable for a moment by a proxy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.factories import NATIONAL, browse, edit, import_entries, national, session_id
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.planning import sessions
from vcs.web.public import countdown_changes

RIGA = dt.timezone(dt.timedelta(hours=2))
# The morning of the first session (2026-12-10, 10.00-11.30 in Riga).
MORNING = dt.datetime(2026, 12, 10, 9, 0, tzinfo=RIGA)
FIRST_DAY = "ceturtdiena, 2026. gada 10. decembris, 10.00–11.30"


def test_public_pages_feeds_and_the_api_may_be_kept_by_a_proxy_for_a_moment(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(MORNING)
    import_entries(context, tmp_path, national())
    client = browse(context)
    first = session_id(context, NATIONAL, "2026-12-10")
    for path in ("/", f"/sessions/{first}", f"/sessions/{first}/watch", "/api/sessions"):
        control = client.get(path).headers["cache-control"]
        assert control == "public, max-age=1, stale-while-revalidate=10", path
    for path in ("/", f"/sessions/{first}"):
        # The language may come from the cookie: a shared cache must tell the two apart.
        assert client.get(path).headers["vary"] == "Accept-Encoding, Cookie"
    feed = client.get("/calendar.ics").headers["cache-control"]
    assert feed.startswith("public, max-age=") and "stale-while-revalidate=" in feed


def test_the_home_page_is_built_once_and_then_served_from_the_cache(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(MORNING)
    import_entries(context, tmp_path, national())
    client = browse(context)
    first, second = client.get("/"), client.get("/")
    assert first.content == second.content
    assert first.headers["etag"] == second.headers["etag"]
    assert client.app.state.page_cache.builds == 1  # type: ignore[attr-defined]
    again = client.get("/", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


def test_a_cached_page_keeps_its_security_headers_and_gets_a_request_id_of_its_own(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(MORNING)
    import_entries(context, tmp_path, national())
    client = browse(context)
    answers = [client.get("/"), client.get("/")]
    for answer in answers:
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
    assert answers[0].headers["x-request-id"] != answers[1].headers["x-request-id"]
    given = client.get("/", headers={"X-Request-ID": "from-the-proxy-1"})
    assert given.headers["x-request-id"] == "from-the-proxy-1"


def test_a_change_to_a_session_shows_on_the_cached_home_page_at_once(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(MORNING)
    import_entries(context, tmp_path, national())
    client = browse(context)
    first = session_id(context, NATIONAL, "2026-12-10")
    assert "Jaunatnes politika pašvaldībās" not in client.get("/").text
    edit(
        context,
        first,
        lambda db, s: sessions.update_details(
            db, s, "test", topic_lv="Jaunatnes politika pašvaldībās"
        ),
    )
    assert "Jaunatnes politika pašvaldībās" in client.get("/").text
    assert "Jaunatnes politika pašvaldībās" in client.get(f"/sessions/{first}").text


def test_the_cached_home_page_lets_a_session_go_once_it_has_ended(
    context: Context, tmp_path: Path
) -> None:
    clock = FixedClock(MORNING)
    context.clock = clock
    import_entries(context, tmp_path, national())
    client = browse(context)
    assert FIRST_DAY in client.get("/").text
    # The same day, nothing changed in the database: only the clock moved past its end.
    clock.advance(dt.timedelta(hours=2, minutes=31))
    assert FIRST_DAY not in client.get("/").text


def test_the_cached_home_page_says_live_when_the_first_session_starts(
    context: Context, tmp_path: Path
) -> None:
    clock = FixedClock(MORNING)
    context.clock = clock
    import_entries(context, tmp_path, national())
    client = browse(context)
    assert "Tiešraidē tagad" not in client.get("/").text.split('id="upcoming-heading"')[0]
    clock.advance(dt.timedelta(hours=1, minutes=1))
    assert "Tiešraidē tagad" in client.get("/").text.split('id="upcoming-heading"')[0]


def test_a_cached_page_is_served_in_each_visitors_language(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(MORNING)
    import_entries(context, tmp_path, national())
    latvian, english = browse(context), browse(context)
    english.cookies.set("lang", "en")
    for _ in range(2):
        in_english, in_latvian = english.get("/").text, latvian.get("/").text
        assert "Upcoming" in in_english and "Gaidāmās" not in in_english
        assert "Gaidāmās" in in_latvian and "Upcoming" not in in_latvian


def test_the_countdown_of_a_cached_page_is_rebuilt_when_its_words_would_change() -> None:
    start = dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC)
    assert countdown_changes(start, start - dt.timedelta(days=3, hours=5)) == start - dt.timedelta(
        days=3
    )
    assert countdown_changes(start, start - dt.timedelta(hours=5, minutes=10)) == (
        start - dt.timedelta(hours=5)
    )
    assert countdown_changes(start, start - dt.timedelta(minutes=4, seconds=30)) == (
        start - dt.timedelta(minutes=4)
    )


def test_the_cached_api_answer_follows_the_clock_from_upcoming_to_live_to_ended(
    context: Context, tmp_path: Path
) -> None:
    clock = FixedClock(MORNING)
    context.clock = clock
    import_entries(context, tmp_path, national())
    client = browse(context)
    first = session_id(context, NATIONAL, "2026-12-10")

    def phase() -> str:
        found = [s for s in client.get("/api/sessions").json() if s["id"] == first]
        return str(found[0]["phase"])

    assert [phase(), phase()] == ["upcoming", "upcoming"]
    builds = client.app.state.page_cache.builds  # type: ignore[attr-defined]
    clock.advance(dt.timedelta(minutes=59))
    assert phase() == "upcoming"
    assert client.app.state.page_cache.builds == builds  # type: ignore[attr-defined]
    clock.advance(dt.timedelta(minutes=2))
    assert phase() == "live"
    clock.advance(dt.timedelta(hours=1, minutes=30))
    assert phase() == "ended"
