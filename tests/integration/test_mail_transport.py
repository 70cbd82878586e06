"""Faults at a real SMTP server: busy answers, refusals, dropped connections; TLS and login."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.mail_factories import (
    Sink,
    add_members,
    greeting,
    mail_context,
    password_check,
    self_signed,
    smtp_server,
)
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.mail import outbox
from vcs.mail.sender import Sender
from vcs.mail.transport import (
    Envelope,
    PermanentError,
    RelayUnavailable,
    SMTPTransport,
    TemporaryError,
    open_transport,
)
from vcs.storage.models import Delivery, Member


def queue_members(context: Context, count: int = 1, ref: str = "digest:1") -> None:
    ids = add_members(context, count)
    with context.database.session() as db:
        outbox.enqueue_for_members(
            db,
            context.settings,
            kind="digest",
            ref=ref,
            members=[db.get(Member, i) for i in ids],
            compose=greeting,
            now=context.clock.now(),
        )


def deliveries(context: Context) -> list[Delivery]:
    with context.database.session() as db:
        return list(db.scalars(outbox.select(Delivery).order_by(Delivery.id)))


def later(context: Context, minutes: int) -> None:
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(dt.timedelta(minutes=minutes))


@pytest.mark.parametrize(
    ("stage", "answer"),
    [("DATA", "451 4.3.0 Try again later"), ("RCPT", "421 4.7.0 Too busy, closing")],
)
def test_a_busy_answer_is_retried_after_backoff_and_delivered_once(
    tmp_path: Path, stage: str, answer: str
) -> None:
    sink = Sink()
    sink.script["biedrs0@example.lv"] = [(stage, answer)]
    with smtp_server(sink) as (sink, port):
        context = mail_context(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        queue_members(context)

        first = Sender(context).run()
        [delivery] = deliveries(context)
        assert (first.sent, first.failed_temporary) == (0, 1)
        assert delivery.status == "failed-temporary"
        assert delivery.last_error.endswith(answer)
        assert delivery.next_attempt_at == context.clock.now() + dt.timedelta(seconds=60)

        assert Sender(context).run().sent == 0  # not due yet
        later(context, 2)
        assert Sender(context).run().sent == 1

    [delivery] = deliveries(context)
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert sink.copies["biedrs0@example.lv"] == 1


def test_a_dropped_connection_is_a_temporary_failure(tmp_path: Path) -> None:
    sink = Sink()
    sink.script["biedrs1@example.lv"] = [("DATA", "DROP")]
    with smtp_server(sink) as (sink, port):
        context = mail_context(
            tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}", VCS_MAIL_CONCURRENCY="1"
        )
        queue_members(context, 3)
        report = Sender(context).run()
        assert (report.sent, report.failed_temporary) == (2, 1)
        [dropped] = [d for d in deliveries(context) if d.status != "sent"]
        assert dropped.to_address == "biedrs1@example.lv"
        assert "connection dropped" in dropped.last_error or "Disconnected" in dropped.last_error
        later(context, 2)
        assert Sender(context).run().sent == 1
    assert dict(sink.copies) == {f"biedrs{n}@example.lv": 1 for n in range(3)}


def test_550_is_permanent_recorded_and_bounces_the_member_after_the_limit(tmp_path: Path) -> None:
    sink = Sink()
    refusal = ("RCPT", "550 5.1.1 No such user")
    sink.script["biedrs0@example.lv"] = [refusal, refusal]
    with smtp_server(sink) as (sink, port):
        context = mail_context(
            tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}", VCS_MAIL_BOUNCE_LIMIT="2"
        )
        queue_members(context, 2, ref="digest:1")
        report = Sender(context).run()
        assert (report.sent, report.failed_permanent, report.bounced_members) == (1, 1, 0)
        failed = [d for d in deliveries(context) if d.status == "failed-permanent"]
        assert [(d.to_address, d.attempts) for d in failed] == [("biedrs0@example.lv", 1)]
        assert failed[0].last_error == "recipient refused: 550 5.1.1 No such user"

        # Nothing retries a permanent failure by itself; the next message bounces the member.
        later(context, 600)
        with context.database.session() as db:
            members = db.scalars(outbox.select(Member).order_by(Member.id)).all()
            outbox.enqueue_for_members(
                db, context.settings, kind="digest", ref="digest:2", members=members,
                compose=greeting, now=context.clock.now(),
            )  # fmt: skip
        report = Sender(context).run()
        assert (report.sent, report.failed_permanent, report.bounced_members) == (1, 1, 1)
    with context.database.session() as db:
        member = db.scalars(outbox.select(Member).where(Member.email == "biedrs0@example.lv")).one()
        assert (member.status, member.bounce_count) == ("bounced", 2)
    assert sink.copies == {"biedrs1@example.lv": 2}


def test_starttls_and_login_when_the_server_offers_them(tmp_path: Path) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    with smtp_server(
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        authenticator=password_check("tikls", "slepens"),
    ) as (sink, port):
        context = mail_context(tmp_path, VCS_MAIL_URL=f"smtp://tikls:slepens@127.0.0.1:{port}")
        queue_members(context, 2)
        report = Sender(context, lambda: open_transport(context.settings, client_tls)).run()
        assert report.sent == 2
    assert len(sink.messages) == 2


def test_a_refused_login_pauses_the_sender_and_spends_no_attempt(tmp_path: Path) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    with smtp_server(
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        authenticator=password_check("tikls", "slepens"),
    ) as (sink, port):
        context = mail_context(
            tmp_path,
            VCS_MAIL_URL=f"smtp://tikls:nepareizi@127.0.0.1:{port}",
            VCS_MAIL_CONCURRENCY="1",
        )
        queue_members(context, 3)
        report = Sender(context, lambda: open_transport(context.settings, client_tls)).run()
    assert report.sent == 0
    assert report.stopped == "relay refused"
    assert "login as tikls refused: 535" in report.relay_error
    # The one tried is queued again with the relay's answer; nobody's attempt is spent.
    states = [(d.status, d.attempts) for d in deliveries(context)]
    assert states == [("queued", 0), ("queued", 0), ("queued", 0)]
    assert not sink.messages


def test_smtps_uses_tls_from_the_first_byte(tmp_path: Path) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    with smtp_server(ssl_context=server_tls) as (sink, port):
        context = mail_context(tmp_path, VCS_MAIL_URL=f"smtps://127.0.0.1:{port}")
        transport = open_transport(context.settings, client_tls)
        assert isinstance(transport, SMTPTransport) and transport.implicit_tls
        transport.send(Envelope("tikls@example.lv", "a@example.lv", b"Subject: x\r\n\r\nx\r\n"))
        transport.close()
    assert sink.copies == {"a@example.lv": 1}


def test_transport_errors_say_temporary_or_permanent(tmp_path: Path) -> None:
    sink = Sink()
    sink.script["gone@example.lv"] = [("RCPT", "550 5.1.1 No such user")]
    sink.script["busy@example.lv"] = [("DATA", "452 4.3.1 Out of space")]
    with smtp_server(sink) as (sink, port):
        transport = SMTPTransport("127.0.0.1", port, timeout=5)
        data = b"Subject: x\r\n\r\nx\r\n"
        with pytest.raises(PermanentError) as refused:
            transport.send(Envelope("tikls@example.lv", "gone@example.lv", data))
        assert refused.value.code == 550
        with pytest.raises(TemporaryError) as busy:
            transport.send(Envelope("tikls@example.lv", "busy@example.lv", data))
        assert busy.value.code == 452 and not busy.value.permanent
        transport.send(Envelope("tikls@example.lv", "ok@example.lv", data))
        transport.close()
    nobody = SMTPTransport("127.0.0.1", port, timeout=2)  # the server is gone
    with pytest.raises(TemporaryError) as unreachable:
        nobody.send(Envelope("tikls@example.lv", "ok@example.lv", data))
    assert not isinstance(unreachable.value, RelayUnavailable)
    assert sink.copies == {"ok@example.lv": 1}
