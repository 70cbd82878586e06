"""Materializing series into sessions, and what a rule change does to the sessions already there.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import isolated_environ
from vcs.bootstrap import initialise
from vcs.clock import FixedClock
from vcs.config import load_settings
from vcs.context import Context
from vcs.planning import sessions, wording
from vcs.planning.materialize import RULE_CHANGED, materialize_all
from vcs.planning.series import SeriesSpec, import_series
from vcs.storage.models import AuditEntry, Livestream, Series, Session

RIGA = ZoneInfo("Europe/Riga")
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def install(any_database_url: str, tmp_path: Path) -> Iterator[Context]:
    environ = isolated_environ(tmp_path, VCS_DATABASE_URL=any_database_url)
    context = Context.from_settings(load_settings(environ), clock=FixedClock(NOW))
    initialise(context)
    yield context
    context.close()


def spec(**overrides: object) -> SeriesSpec:
    values: dict[str, object] = {
        "slug": "vk",
        "title_lv": "Videokonference",
        "title_en": "Videoconference",
        "rrule": "FREQ=MONTHLY;BYDAY=2TH",
        "start_local": dt.datetime.fromisoformat("2026-12-10T10:00"),
        "timezone": "Europe/Riga",
        "duration_minutes": 90,
    }
    values.update(overrides)
    return SeriesSpec(**values)  # type: ignore[arg-type]


def local_starts(context: Context, status: str | None = None) -> list[str]:
    with context.database.session() as db:
        query = select(Session).order_by(Session.start)
        if status:
            query = query.where(Session.status == status)
        return [s.start.astimezone(RIGA).isoformat() for s in db.scalars(query)]


def session_at(context: Context, local: str) -> Session:
    start = dt.datetime.fromisoformat(local).replace(tzinfo=RIGA)
    with context.database.session() as db:
        return db.scalars(select(Session).where(Session.start == start)).one()


def run_materialize(context: Context) -> str:
    settings = context.settings
    with context.database.session() as db:
        return str(materialize_all(db, context.clock.now(), settings.horizon, settings.host))


def test_sessions_keep_ten_o_clock_on_both_sides_of_summer_time(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    assert local_starts(install) == [
        "2026-12-10T10:00:00+02:00",
        "2027-01-14T10:00:00+02:00",
        "2027-02-11T10:00:00+02:00",
        "2027-03-11T10:00:00+02:00",
        "2027-04-08T10:00:00+03:00",
        "2027-05-13T10:00:00+03:00",
    ]
    with install.database.session() as db:
        first = db.scalars(select(Session).order_by(Session.start)).first()
        assert first is not None
        assert first.end - first.start == dt.timedelta(minutes=90)
        assert first.start.hour == 8 and first.uid.endswith("@127.0.0.1")


def test_materializing_again_creates_nothing(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    before = local_starts(install)
    assert run_materialize(install).startswith("0 created, 0 updated, 0 removed")
    assert local_starts(install) == before


def test_the_horizon_rolls_forward_with_the_clock(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    assert isinstance(install.clock, FixedClock)
    install.clock.advance(dt.timedelta(days=31))
    assert run_materialize(install).startswith("1 created")
    assert local_starts(install)[-1] == "2027-06-10T10:00:00+03:00"


def test_exdates_skip_a_session(install: Context) -> None:
    import_series(install, [spec(exdates=["2027-01-14T10:00"])], actor="test")
    assert "2027-01-14T10:00:00+02:00" not in local_starts(install)
    assert len(local_starts(install)) == 5


def test_a_new_rule_moves_untouched_sessions_and_keeps_edited_ones(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    edited = session_at(install, "2027-02-11T10:00")
    with install.database.session() as db:
        sessions.update_details(db, sessions.get(db, edited.id), "staff", topic_lv="Īpaša tēma")

    # Second Thursday becomes third Thursday.
    import_series(
        install,
        [
            spec(
                rrule="FREQ=MONTHLY;BYDAY=3TH",
                start_local=dt.datetime.fromisoformat("2026-12-17T10:00"),
            )
        ],
        actor="test",
    )
    assert local_starts(install) == [
        "2026-12-17T10:00:00+02:00",
        "2027-01-21T10:00:00+02:00",
        "2027-02-11T10:00:00+02:00",  # edited by staff: stays
        "2027-02-18T10:00:00+02:00",
        "2027-03-18T10:00:00+02:00",
        "2027-04-15T10:00:00+03:00",
        "2027-05-20T10:00:00+03:00",
    ]
    with install.database.session() as db:
        kept = sessions.get(db, edited.id)
        assert kept.topic_lv == "Īpaša tēma" and kept.status == "scheduled"


def test_an_announced_session_is_cancelled_with_a_reason_not_deleted(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    announced = session_at(install, "2027-01-14T10:00")
    with install.database.session() as db:
        sessions.get(db, announced.id).announced_at = NOW
    import_series(install, [spec(exdates=["2027-01-14T10:00"])], actor="test")

    with install.database.session() as db:
        kept = sessions.get(db, announced.id)
        assert kept.status == "cancelled"
        assert kept.cancel_reason == RULE_CHANGED
        assert kept.revision == announced.revision + 1
        assert kept.uid == announced.uid
        assert "no longer includes this date" in wording.cancel_reason(kept, "en")
        assert "vairs nenotiek" in wording.cancel_reason(kept, "lv")
        why = db.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "session", AuditEntry.entity_id == str(announced.id)
            )
        ).one()
        assert why.actor == "scheduler" and why.action == "cancel"
        assert why.after is not None and "announced" in why.after["reason"]


def test_a_session_with_a_livestream_is_cancelled_not_deleted(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    streamed = session_at(install, "2027-03-11T10:00")
    with install.database.session() as db:
        db.add(Livestream(session_id=streamed.id, provider="static"))
    import_series(install, [spec(exdates=["2027-03-11T10:00"])], actor="test")
    with install.database.session() as db:
        assert sessions.get(db, streamed.id).status == "cancelled"


def test_an_unannounced_session_the_rule_drops_is_removed(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    import_series(install, [spec(exdates=["2027-03-11T10:00"])], actor="test")
    assert "2027-03-11T10:00:00+02:00" not in local_starts(install)
    assert local_starts(install, status="cancelled") == []


def test_a_slot_the_rule_gives_again_is_reinstated(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    announced = session_at(install, "2027-01-14T10:00")
    with install.database.session() as db:
        sessions.get(db, announced.id).announced_at = NOW
    import_series(install, [spec(exdates=["2027-01-14T10:00"])], actor="test")
    import_series(install, [spec()], actor="test")
    with install.database.session() as db:
        back = sessions.get(db, announced.id)
        assert back.status == "scheduled" and back.cancel_reason == ""
        assert back.revision == announced.revision + 2


def test_a_staff_cancellation_survives_materializing(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    target = session_at(install, "2027-01-14T10:00")
    with install.database.session() as db:
        sessions.cancel(db, sessions.get(db, target.id), "Lektore saslima", "staff")
    run_materialize(install)
    with install.database.session() as db:
        kept = sessions.get(db, target.id)
        assert (kept.status, kept.cancel_reason) == ("cancelled", "Lektore saslima")


def test_a_longer_duration_reaches_untouched_sessions_with_a_new_sequence(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    import_series(install, [spec(duration_minutes=120)], actor="test")
    with install.database.session() as db:
        for session in db.scalars(select(Session)):
            assert session.end - session.start == dt.timedelta(hours=2)
            assert session.revision == 1


def test_a_deactivated_series_removes_its_unannounced_future_sessions(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    import_series(install, [spec(active=False)], actor="test")
    assert local_starts(install) == []


def test_past_sessions_are_never_touched(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    assert isinstance(install.clock, FixedClock)
    install.clock.advance(dt.timedelta(days=30))  # 2026-12-10 is now past
    import_series(install, [spec(rrule="FREQ=MONTHLY;BYDAY=2TH;COUNT=1")], actor="test")
    assert local_starts(install) == ["2026-12-10T10:00:00+02:00"]


def test_a_moved_session_keeps_its_uid_slot_and_bumps_its_sequence(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    target = session_at(install, "2027-01-14T10:00")
    new_start = dt.datetime(2027, 1, 15, 12, 0, tzinfo=RIGA)
    with install.database.session() as db:
        sessions.move(db, sessions.get(db, target.id), new_start, "staff")
    run_materialize(install)
    with install.database.session() as db:
        moved = sessions.get(db, target.id)
        assert moved.uid == target.uid
        assert moved.revision == target.revision + 1
        assert moved.start == new_start and moved.end == new_start + dt.timedelta(minutes=90)
    # The old slot is held by the moved session, so it is not created again.
    assert "2027-01-14T10:00:00+02:00" not in local_starts(install)
    assert "2027-01-15T12:00:00+02:00" in local_starts(install)


def test_a_session_moved_into_the_past_still_holds_its_slot(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    target = session_at(install, "2027-01-14T10:00")
    with install.database.session() as db:
        sessions.move(db, sessions.get(db, target.id), NOW - dt.timedelta(days=1), "staff")
    assert run_materialize(install).startswith("0 created")


def test_an_extra_session_stays_when_the_rule_changes(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    start = dt.datetime(2027, 1, 28, 10, 0, tzinfo=RIGA)
    with install.database.session() as db:
        series = db.scalars(select(Session)).first().series  # type: ignore[union-attr]
        extra = sessions.add_extra(
            db,
            series,
            start,
            start + dt.timedelta(hours=1),
            "staff",
            "vcs.example",
            topic_lv="Papildu tikšanās",
        )
        extra_id = extra.id
    import_series(install, [spec(rrule="FREQ=MONTHLY;BYDAY=2TH;COUNT=2")], actor="test")
    with install.database.session() as db:
        kept = sessions.get(db, extra_id)
        assert kept.original_start is None and kept.topic_lv == "Papildu tikšanās"
        assert kept.status == "scheduled" and kept.uid.endswith("@vcs.example")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda db, s: sessions.cancel(db, s, "  ", "staff"), "reason: say why"),
        (lambda db, s: sessions.move(db, s, NOW, "staff", NOW), "end: must be after the start"),
        (
            lambda db, s: sessions.update_details(db, s, "staff", speakers=[{"role": "x"}]),
            "speakers #1: needs a name",
        ),
        (
            lambda db, s: sessions.update_details(db, s, "staff", uid="x"),
            "uid: not a session field",
        ),
        (lambda db, s: sessions.reinstate(db, s, "staff"), "is not cancelled"),
    ],
)
def test_bad_edits_are_refused_with_the_field_named(
    install: Context, call: object, message: str
) -> None:
    import_series(install, [spec()], actor="test")
    target = session_at(install, "2027-01-14T10:00")
    with pytest.raises(sessions.SessionError, match=message), install.database.session() as db:
        call(db, sessions.get(db, target.id))  # type: ignore[operator]
    with install.database.session() as db:
        assert sessions.get(db, target.id).revision == target.revision


def test_a_series_change_calendars_show_raises_future_sequences(install: Context) -> None:
    import_series(install, [spec()], actor="test")
    before = {s.id: s.revision for s in _all_sessions(install)}
    place = {"kind": "venue", "venue": "Rīgas jauniešu centrs", "address": "Brīvības iela 1"}
    import_series(install, [spec(place=place)], actor="test")
    after = {s.id: s.revision for s in _all_sessions(install)}
    assert after == {session_id: revision + 1 for session_id, revision in before.items()}


def _all_sessions(context: Context) -> list[Session]:
    with context.database.session() as db:
        return list(db.scalars(select(Session)))


def test_one_broken_series_does_not_stop_the_others(install: Context) -> None:
    import_series(install, [spec(), spec(slug="otra", title_lv="Otra")], actor="test")
    with install.database.session() as db:
        db.scalars(select(Series).where(Series.slug == "vk")).one().timezone = "Mars/Base"
    assert isinstance(install.clock, FixedClock)
    install.clock.advance(dt.timedelta(days=31))
    report = run_materialize(install)
    assert report.startswith("1 created")
    assert "FAILED series vk: " in report
