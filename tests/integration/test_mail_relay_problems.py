"""A relay that refuses *us* is not a member's bounce: a real SMTP server (aiosmtpd) that answers
the refusals Postfix and others give, a socket that never answers, a closed port, a full disk.

The send pauses, spends no attempt, marks nobody, and `vcs outbox send` ends with one `vcs:` line
saying what to fix (exit 3; 1 for the local outbox folder). Staff return wrongly bounced members
to active from the shell and the staff area, both in the audit log.
"""

from __future__ import annotations

import datetime as dt
import errno
import smtplib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, ClassVar

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from tests.conftest import free_port, isolated_environ
from tests.integration.test_staff_access import ADMIN, add_staff, csrf_of, log_in
from tests.mail_factories import NOW, Sink, add_members, greeting, mail_context, smtp_server
from vcs.cli import cli
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.mail import outbox
from vcs.mail.sender import Sender
from vcs.mail.transport import FileTransport, SMTPTransport
from vcs.scheduler.jobs import registry
from vcs.scheduler.runs import run_job
from vcs.storage.models import AuditEntry, Delivery, Member

SENDER = "tikls@example.lv"


class Relay(Sink):
    """A Sink that can also refuse every MAIL FROM or every RCPT TO with one answer.

    `{rcpt}` in the RCPT answer is the recipient, as Postfix puts it there.
    """

    def __init__(self, mail: str = "", rcpt: str = "") -> None:
        super().__init__()
        self.mail_answer = mail
        self.rcpt_answer = rcpt
        self.tried: list[str] = []

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.mail_answer:
            return self.mail_answer
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            self.tried.append(address)
        if self.rcpt_answer:
            return self.rcpt_answer.format(rcpt=address)
        return await super().handle_RCPT(server, session, envelope, address, options)


def installation(
    tmp_path: Path, mail_url: str, members: int, **env: str
) -> tuple[Context, dict[str, str]]:
    """A migrated installation with `members` active members and a digest queued for each;
    the environment the `vcs` command needs to use it."""
    environ = isolated_environ(
        tmp_path,
        VCS_MAIL_URL=mail_url,
        VCS_BASE_URL="https://tikls.example.lv",
        VCS_MAIL_FROM_ADDRESS=SENDER,
        **env,
    )
    context = mail_context(tmp_path, **{k: v for k, v in environ.items() if k.startswith("VCS_")})
    ids = add_members(context, members)
    with context.database.session() as db:
        outbox.enqueue_for_members(
            db, context.settings, kind="digest", ref="digest:1",
            members=[db.get(Member, i) for i in ids], compose=greeting, now=NOW,
        )  # fmt: skip
    return context, environ


def vcs(environ: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=environ)


def vcs_lines(result: Result) -> list[str]:
    """The lines the command printed for people (not the log lines)."""
    return [line for line in result.stderr.splitlines() if line.startswith("vcs:")]


def deliveries(context: Context) -> list[tuple[str, str, int]]:
    with context.database.session() as db:
        rows = db.scalars(select(Delivery).order_by(Delivery.id))
        return [(d.to_address, d.status, d.attempts) for d in rows]


def members(context: Context) -> list[tuple[str, str, int]]:
    with context.database.session() as db:
        rows = db.scalars(select(Member).order_by(Member.id))
        return [(m.email, m.status, m.bounce_count) for m in rows]


