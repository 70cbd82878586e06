"""Feeds read from the database only the sessions whose VEVENT text is not cached yet, give the
bytes a build from scratch gives, and personal feeds share their pieces."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select

from tests.factories import (
    NATIONAL,
    VIDZEME,
    edit,
    import_entries,
    members_only,
    national,
    session_id,
    vidzeme,
)
from tests.integration.test_feeds_incremental import whole
from tests.mail_factories import add_members, mail_context
from vcs.context import Context
from vcs.feeds import calendars
from vcs.planning import sessions
from vcs.storage.models import Member, MemberSeries, Series, Session

# Everything iCalendar escapes, quotes or folds: commas, semicolons, backslashes, quotes, the
# typographic apostrophe, line breaks and long Latvian text (multi-byte letters at the folds).
LONG = (
    "Jauniešu līdzdalība: pieredze, prakse; jautājumi \\ atbildes. "
    "Ģimeņu, skolu un pašvaldību sadarbība „Ūdensrozē” — ķēdes posmi, čaklums, žņaudzējs. " * 4
)


def tricky_national() -> dict[str, object]:
    return national(
        description={"lv": LONG + "\nOtrā rindiņa; ar semikolu.", "en": "Line one,\nline two"},
        organiser={"name": 'Tīkls "Jaunatne", Rīga', "email": "tikls@example.lv"},
        tags=["jaunatnes politika", "pieredze, prakse", "a;b"],
    )


@pytest.fixture
def network(tmp_path: Path, any_database_url: str) -> Iterator[Context]:
    context = mail_context(tmp_path, any_database_url)
    try:
        import_entries(
            context,
            tmp_path,
            tricky_national(),
            vidzeme(
                organiser={"name": "Vidzemes plānošanas reģions’s", "email": "v@example.lv"},
                join_url="https://meet.example.lv/vidzeme",
            ),
            members_only(),
        )
        first = session_id(context, NATIONAL, "2026-12-10")
        edit(
            context,
            first,
            lambda db, s: sessions.cancel(db, s, "Lektors saslima; jauns datums sekos.", "test"),
        )
        yield context
    finally:
        calendars.EVENT_TEXTS.clear()
        context.close()


def network_feed_bytes(context: Context) -> bytes:
    """/calendar.ics as built now, in Latvian."""
    with context.database.session() as db:
        feed = calendars.network_feed(db, context.clock.now(), context.settings, "Tīkls", "lv")
        return calendars.build_calendar(feed, context.settings, "lv")


def loads_during(context: Context, build: Callable[[], bytes]) -> tuple[bytes, int]:
    """What `build()` gives, and how many sessions it read from the database to give it."""
    loaded: list[int] = []

    def count(target: Session, _context: object) -> None:
        loaded.append(target.id)

    event.listen(Session, "load", count)
    try:
        built = build()
    finally:
        event.remove(Session, "load", count)
    return built, len(loaded)


def test_a_rebuild_reads_only_the_changed_session(network: Context) -> None:
    calendars.EVENT_TEXTS.clear()
    cold, read_cold = loads_during(network, lambda: network_feed_bytes(network))
    assert read_cold == cold.count(b"BEGIN:VEVENT\r\n") > 10
    warm, read_warm = loads_during(network, lambda: network_feed_bytes(network))
    assert (warm, read_warm) == (cold, 0)
    changed = session_id(network, VIDZEME, "2026-12-30")
    edit(network, changed, lambda db, s: sessions.update_details(db, s, "test", topic_lv="Jauns"))
    rendered = calendars.EVENT_TEXTS.rendered
    after, read_after = loads_during(network, lambda: network_feed_bytes(network))
    assert read_after == 1
    assert calendars.EVENT_TEXTS.rendered == rendered + 1
    with network.database.session() as db:
        feed = calendars.network_feed(db, network.clock.now(), network.settings, "Tīkls", "lv")
        assert after == whole(feed, network, "lv")
    assert after != cold


def test_personal_feeds_are_assembled_from_the_same_pieces(network: Context) -> None:
    everything, vidzeme_only = add_members(network, 2)
    with network.database.session() as db:
        db.get_one(Member, everything).follows_all = True
        series = db.scalars(select(Series).where(Series.slug == VIDZEME)).one()
        db.add(MemberSeries(member_id=vidzeme_only, series_id=series.id))
    calendars.EVENT_TEXTS.clear()

    def personal(member_id: int) -> tuple[bytes, bytes]:
        with network.database.session() as db:
            token = db.get_one(Member, member_id).feed_token
            feed = calendars.member_feed(db, network.clock.now(), network.settings, token, "lv")
            assert feed is not None
            built = calendars.build_calendar(feed, network.settings, "lv")
            return built, whole(feed, network, "lv")

    built, reference = personal(everything)
    assert built == reference
    assert b"Koordinatoru sl" in built  # members-only series: a personal feed has them
    rendered = calendars.EVENT_TEXTS.rendered
    built, reference = personal(vidzeme_only)
    assert built == reference
    assert 0 < built.count(b"BEGIN:VEVENT\r\n") < reference.count(b"BEGIN:VEVENT") + 1
    # Every Vidzeme event was already rendered for the first member's feed.
    assert calendars.EVENT_TEXTS.rendered == rendered
    # The public feed is not made of the members' pieces (they carry the join link).
    public = network_feed_bytes(network)
    assert b"meet.example.lv/vidzeme" in built
    assert b"meet.example.lv/vidzeme" not in public
    with network.database.session() as db:
        feed = calendars.network_feed(db, network.clock.now(), network.settings, "Tīkls", "lv")
        assert public == whole(feed, network, "lv")


def test_sessions_read_in_chunks_are_all_read(
    network: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calendars, "LOAD_CHUNK", 1)
    calendars.EVENT_TEXTS.clear()
    network_feed_bytes(network)
    for date in ("2026-12-30", "2027-01-27"):
        changed = session_id(network, VIDZEME, date)
        edit(
            network,
            changed,
            lambda db, s, topic=date: sessions.update_details(db, s, "test", topic_lv=topic),
        )
    after, read = loads_during(network, lambda: network_feed_bytes(network))
    assert read == 2
    assert b"2027-01-27" in after
    with network.database.session() as db:
        feed = calendars.network_feed(db, network.clock.now(), network.settings, "Tīkls", "lv")
        assert after == whole(feed, network, "lv")
