"""The provision and livestream-status jobs: one broadcast per session, kept right, faults
survived."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import make_settings
from tests.factories import NATIONAL, VIDZEME, edit, import_entries, national, session_id, vidzeme
from vcs.bootstrap import initialise
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.livestream.jobs import LivestreamJobError, poll_status, provision
from vcs.planning import sessions, wording
from vcs.providers import health
from vcs.providers.provider import (
    BroadcastGone,
    BroadcastPlan,
    BroadcastState,
    CredentialsRevoked,
    LivestreamError,
    QuotaExceeded,
    QuotaMeter,
    TransientError,
)
from vcs.providers.quota import DatabaseMeter, next_reset
from vcs.providers.registry import Providers
from vcs.storage.models import Livestream, ProviderHealth, QuotaUsage, Session

# 9 days before the first national session (2026-12-10 10.00 Riga): only it is within 14 days.
DEC_1 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
YOUTUBE = {"provider": "youtube", "privacy": "unlisted"}


class FakeYouTube:
    """A provider that keeps broadcasts in memory, records calls and fails when told to."""

    name = "youtube"

    def __init__(self) -> None:
        self.broadcasts: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.failures: list[BaseException] = []
        self.made = 0

    def _call(self, what: str) -> None:
        self.calls.append(what)
        if self.failures:
            raise self.failures.pop(0)

    def _state(self, external_id: str, plan: BroadcastPlan | None = None) -> BroadcastState:
        broadcast = self.broadcasts[external_id]
        drift = ()
        if plan is not None:
            drift = tuple(
                name for name in ("title", "start", "end") if broadcast[name] != getattr(plan, name)
            )
        status = broadcast["status"]
        return BroadcastState(
            external_id=external_id,
            status=status,
            watch_url=f"https://www.youtube.com/watch?v={external_id}",
            embed_url=f"https://www.youtube-nocookie.com/embed/{external_id}",
            recording_url=f"https://www.youtube.com/watch?v={external_id}"
            if status == "complete"
            else "",
            drift=drift,
            details={"stream_id": "stream-1"},
        )

    def find(self, plan: BroadcastPlan) -> BroadcastState | None:
        self._call("find")
        for external_id, broadcast in self.broadcasts.items():
            if broadcast["uid"] == plan.uid:
                return self._state(external_id)
        return None

    def create(self, plan: BroadcastPlan) -> BroadcastState:
        self._call("create")
        self.made += 1
        external_id = f"yt{self.made}"
        self.broadcasts[external_id] = {
            "uid": plan.uid,
            "title": plan.title,
            "start": plan.start,
            "end": plan.end,
            "status": "created",
        }
        return self._state(external_id)

    def update(self, external_id: str, plan: BroadcastPlan) -> BroadcastState:
        self._call("update")
        if external_id not in self.broadcasts:
            raise BroadcastGone(f"{external_id} is gone")
        self.broadcasts[external_id].update(title=plan.title, start=plan.start, end=plan.end)
        return self._state(external_id)

    def cancel(self, external_id: str) -> None:
        self._call("cancel")
        self.broadcasts.pop(external_id, None)

    def statuses(self, broadcasts: Any, now: dt.datetime) -> dict[str, BroadcastState]:
        self._call("statuses")
        return {
            external_id: self._state(external_id, plan)
            for external_id, plan in broadcasts
            if external_id in self.broadcasts
        }


class Crash(BaseException):
    """The process dies (think SIGKILL) right after the provider answered."""


class CrashAfterCreate(FakeYouTube):
    def create(self, plan: BroadcastPlan) -> BroadcastState:
        super().create(plan)
        raise Crash


def providers_with(context: Context, fake: FakeYouTube) -> Providers:
    def factory(ctx: Context, meter: QuotaMeter) -> FakeYouTube:
        return fake

    return Providers(context, {"youtube": factory})


def streamed_session(context: Context, tmp_path: Path, **livestream: Any) -> int:
    context.clock = FixedClock(DEC_1)
    import_entries(context, tmp_path, national(livestream=livestream or YOUTUBE))
    return session_id(context, NATIONAL, "2026-12-10")


def livestream_of(context: Context, session: int) -> Livestream:
    with context.database.session() as db:
        row = db.scalars(select(Livestream).where(Livestream.session_id == session)).one()
        db.expunge(row)
        return row


def livestream_rows(context: Context) -> list[Livestream]:
    with context.database.session() as db:
        return list(db.scalars(select(Livestream)).all())


@pytest.fixture
def any_context(any_database_url: str, tmp_path: Path) -> Iterator[Context]:
    """A migrated installation on SQLite and on PostgreSQL."""
    ctx = Context.from_settings(make_settings(tmp_path, VCS_DATABASE_URL=any_database_url))
    initialise(ctx)
    yield ctx
    ctx.close()


# -- provision ---------------------------------------------------------------------------------


def test_each_session_within_the_window_gets_exactly_one_broadcast(
    any_context: Context, tmp_path: Path
) -> None:
    context = any_context
    first = streamed_session(context, tmp_path)
    fake = FakeYouTube()
    report = provision(context, providers_with(context, fake))
    assert report.created == 1
    row = livestream_of(context, first)
    assert (row.provider, row.external_id, row.status) == ("youtube", "yt1", "created")
    assert row.embed_url == "https://www.youtube-nocookie.com/embed/yt1"
    assert row.details == {"stream_id": "stream-1"}
    assert row.intent_at == DEC_1
    # A second run (and a third) makes nothing new; it only checks for hand edits.
    fake.calls.clear()
    provision(context, providers_with(context, fake))
    provision(context, providers_with(context, fake))
    assert fake.calls == ["statuses", "statuses"]
    assert len(fake.broadcasts) == 1
    assert len(livestream_rows(context)) == 1


def test_sessions_beyond_the_window_wait_for_their_turn(context: Context, tmp_path: Path) -> None:
    streamed_session(context, tmp_path)
    fake = FakeYouTube()
    provision(context, providers_with(context, fake))
    assert len(fake.broadcasts) == 1
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(dt.timedelta(days=35))  # 5 January: the 14 January session is in
    provision(context, providers_with(context, fake))
    january = session_id(context, NATIONAL, "2027-01-14")
    assert livestream_of(context, january).external_id == "yt2"


def test_a_run_that_dies_after_the_create_call_finds_the_broadcast_instead_of_making_another(
    any_context: Context, tmp_path: Path
) -> None:
    context = any_context
    first = streamed_session(context, tmp_path)
    crashing = CrashAfterCreate()
    with pytest.raises(Crash):
        provision(context, providers_with(context, crashing))
    # The intent survived the crash, the result did not.
    row = livestream_of(context, first)
    assert (row.status, row.external_id, row.intent_at) == ("intended", "", DEC_1)
    # The next run, with the same provider behind it, looks first and adopts the broadcast.
    fake = FakeYouTube()
    fake.broadcasts, fake.made = crashing.broadcasts, crashing.made
    provision(context, providers_with(context, fake))
    assert fake.calls[0] == "find"
    assert "create" not in fake.calls
    assert len(fake.broadcasts) == 1
    assert livestream_of(context, first).external_id == "yt1"


def test_a_moved_session_moves_its_broadcast(context: Context, tmp_path: Path) -> None:
    first = streamed_session(context, tmp_path)
    fake = FakeYouTube()
    provision(context, providers_with(context, fake))
    later = dt.datetime(2026, 12, 11, 12, 0, tzinfo=dt.UTC)
    edit(context, first, lambda db, s: sessions.move(db, s, later, "test"))
    report = provision(context, providers_with(context, fake))
    assert report.updated == 1
    assert fake.broadcasts["yt1"]["start"] == later
    assert fake.broadcasts["yt1"]["end"] == later + dt.timedelta(minutes=90)
    row = livestream_of(context, first)
    with context.database.session() as db:
        assert row.synced_revision == sessions.get(db, first).revision


def test_a_retitled_series_retitles_the_broadcast(context: Context, tmp_path: Path) -> None:
    first = streamed_session(context, tmp_path)
    fake = FakeYouTube()
    provision(context, providers_with(context, fake))
    import_entries(context, tmp_path, national(livestream=YOUTUBE, title="Jauns nosaukums"))
    provision(context, providers_with(context, fake))
    assert fake.broadcasts[livestream_of(context, first).external_id]["title"] == "Jauns nosaukums"


def test_a_cancelled_session_cancels_its_broadcast(context: Context, tmp_path: Path) -> None:
    first = streamed_session(context, tmp_path)
    fake = FakeYouTube()
    provision(context, providers_with(context, fake))
    edit(context, first, lambda db, s: sessions.cancel(db, s, "Lektore saslima", "test"))
    report = provision(context, providers_with(context, fake))
    assert report.cancelled == 1
    assert fake.broadcasts == {}
    assert livestream_of(context, first).status == "cancelled"
    fake.calls.clear()
    provision(context, providers_with(context, fake))
    assert "cancel" not in fake.calls


def test_a_broadcast_edited_by_hand_is_put_right(context: Context, tmp_path: Path) -> None:
    first = streamed_session(context, tmp_path)
    fake = FakeYouTube()
    provision(context, providers_with(context, fake))
    fake.broadcasts["yt1"]["title"] = "Someone typed here"
    fake.broadcasts["yt1"]["start"] += dt.timedelta(hours=1)
    report = provision(context, providers_with(context, fake))
    assert report.repaired == 1
    with context.database.session() as db:
        assert fake.broadcasts["yt1"]["title"] == wording.title(sessions.get(db, first), "lv")
        assert fake.broadcasts["yt1"]["start"] == sessions.get(db, first).start


def test_a_broadcast_deleted_by_hand_is_made_again(context: Context, tmp_path: Path) -> None:
    first = streamed_session(context, tmp_path)
    fake = FakeYouTube()
    provision(context, providers_with(context, fake))
    del fake.broadcasts["yt1"]
    report = provision(context, providers_with(context, fake))
    assert report.repaired == 1
    assert livestream_of(context, first).external_id == "yt2"
    assert list(fake.broadcasts) == ["yt2"]


def test_a_meeting_only_in_a_room_gets_no_broadcast(context: Context, tmp_path: Path) -> None:
    context.clock = FixedClock(dt.datetime(2026, 12, 20, 9, 0, tzinfo=dt.UTC))
    room = {"kind": "venue", "venue": "Cēsu jauniešu māja", "address": "Lenču iela 1, Cēsis"}
    import_entries(context, tmp_path, vidzeme(place=room, livestream=YOUTUBE))
    fake = FakeYouTube()
    provision(context, providers_with(context, fake))
    assert fake.broadcasts == {}
    assert livestream_rows(context) == []


def test_static_links_are_provisioned_without_credentials(context: Context, tmp_path: Path) -> None:
    first = streamed_session(
        context, tmp_path, provider="static", watch_url="https://meet.jit.si/tikls-{date}"
    )
    provision(context)
    row = livestream_of(context, first)
    assert (row.provider, row.watch_url) == ("static", "https://meet.jit.si/tikls-2026-12-10")


# -- faults ------------------------------------------------------------------------------------


def test_a_transient_error_is_recorded_and_retried_after_a_growing_pause(
    context: Context, tmp_path: Path
) -> None:
    first = streamed_session(context, tmp_path)
    fake = FakeYouTube()
    fake.failures = [TransientError("YouTube answered 503"), TransientError("YouTube answered 503")]
    with pytest.raises(LivestreamJobError, match="YouTube answered 503"):
        provision(context, providers_with(context, fake))
    row = livestream_of(context, first)
    assert (row.error_count, row.next_attempt_at) == (1, DEC_1 + dt.timedelta(seconds=60))
    assert "YouTube answered 503" in row.last_error
    # Before the pause is over the session is left alone.
    report = provision(context, providers_with(context, fake))
    assert report.waiting == 1
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(dt.timedelta(seconds=60))
    with pytest.raises(LivestreamJobError):
        provision(context, providers_with(context, fake))
    row = livestream_of(context, first)
    assert row.next_attempt_at == DEC_1 + dt.timedelta(seconds=60 + 120)
    context.clock.advance(dt.timedelta(seconds=120))
    provision(context, providers_with(context, fake))
    row = livestream_of(context, first)
    assert (row.external_id, row.error_count, row.last_error) == ("yt1", 0, "")
    assert len(fake.broadcasts) == 1


def test_a_spent_quota_pauses_the_provider_until_it_resets(
    context: Context, tmp_path: Path
) -> None:
    first = streamed_session(context, tmp_path)
    fake = FakeYouTube()
    reset = next_reset(DEC_1)
    fake.failures = [QuotaExceeded("quotaExceeded", retry_after=reset - DEC_1)]
    with pytest.raises(LivestreamJobError, match="quotaExceeded"):
        provision(context, providers_with(context, fake))
    with context.database.session() as db:
        state = db.get(ProviderHealth, "youtube")
        assert state is not None
        assert (state.state, state.until) == ("quota", reset)
    fake.calls.clear()
    report = provision(context, providers_with(context, fake))
    assert (report.blocked, fake.calls) == (1, [])
    assert isinstance(context.clock, FixedClock)
    context.clock.at = reset
    provision(context, providers_with(context, fake))
    assert livestream_of(context, first).external_id == "yt1"


def test_revoked_credentials_are_reported_once_with_the_command_that_fixes_them(
    context: Context, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = streamed_session(context, tmp_path)

    def no_token(ctx: Context, meter: QuotaMeter) -> FakeYouTube:
        raise CredentialsRevoked("the Google token was revoked", fix_command="vcs google auth")

    caplog.set_level(logging.ERROR, logger="vcs.livestream")
    with pytest.raises(LivestreamJobError, match="revoked"):
        provision(context, Providers(context, {"youtube": no_token}))
    for _ in range(3):
        report = provision(context, Providers(context, {"youtube": no_token}))
        assert report.blocked == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        "livestream provider youtube: the Google token was revoked; fix it with `vcs google auth`"
    ]
    with context.database.session() as db:
        state = db.get(ProviderHealth, "youtube")
        assert state is not None
        assert (state.state, state.fix_command) == ("revoked", "vcs google auth")
        # What `vcs google auth` does once the owner has signed in again:
        health.mark_ok(db, "youtube")
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(dt.timedelta(days=1))
    fake = FakeYouTube()
    provision(context, providers_with(context, fake))
    assert livestream_of(context, first).external_id == "yt1"


def test_the_quota_meter_keeps_units_per_pacific_day_and_refuses_to_overspend(
    context: Context,
) -> None:
    clock = FixedClock(dt.datetime(2026, 12, 1, 7, 30, tzinfo=dt.UTC))  # 23.30 in California
    meter = DatabaseMeter(context.database, clock, "youtube", daily_limit=100)
    meter.spend(50)
    meter.spend(50)
    with pytest.raises(QuotaExceeded) as refused:
        meter.spend(1)
    assert refused.value.retry_after == dt.timedelta(minutes=30)
    clock.advance(dt.timedelta(minutes=30))  # midnight in California: a new quota day
    meter.spend(50)
    with context.database.session() as db:
        days = {(row.day.isoformat(), row.units) for row in db.scalars(select(QuotaUsage))}
    assert days == {("2026-11-30", 100), ("2026-12-01", 50)}
    assert meter.spent_here == 150


def test_the_job_summary_counts_the_units_it_spent(context: Context, tmp_path: Path) -> None:
    streamed_session(context, tmp_path)

    class Spending(FakeYouTube):
        def __init__(self, meter: QuotaMeter) -> None:
            super().__init__()
            self.meter = meter

        def create(self, plan: BroadcastPlan) -> BroadcastState:
            self.meter.spend(150)
            return super().create(plan)

    report = provision(context, Providers(context, {"youtube": lambda ctx, meter: Spending(meter)}))
    assert report.spent == "youtube 150 units (today 150)"
    assert "youtube 150 units (today 150)" in str(report)


# -- livestream-status -------------------------------------------------------------------------


def test_status_moves_a_session_from_upcoming_to_live_to_ended_with_its_recording(
    any_context: Context, tmp_path: Path
) -> None:
    context = any_context
    first = streamed_session(context, tmp_path)
    fake = FakeYouTube()
    provision(context, providers_with(context, fake))
    start = dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC)
    # Too early: the job does not even ask.
    fake.calls.clear()
    poll_status(context, providers_with(context, fake))
    assert fake.calls == []
    assert isinstance(context.clock, FixedClock)
    context.clock.at = start - dt.timedelta(minutes=10)
    poll_status(context, providers_with(context, fake))
    assert fake.calls == ["statuses"]
    fake.broadcasts["yt1"]["status"] = "live"
    report = poll_status(context, providers_with(context, fake))
    assert report.live == 1
    with context.database.session() as db:
        session = sessions.get(db, first)
        assert sessions.phase(session, context.clock.now()) == "live"
        assert session.live_status == "live"
    fake.broadcasts["yt1"]["status"] = "complete"
    context.clock.at = start + dt.timedelta(minutes=95)
    report = poll_status(context, providers_with(context, fake))
    assert report.ended == 1
    with context.database.session() as db:
        session = db.get(Session, first)
        assert session is not None
        assert session.live_status == "ended"
        assert session.recording_url == "https://www.youtube.com/watch?v=yt1"
    # Complete broadcasts are not asked about again.
    fake.calls.clear()
    poll_status(context, providers_with(context, fake))
    assert fake.calls == []


def test_a_recording_link_set_by_staff_is_kept(context: Context, tmp_path: Path) -> None:
    first = streamed_session(context, tmp_path)
    fake = FakeYouTube()
    provision(context, providers_with(context, fake))
    with context.database.session() as db:
        db.get(Session, first).recording_url = "https://video.example.lv/edited"  # type: ignore[union-attr]
    assert isinstance(context.clock, FixedClock)
    context.clock.at = dt.datetime(2026, 12, 10, 9, 45, tzinfo=dt.UTC)
    fake.broadcasts["yt1"]["status"] = "complete"
    poll_status(context, providers_with(context, fake))
    with context.database.session() as db:
        session = db.get(Session, first)
        assert session is not None
        assert session.recording_url == "https://video.example.lv/edited"
    assert livestream_of(context, first).recording_url == "https://www.youtube.com/watch?v=yt1"


def test_static_sessions_go_live_and_end_by_the_clock(context: Context, tmp_path: Path) -> None:
    first = streamed_session(
        context,
        tmp_path,
        provider="static",
        watch_url="https://meet.jit.si/tikls-{date}",
        recording_url="https://video.example.lv/{date}",
    )
    provision(context)
    assert isinstance(context.clock, FixedClock)
    context.clock.at = dt.datetime(2026, 12, 10, 8, 1, tzinfo=dt.UTC)
    assert poll_status(context).live == 1
    context.clock.at = dt.datetime(2026, 12, 10, 9, 31, tzinfo=dt.UTC)
    assert poll_status(context).ended == 1
    with context.database.session() as db:
        session = db.get(Session, first)
        assert session is not None
        assert session.recording_url == "https://video.example.lv/2026-12-10"


def test_status_errors_of_a_provider_are_recorded_and_do_not_stop_others(
    context: Context, tmp_path: Path
) -> None:
    first = streamed_session(context, tmp_path)
    fake = FakeYouTube()
    provision(context, providers_with(context, fake))
    context.clock = FixedClock(dt.datetime(2026, 12, 20, 9, 0, tzinfo=dt.UTC))
    import_entries(context, tmp_path, vidzeme())
    provision(context, providers_with(context, fake))
    # Vidzeme (static) is live on 30 December while YouTube fails.
    context.clock.at = dt.datetime(2026, 12, 30, 11, 30, tzinfo=dt.UTC)
    fake.failures = [TransientError("YouTube answered 500")]
    with context.database.session() as db:
        row = db.scalars(select(Livestream).where(Livestream.session_id == first)).one()
        row.status = "live"  # keep the YouTube one in the window
        db.get(Session, first).end = context.clock.at + dt.timedelta(hours=1)  # type: ignore[union-attr]
    with pytest.raises(LivestreamJobError, match="YouTube answered 500") as failed:
        poll_status(context, providers_with(context, fake))
    assert "1 now live" in str(failed.value)
    vidzeme_first = session_id(context, VIDZEME, "2026-12-30")
    with context.database.session() as db:
        assert sessions.get(db, vidzeme_first).live_status == "live"


def test_errors_name_the_session_and_the_provider(context: Context, tmp_path: Path) -> None:
    first = streamed_session(context, tmp_path)
    fake = FakeYouTube()
    fake.failures = [LivestreamError("YouTube refused liveBroadcasts.insert: invalid title")]
    with pytest.raises(LivestreamJobError) as failed:
        provision(context, providers_with(context, fake))
    assert (
        f"session {first} (youtube): YouTube refused liveBroadcasts.insert: invalid title"
        in str(failed.value)
    )