def audit(context: Context, action: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    with context.database.session() as db:
        rows = db.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return [(e.actor, e.entity_id, e.after) for e in rows]


def pauses(context: Context) -> list[tuple[str, int, bool]]:
    """(problem, tries, still open) of each recorded pause of sending."""
    # Imported here: on code without pauses the tests then fail on what they check.
    from vcs.storage.models import MailRelayPause

    with context.database.session() as db:
        rows = db.scalars(select(MailRelayPause).order_by(MailRelayPause.id))
        return [(p.problem, p.tries, p.ended_at is None) for p in rows]


def nobody_touched(context: Context, count: int) -> None:
    """Every delivery queued with no attempt spent; every member active with no bounce."""
    addresses = [f"biedrs{n}@example.lv" for n in range(count)]
    assert deliveries(context) == [(a, "queued", 0) for a in addresses]
    assert members(context) == [(a, "active", 0) for a in addresses]
    assert audit(context, "bounce") == []


# -- the relay refuses us ----------------------------------------------------------------------


REFUSALS = [
    pytest.param(
        Relay(rcpt="554 5.7.1 <{rcpt}>: Relay access denied"),
        "vcs: the mail relay refused to relay for this host: 554 5.7.1 <biedrs0@example.lv>: Relay"
        " access denied; fix: allow this host to relay (Postfix: mynetworks) or set mail.url with"
        " user:password",
        id="postfix-relay-access-denied",
    ),
    pytest.param(
        Relay(mail="530 5.7.0 Authentication required"),
        "vcs: the mail relay requires a log-in: 530 5.7.0 Authentication required; fix: set"
        " mail.url with user:password (smtp://user:password@host:587)",
        id="authentication-required",
    ),
    pytest.param(
        Relay(mail="553 5.7.1 <tikls@example.lv>: Sender address rejected: not owned by user"),
        "vcs: the mail relay refused the sender tikls@example.lv: 553 5.7.1 <tikls@example.lv>:"
        " Sender address rejected: not owned by user; fix: set mail.from_address to an address"
        " the relay accepts from this host",
        id="sender-refused",
    ),
    pytest.param(
        Relay(mail="550 5.1.8 Sender domain unknown"),
        "vcs: the mail relay refused the sender tikls@example.lv: 550 5.1.8 Sender domain unknown;"
        " fix: set mail.from_address to an address the relay accepts from this host",
        id="any-5xx-at-mail-from",
    ),
]


@pytest.mark.parametrize(("relay_server", "line"), REFUSALS)
def test_a_relay_refusal_pauses_the_send_marks_nobody_and_exits_3_naming_the_fix(
    tmp_path: Path, relay_server: Relay, line: str
) -> None:
    with smtp_server(relay_server) as (_sink, port):
        context, environ = installation(
            tmp_path, f"smtp://127.0.0.1:{port}", 6, VCS_MAIL_BOUNCE_LIMIT="1"
        )
        result = vcs(environ, "outbox", "send")
        assert relay_server.messages == []

    assert result.exit_code == 3, result.stdout.splitlines()[-1]
    assert vcs_lines(result) == [line]
    assert result.stderr.splitlines()[-1] == line
    nobody_touched(context, 6)
    # Tried one at a time until the relay answered, then stopped at its first refusal.
    assert len(relay_server.tried) <= 1
    [(_problem, tries, still_open)] = pauses(context)
    assert (tries, still_open) == (1, True)


def test_outbox_status_shows_the_pause_and_a_send_that_gets_through_ends_it(
    tmp_path: Path,
) -> None:
    refusing = Relay(rcpt="554 5.7.1 <{rcpt}>: Relay access denied")
    with smtp_server(refusing) as (_sink, port):
        context, environ = installation(tmp_path, f"smtp://127.0.0.1:{port}", 3)
        assert vcs(environ, "outbox", "send").exit_code == 3
        status = vcs(environ, "outbox", "status")
        assert "sending paused since" in status.output
        assert "fix: allow this host to relay (Postfix: mynetworks)" in status.output

        refusing.rcpt_answer = ""  # the relay's mynetworks now lists us
        sent = vcs(environ, "outbox", "send")
        assert sent.exit_code == 0, sent.output
        assert "3 sent" in sent.output
    assert "paused" not in vcs(environ, "outbox", "status").output
    assert pauses(context) == [("relay-denied", 1, False)]
    assert [status for _a, status, _n in deliveries(context)] == ["sent"] * 3


def test_the_send_outbox_job_fails_with_the_same_line_and_waits_out_the_pause(
    tmp_path: Path,
) -> None:
    refusing = Relay(rcpt="554 5.7.1 <{rcpt}>: Relay access denied")
    with smtp_server(refusing) as (_sink, port):
        context, _environ = installation(tmp_path, f"smtp://127.0.0.1:{port}", 3)
        job = registry.get("send-outbox")

        first = run_job(context, job)
        assert first.outcome == "failed"
        assert first.error.startswith("the mail relay refused to relay for this host: 554 5.7.1")
        assert first.error.endswith(
            "fix: allow this host to relay (Postfix: mynetworks) or set mail.url with user:password"
        )
        tried = len(refusing.tried)

        # Within the wait (mail.retry_base_seconds, 60 s) the job does not knock again.
        again = run_job(context, job)
        assert (again.outcome, again.error) == ("failed", first.error)
        assert len(refusing.tried) == tried

        refusing.rcpt_answer = ""
        assert isinstance(context.clock, FixedClock)
        context.clock.advance(dt.timedelta(seconds=61))
        fixed = run_job(context, job)
        assert fixed.outcome == "ok", fixed.error
        assert fixed.summary.startswith("3 sent")
    nobody_touched_but_sent = [(a, s, n) for a, s, n in deliveries(context)]
    assert nobody_touched_but_sent == [(f"biedrs{n}@example.lv", "sent", 1) for n in range(3)]


def test_one_unknown_mailbox_among_good_recipients_fails_only_that_one(tmp_path: Path) -> None:
    sink = Relay()
    sink.script["biedrs2@example.lv"] = [("RCPT", "550 5.1.1 <biedrs2@example.lv>: User unknown")]
    with smtp_server(sink) as (sink, port):
        context, environ = installation(
            tmp_path, f"smtp://127.0.0.1:{port}", 6, VCS_MAIL_BOUNCE_LIMIT="1"
        )
        result = vcs(environ, "outbox", "send")
    assert result.exit_code == 0, result.output
    assert vcs_lines(result) == []
    assert "5 sent, 0 failed temporarily, 1 failed permanently" in result.output
    states = {address: (status, attempts) for address, status, attempts in deliveries(context)}
    assert states.pop("biedrs2@example.lv") == ("failed-permanent", 1)
    assert set(states.values()) == {("sent", 1)}
    assert [m for m in members(context) if m[1] != "active"] == [
        ("biedrs2@example.lv", "bounced", 1)
    ]
    [(actor, _member, after)] = audit(context, "bounce")
    assert actor == "mail" and after is not None and "5.1.1" in after["answer"]


def test_the_same_refusal_for_five_different_recipients_in_a_row_is_the_relays(
    tmp_path: Path,
) -> None:
    # A refusal no rule recognises by its words: only its repetition gives it away.
    refusing = Relay(rcpt="550 5.7.1 <{rcpt}>: Recipient address rejected: Access denied")
    with smtp_server(refusing) as (_sink, port):
        context, environ = installation(
            tmp_path,
            f"smtp://127.0.0.1:{port}",
            8,
            VCS_MAIL_BOUNCE_LIMIT="1",
            VCS_MAIL_CONCURRENCY="1",  # "in a row" in a known order
        )
        result = vcs(environ, "outbox", "send")
    assert result.exit_code == 3, result.output
    assert vcs_lines(result) == [
        "vcs: the mail relay refused 5 different recipients in a row with the same answer: 550"
        " 5.7.1 <biedrs4@example.lv>: Recipient address rejected: Access denied; fix: check the"
        " relay's settings and log; nobody was marked bounced"
    ]
    assert len(refusing.tried) == 5
    nobody_touched(context, 8)


def test_refusals_with_a_delivery_between_them_stay_each_recipients_own(tmp_path: Path) -> None:
    sink = Relay()
    refused = [0, 1, 2, 3, 5, 6, 7, 8]  # biedrs4 gets through
    for n in refused:
        sink.script[f"biedrs{n}@example.lv"] = [
            ("RCPT", f"550 5.7.1 <biedrs{n}@example.lv>: Recipient address rejected: Access denied")
        ]
    with smtp_server(sink) as (sink, port):
        context, environ = installation(
            tmp_path, f"smtp://127.0.0.1:{port}", 9, VCS_MAIL_CONCURRENCY="1"
        )
        result = vcs(environ, "outbox", "send")
    assert result.exit_code == 0, result.output
    assert "1 sent, 0 failed temporarily, 8 failed permanently" in result.output
    assert [n for _a, _s, n in members(context)] == [1, 1, 1, 1, 0, 1, 1, 1, 1]


def test_unknown_mailboxes_in_a_row_are_bounces_however_many(tmp_path: Path) -> None:
    # A list imported long ago can hold a run of dead addresses: each is its own bounce.
    refusing = Relay(rcpt="550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown")
    with smtp_server(refusing) as (_sink, port):
        context, environ = installation(
            tmp_path, f"smtp://127.0.0.1:{port}", 7, VCS_MAIL_BOUNCE_LIMIT="1"
        )
        result = vcs(environ, "outbox", "send")
    assert result.exit_code == 0, result.output
    assert {status for _a, status, _n in members(context)} == {"bounced"}


# -- a relay that does not answer ----------------------------------------------------------------


@contextmanager
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A port that accepts connections and never says a word; the accepted sockets."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not done.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        done.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


def test_a_relay_that_never_answers_trips_the_breaker_after_connect_tries(
    tmp_path: Path,
) -> None:
    with silent_server() as (port, accepted):
        context, _environ = installation(
            tmp_path, f"smtp://127.0.0.1:{port}", 10, VCS_MAIL_TIMEOUT_SECONDS="1"
        )
        report = Sender(context).run()  # four connections, as configured by default
        assert len(accepted) == 3  # mail.connect_tries, not one per message or per connection
    assert report.relay is not None and report.relay.kind == "unreachable"
    assert report.relay.line().startswith(
        f"the mail relay 127.0.0.1:{port} did not answer (3 tries in a row): no answer from"
        f" 127.0.0.1:{port} within 1 s (timed out); fix: check the host and port in mail.url"
    )
    nobody_touched(context, 10)


class CountingTransport(SMTPTransport):
    """The SMTP transport, counting the connections it tries to open (over all workers)."""

    opened: ClassVar[list[int]] = []

    def _connect(self) -> smtplib.SMTP:
        self.opened.append(1)
        return super()._connect()


def test_a_closed_port_trips_the_breaker_after_connect_tries(tmp_path: Path) -> None:
    port = free_port()  # nobody listens
    context, environ = installation(tmp_path, f"smtp://127.0.0.1:{port}", 10)
    CountingTransport.opened = []
    report = Sender(context, lambda: CountingTransport("127.0.0.1", port, timeout=5)).run()
    assert len(CountingTransport.opened) == 3
    assert report.relay is not None and report.relay.kind == "unreachable"
    assert "Connection refused" in report.relay.answer
    nobody_touched(context, 10)

    result = vcs(environ, "outbox", "send")
    assert result.exit_code == 3
    [line] = vcs_lines(result)
    assert line.startswith(f"vcs: the mail relay 127.0.0.1:{port} did not answer (3 tries")


# -- a full disk (file://) ----------------------------------------------------------------------


class FullDisk(FileTransport):
    """The file transport on a disk that fills up halfway through a message."""

    def _write(self, fh: IO[bytes], data: bytes) -> None:
        fh.write(data[: len(data) // 2])
        fh.flush()
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_keeps_the_message_queued_and_leaves_no_half_written_file(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "outbox"
    context, _environ = installation(tmp_path, f"file://{folder}", 3)
    report = Sender(context, lambda: FullDisk(folder)).run()
    assert report.relay is not None and report.relay.local
    assert report.relay.line() == (
        f"cannot write e-mail into the outbox folder: {folder}: No space left on device; fix:"
        " free disk space or make the folder of mail.url writable"
    )
    assert list(folder.iterdir()) == []  # nothing half-saved, not even the temporary file
    nobody_touched(context, 3)


def test_outbox_send_into_a_folder_it_cannot_make_prints_one_line_and_exits_1(
    tmp_path: Path,
) -> None:
    (tmp_path / "taken").write_text("a file where the outbox folder should be")
    context, environ = installation(tmp_path, f"file://{tmp_path / 'taken' / 'outbox'}", 2)
    result = vcs(environ, "outbox", "send")
    assert result.exit_code == 1
    [line] = vcs_lines(result)
    assert line.startswith(f"vcs: cannot write e-mail into the outbox folder: {tmp_path}/taken/")
    assert line.endswith("; fix: free disk space or make the folder of mail.url writable")
    nobody_touched(context, 2)


# -- returning wrongly bounced members to active ---------------------------------------------


def bounce_everyone(tmp_path: Path, count: int) -> tuple[Context, dict[str, str]]:
    """`count` members marked bounced by a relay's 5xx answers, as the old sender did."""
    refusing = Relay(rcpt="550 5.1.1 <{rcpt}>: User unknown")
    with smtp_server(refusing) as (_sink, port):
        context, environ = installation(
            tmp_path, f"smtp://127.0.0.1:{port}", count, VCS_MAIL_BOUNCE_LIMIT="1"
        )
        assert Sender(context).run().bounced_members == count
    return context, environ


def test_members_reactivate_returns_bounced_members_to_active_in_the_audit_log(
    tmp_path: Path,
) -> None:
    context, environ = bounce_everyone(tmp_path, 4)
    with context.database.session() as db:
        quitter = db.scalars(select(Member).where(Member.email == "biedrs3@example.lv")).one()
        quitter.status = "unsubscribed"

    one = vcs(environ, "members", "reactivate", "Biedrs0@Example.lv")
    assert one.exit_code == 0, one.output
    assert one.output.splitlines()[0] == "biedrs0@example.lv: active again (was bounced, 1 bounces)"

    unknown = vcs(environ, "members", "reactivate", "biedrs1@example.lv", "cits@example.lv")
    assert unknown.exit_code == 1
    assert vcs_lines(unknown) == [
        "vcs: no member has the e-mail address cits@example.lv; nothing was changed"
    ]

    since = NOW.astimezone(context.settings.tz).date().isoformat()
    rest = vcs(environ, "members", "reactivate", "--bounced-since", since, "biedrs3@example.lv")
    assert rest.exit_code == 0, rest.output
    assert "biedrs3@example.lv: unsubscribed, left as it is" in rest.output
    assert members(context) == [
        ("biedrs0@example.lv", "active", 0),
        ("biedrs1@example.lv", "active", 0),
        ("biedrs2@example.lv", "active", 0),
        ("biedrs3@example.lv", "unsubscribed", 1),
    ]
    entries = audit(context, "reactivate")
    assert [(actor, after) for actor, _id, after in entries] == [
        ("cli", {"status": "active", "bounce_count": 0})
    ] * 3


def test_staff_return_a_bounced_member_to_active_from_the_member_list(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from vcs.web.app import create_app

    context, _environ = bounce_everyone(tmp_path, 2)
    add_staff(context, ADMIN, "admin")
    client = TestClient(
        create_app(context), base_url=context.settings.base_url, follow_redirects=False
    )
    log_in(client, ADMIN)
    page = client.get("/staff/members", params={"status": "bounced", "lang": "en"})
    assert page.text.count("Return to active<span") == 2
    with context.database.session() as db:
        first = db.scalars(select(Member).where(Member.email == "biedrs0@example.lv")).one().id

    answer = client.post(
        "/staff/members/reactivate",
        data={
            "csrf_token": csrf_of(page.text),
            "member": str(first),
            "back": "/staff/members?status=bounced",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/staff/members?status=bounced&reactivated=1"
    after = client.get(answer.headers["location"] + "&lang=en")
    assert "1 member is active again." in after.text
    assert members(context) == [
        ("biedrs0@example.lv", "active", 0),
        ("biedrs1@example.lv", "bounced", 1),
    ]
    assert [(actor, entity) for actor, entity, _after in audit(context, "reactivate")] == [
        (ADMIN, str(first))
    ]


def test_upgrading_dates_the_bounce_of_members_bounced_before(any_database_url: str) -> None:
    from vcs.config import database_url
    from vcs.storage import migrate
    from vcs.storage.db import Database, make_engine

    engine = make_engine(database_url(any_database_url))
    migrate.upgrade(engine)
    database = Database(engine)
    with database.session() as db:
        gone = Member(email="gone@example.lv", name="Ilze", status="bounced", feed_token="t1")
        here = Member(email="here@example.lv", name="Anna", status="active", feed_token="t2")
        db.add_all([gone, here])
        db.flush()
        for n, (member, status) in enumerate(
            [(gone, "failed-permanent"), (gone, "failed-permanent"), (gone, "sent"),
             (here, "failed-permanent")]
        ):  # fmt: skip
            db.add(
                Delivery(
                    kind="digest", ref=f"digest:{n}", member_id=member.id,
                    to_address=member.email, status=status, claimed_at=NOW + dt.timedelta(days=n),
                )
            )  # fmt: skip
    migrate.downgrade(engine, "0010")  # as an installation bounced them before 0011
    migrate.upgrade(engine)
    with database.session() as db:
        found = {m.email: m.bounced_at for m in db.scalars(select(Member))}
    engine.dispose()
    # The last permanent failure of a bounced member; nothing for a member who is not bounced.
    assert found == {"gone@example.lv": NOW + dt.timedelta(days=1), "here@example.lv": None}
