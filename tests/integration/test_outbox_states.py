"""The outbox's states on SQLite and PostgreSQL: queueing once, claiming, recovering, retrying,
backing off, pausing and resuming, windows and caps."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from tests.mail_factories import add_members, greeting, mail_context
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.mail import outbox
from vcs.mail.outbox import Recipient
from vcs.mail.sender import Sender
from vcs.mail.transport import Envelope, Ready, TemporaryError
from vcs.storage.models import Delivery, Member


class CountingTransport:
    """Records each message; fails the addresses in `failing` temporarily."""

    def __init__(self, failing: set[str] | None = None, stop_after: int = 0) -> None:
        self.sent: list[str] = []
        self.failing = failing or set()
        self.stop_after = stop_after
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def send(self, envelope: Envelope, ready: Ready = lambda: None) -> None:
        if envelope.recipient in self.failing:
            raise TemporaryError("451 4.3.0 try later", 451)
        ready()
        with self.lock:
            self.sent.append(envelope.recipient)
            if self.stop_after and len(self.sent) >= self.stop_after:
                self.stop.set()

    def close(self) -> None:
        pass


def queue(context: Context, count: int, ref: str = "digest:1") -> int:
    ids = add_members(context, count) if count else []
    with context.database.session() as db:
        return outbox.enqueue_for_members(
            db,
            context.settings,
            kind="digest",
            ref=ref,
            members=[db.get(Member, i) for i in ids],
            compose=greeting,
            now=context.clock.now(),
        )


def states(context: Context) -> dict[str, int]:
    with context.database.session() as db:
        report = outbox.outbox_status(db)
    return {state: report.total(state) for state in outbox.STATES if report.total(state)}


def later(context: Context, **delta: float) -> None:
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(dt.timedelta(**delta))


@pytest.fixture
def context(tmp_path: Path, any_database_url: str) -> Context:
    ctx = mail_context(tmp_path, any_database_url)
    yield ctx
    ctx.close()


def test_enqueueing_the_same_message_twice_queues_each_recipient_once(context: Context) -> None:
    assert queue(context, 3) == 3
    with context.database.session() as db:
        members = db.scalars(outbox.select(Member)).all()
        again = outbox.enqueue_for_members(
            db, context.settings, kind="digest", ref="digest:1", members=members,
            compose=greeting, now=context.clock.now(),
        )  # fmt: skip
        extra = outbox.enqueue(
            db, context.settings, kind="digest", ref="digest:1",
            recipients=[Recipient("BIEDRS0@example.lv"), Recipient("jauns@example.lv")],
            compose=greeting, now=context.clock.now(),
        )  # fmt: skip
    assert (again, extra) == (0, 1)
    assert states(context) == {"queued": 4}


def test_unsubscribed_and_bounced_members_get_nothing_more(context: Context) -> None:
    queue(context, 3)
    with context.database.session() as db:
        first, second, _third = db.scalars(outbox.select(Member).order_by(Member.id)).all()
        first.status, second.status = "unsubscribed", "bounced"
    transport = CountingTransport()
    report = Sender(context, lambda: transport).run()
    assert (report.sent, report.cancelled) == (1, 2)
    assert transport.sent == ["biedrs2@example.lv"]
    assert states(context) == {"sent": 1, "cancelled": 2}


def test_deliveries_left_sending_by_a_dead_sender_are_sent_again(context: Context) -> None:
    queue(context, 5)
    with context.database.session() as db:
        claimed = outbox.claim(db, context.clock.now(), 2)  # then the sender "died"
    assert [c.to_address for c in claimed] == ["biedrs0@example.lv", "biedrs1@example.lv"]
    assert states(context) == {"queued": 3, "sending": 2}
    transport = CountingTransport()
    report = Sender(context, lambda: transport).run()
    assert (report.recovered, report.sent) == (2, 5)
    assert sorted(transport.sent) == [f"biedrs{n}@example.lv" for n in range(5)]
    assert states(context) == {"sent": 5}


def test_a_temporary_failure_backs_off_doubling_and_gives_up_after_max_attempts(
    tmp_path: Path, any_database_url: str
) -> None:
    context = mail_context(tmp_path, any_database_url, VCS_MAIL_MAX_ATTEMPTS="3")
    queue(context, 1)
    transport = CountingTransport(failing={"biedrs0@example.lv"})
    waits = []
    for _ in range(3):
        Sender(context, lambda: transport).run()
        with context.database.session() as db:
            delivery = db.scalars(outbox.select(Delivery)).one()
        if delivery.next_attempt_at:
            waits.append(delivery.next_attempt_at - context.clock.now())
        later(context, hours=1)
    assert waits == [dt.timedelta(seconds=60), dt.timedelta(seconds=120)]
    assert (delivery.status, delivery.attempts) == ("failed-permanent", 3)
    assert delivery.last_error == "gave up after 3 attempts: 451 4.3.0 try later"
    context.close()


def test_retry_queues_only_the_failed_recipients(context: Context) -> None:
    queue(context, 4)
    failing = {"biedrs1@example.lv", "biedrs3@example.lv"}
    Sender(context, lambda: CountingTransport(failing)).run()
    assert states(context) == {"sent": 2, "failed-temporary": 2}
    with context.database.session() as db:
        assert outbox.retry_failed(db) == 2
    transport = CountingTransport()
    Sender(context, lambda: transport).run()
    assert sorted(transport.sent) == sorted(failing)
    assert states(context) == {"sent": 4}


def test_pausing_and_resuming_never_starts_from_the_top(context: Context) -> None:
    queue(context, 30)
    transport = CountingTransport(stop_after=10)
    report = Sender(context, lambda: transport, concurrency=2, stop=transport.stop).run()
    assert report.stopped == "stopped"
    assert 10 <= report.sent < 30
    assert states(context) == {"sent": report.sent, "queued": 30 - report.sent}
    rest = CountingTransport()
    Sender(context, lambda: rest).run()
    assert sorted(transport.sent + rest.sent) == sorted(f"biedrs{n}@example.lv" for n in range(30))


def test_a_time_limit_pauses_a_run_that_the_next_one_finishes(context: Context) -> None:
    queue(context, 5)
    report = Sender(context, lambda: CountingTransport(), max_seconds=0).run()
    assert (report.sent, report.stopped) == (0, "time limit")
    assert states(context) == {"queued": 5}
    assert Sender(context, lambda: CountingTransport()).run().sent == 5


def test_the_send_window_and_the_daily_cap_hold_back_the_rest(
    tmp_path: Path, any_database_url: str
) -> None:
    # NOW is 14.00 in Riga.
    context = mail_context(
        tmp_path, any_database_url, VCS_MAIL_SEND_WINDOW="15:00-20:00", VCS_MAIL_DAILY_CAP="3"
    )
    queue(context, 5)
    report = Sender(context, lambda: CountingTransport()).run()
    assert (report.sent, report.stopped) == (0, "send window")
    later(context, hours=1)
    report = Sender(context, lambda: CountingTransport()).run()
    assert (report.sent, report.stopped) == (3, "daily cap")
    later(context, hours=19)  # 10.00 the next day: in the window again, a new day
    assert Sender(context, lambda: CountingTransport()).run().sent == 0
    later(context, hours=5)
    assert Sender(context, lambda: CountingTransport()).run().sent == 2
    assert states(context) == {"sent": 5}
    context.close()


@pytest.mark.postgres
def test_two_claimers_never_take_the_same_delivery(tmp_path: Path, postgres_url: str) -> None:
    context = mail_context(tmp_path, postgres_url)
    queue(context, 6)
    now = context.clock.now()
    with context.database.session() as first, context.database.session() as second:
        mine = outbox.claim(first, now, 4)  # rows stay locked until `first` commits
        theirs = outbox.claim(second, now, 4)
    assert len(mine) == 4 and len(theirs) == 2
    assert not {c.id for c in mine} & {c.id for c in theirs}
    assert states(context) == {"sending": 6}
    context.close()


def test_a_second_sender_finds_the_outbox_busy(context: Context) -> None:
    queue(context, 40)
    transport = CountingTransport(stop_after=1)
    gate = threading.Event()

    class SlowTransport(CountingTransport):
        def send(self, envelope: Envelope, ready: Ready = lambda: None) -> None:
            gate.wait(5)
            super().send(envelope, ready)

    slow = SlowTransport()
    first = threading.Thread(target=Sender(context, lambda: slow, concurrency=1).run)
    first.start()
    try:
        deadline = threading.Event()
        for _ in range(100):
            if states(context).get("sending"):
                break
            deadline.wait(0.02)
        assert Sender(context, lambda: transport).run().busy
    finally:
        gate.set()
        first.join()
    assert states(context) == {"sent": 40}
