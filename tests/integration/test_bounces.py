"""Bounces that arrive later: reports read from a real IMAP server on loopback (pymap, started by
the test), matched to their deliveries and counted; complaints unsubscribe; anything else is left
exactly as it was.

The samples in tests/data/bounces/ are what Postfix, Exim, Gmail and Outlook (Exchange Online)
send, and an ARF complaint as Outlook.com's feedback loop sends it.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import free_port, isolated_environ
from tests.mail_factories import Sink, add_members, greeting, mail_context, smtp_server
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.mail import bounces, outbox
from vcs.mail.imap import MailboxError, open_mailbox
from vcs.mail.sender import Sender
from vcs.storage.models import AuditEntry, BounceReport, Delivery, Member

SAMPLES = Path(__file__).parent.parent / "data" / "bounces"
DEC_1 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
SENT = dt.datetime(2026, 11, 30, 7, 15, tzinfo=dt.UTC)
ACCOUNT, PASSWORD = "bounces", "secret"
# The sample that reports on member n quotes the digest's Message-ID n + 1.
MESSAGE_ID = "<17644869000{n}.100{n}.digest@tikls.example.lv>"
HARD_SAMPLES = {
    "postfix-user-unknown.eml": 0,
    "exim-no-such-user.eml": 1,
    "gmail-account-does-not-exist.eml": 2,
    "outlook-recipient-not-found.eml": 3,
}


@pytest.fixture
def imap_port(tmp_path: Path) -> Iterator[int]:
    """pymap's in-memory IMAP server on a free loopback port, one account, an empty INBOX."""
    port = free_port()
    pymap = Path(sys.executable).parent / "pymap"
    log = (tmp_path / "pymap.log").open("w")
    server = subprocess.Popen(
        [
            *(str(pymap), "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict"),
            *("--demo-user", ACCOUNT, "--demo-password", PASSWORD),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                imaplib.IMAP4("127.0.0.1", port, timeout=2).logout()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"pymap did not start: {(tmp_path / 'pymap.log').read_text()}")
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def imap(port: int) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    client.login(ACCOUNT, PASSWORD)
    return client


def put(port: int, *names: str, folder: str = "INBOX") -> None:
    """Deliver sample messages into the mailbox, as the mail server would, unseen."""
    client = imap(port)
    for name in names:
        client.append(folder, None, None, (SAMPLES / name).read_bytes())
    client.logout()


def mailbox_state(port: int, folder: str = "INBOX") -> dict[str, set[str]]:
    """Each message in the folder by its own Message-ID, with its flags."""
    client = imap(port)
    client.select(folder, readonly=True)
    found: dict[str, set[str]] = {}
    _status, data = client.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    for item in data:
        if isinstance(item, tuple):
            flags = set(re.findall(rb"\\(\w+)", item[0].split(b"BODY")[0]))
            message_id = re.search(rb"<[^>]+>", item[1])
            assert message_id is not None
            found[message_id.group(0).decode()] = {f.decode() for f in flags}
    client.logout()
    return found


def bounce_context(tmp_path: Path, port: int, **environ: str) -> Context:
    mailbox = {
        "VCS_BOUNCES_HOST": "127.0.0.1",
        "VCS_BOUNCES_PORT": str(port),
        "VCS_BOUNCES_TLS": "none",
        "VCS_BOUNCES_ACCOUNT": ACCOUNT,
        "VCS_BOUNCES_PASSWORD": PASSWORD,
        "VCS_BOUNCES_FOLDER": "INBOX",
    }
    context = mail_context(tmp_path, **(mailbox | environ))
    context.clock = FixedClock(DEC_1)
    return context


def sent_digest(context: Context, members: list[int], **values: Any) -> list[int]:
    """Delivery n of digest 12, sent yesterday to member n, with Message-ID MESSAGE_ID(n+1)."""
    with context.database.session() as db:
        rows = []
        for n, member_id in enumerate(members):
            member = db.get_one(Member, member_id)
            fields: dict[str, Any] = {
                "kind": "digest",
                "ref": "digest:12",
                "member_id": member_id,
                "to_address": member.email,
                "status": "sent",
                "message_id": MESSAGE_ID.format(n=n + 1),
                "sent_at": SENT,
                "created_at": SENT,
            }
            row = Delivery(**(fields | values))
            db.add(row)
            rows.append(row)
        db.flush()
        return [row.id for row in rows]


def fetch(context: Context) -> bounces.IntakeReport:
    with open_mailbox(context.settings.bounces) as mailbox:
        return bounces.fetch(context, mailbox)


def member(context: Context, member_id: int) -> Member:
    with context.database.session() as db:
        found = db.get_one(Member, member_id)
        db.expunge(found)
        return found


def delivery(context: Context, delivery_id: int) -> Delivery:
    with context.database.session() as db:
        found = db.get_one(Delivery, delivery_id)
        db.expunge(found)
        return found


# -- each sample matched and counted -------------------------------------------------------------


@pytest.mark.parametrize(("sample", "n"), sorted(HARD_SAMPLES.items()))
def test_each_servers_report_is_matched_to_its_delivery_and_counted_as_hard(
    tmp_path: Path, imap_port: int, sample: str, n: int
) -> None:
    context = bounce_context(tmp_path, imap_port)
    members = add_members(context, 6)
    deliveries = sent_digest(context, members)
    put(imap_port, sample)

    report = fetch(context)

    assert (report.hard, report.unmatched, report.other) == (1, 0, 0)
    bounced = delivery(context, deliveries[n])
    assert bounced.bounce == "hard"
    assert bounced.status == "failed-permanent"
    assert bounced.last_error.startswith("bounced later: 5.1.1")
    assert member(context, members[n]).bounce_count == 1
    others = [member(context, m).bounce_count for i, m in enumerate(members) if i != n]
    assert others == [0] * 5
    with context.database.session() as db:
        recorded = db.scalars(select(BounceReport)).one()
        assert (recorded.kind, recorded.delivery_id, recorded.member_id) == (
            "hard",
            deliveries[n],
            members[n],
        )
        assert recorded.recipient == f"biedrs{n}@example.lv"
    context.close()


def test_a_read_report_is_marked_seen_and_never_counted_twice(
    tmp_path: Path, imap_port: int
) -> None:
    context = bounce_context(tmp_path, imap_port)
    members = add_members(context, 1)
    sent_digest(context, members)
    put(imap_port, "postfix-user-unknown.eml")

    fetch(context)
    # Someone marks it unread again in a mail client: it is known, and counts no more.
    client = imap(imap_port)
    client.select("INBOX")
    client.store("1", "-FLAGS", "(\\Seen)")
    client.logout()
    again = fetch(context)

    assert mailbox_state(imap_port) == {"<4Qx1Zr0bKcz9sVP.1764486907@mail.tikls.example.lv>": set()}
    assert again.known == 1
    assert member(context, members[0]).bounce_count == 1
    context.close()


def test_messages_that_are_not_reports_are_left_exactly_as_they_were(
    tmp_path: Path, imap_port: int
) -> None:
    context = bounce_context(tmp_path, imap_port, VCS_BOUNCES_DONE_FOLDER="Processed")
    members = add_members(context, 9)
    sent_digest(context, members)
    put(imap_port, "member-reply.eml", "postfix-user-unknown.eml", "out-of-office.eml")
    put(imap_port, "postfix-delayed.eml")

    report = fetch(context)

    assert (report.hard, report.other) == (1, 3)
    # The report moved to the done folder, seen; the reply, auto-reply and delay warning untouched.
    assert mailbox_state(imap_port) == {
        "<reply-1764491400@example.lv>": set(),
        "<ooo-1764486960@example.lv>": set(),
        "<4R0aBc1DeFz9sXy.1764501311@mail.tikls.example.lv>": set(),
    }
    assert mailbox_state(imap_port, "Processed") == {
        "<4Qx1Zr0bKcz9sVP.1764486907@mail.tikls.example.lv>": {"Seen"}
    }
    assert [member(context, m).bounce_count for m in members] == [1] + [0] * 8
    again = fetch(context)
    assert (again.known, again.other) == (3, 0)
    context.close()


# -- counting towards bounce_limit ---------------------------------------------------------------


def test_hard_bounces_of_successive_mailings_reach_bounce_limit_though_the_relay_took_each(
    tmp_path: Path, imap_port: int
) -> None:
    context = bounce_context(tmp_path, imap_port, VCS_MAIL_BOUNCE_LIMIT="2")
    members = add_members(context, 1)
    first = sent_digest(context, members)
    fetch_after = []
    put(imap_port, "postfix-user-unknown.eml")
    fetch_after.append(fetch(context))
    # The next mailing: the relay takes it, which clears the count the outbox keeps ...
    with context.database.session() as db:
        db.add(
            Delivery(
                kind="announcement",
                ref="session:7:rev0",
                member_id=members[0],
                to_address="biedrs0@example.lv",
                status="sent",
                message_id="<second@tikls.example.lv>",
                sent_at=SENT + dt.timedelta(hours=2),
            )
        )
        db.get_one(Member, members[0]).bounce_count = 0
    # ... and bounces later too.
    sample = (SAMPLES / "postfix-user-unknown.eml").read_bytes()
    second = sample.replace(b"<176448690001.1001.digest@", b"<second@").replace(
        b"4Qx1Zr0bKcz9sVP.1764486907@", b"second-report@"
    )
    client = imap(imap_port)
    client.append("INBOX", None, None, second)
    client.logout()

    fetch_after.append(fetch(context))

    gone = member(context, members[0])
    assert (gone.status, gone.bounce_count, gone.bounced_at) == ("bounced", 2, DEC_1)
    assert fetch_after[1].bounced_members == 1
    assert delivery(context, first[0]).bounce == "hard"
    with context.database.session() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "bounce")).one()
        assert entry.actor == "bounces"
        assert entry.after is not None and entry.after["answer"].startswith("5.1.1")
    context.close()


def test_soft_bounces_count_one_in_soft_per_hard(tmp_path: Path, imap_port: int) -> None:
    context = bounce_context(tmp_path, imap_port, VCS_BOUNCES_SOFT_PER_HARD="2")
    members = add_members(context, 5)
    deliveries = sent_digest(context, members)
    put(imap_port, "postfix-mailbox-full.eml")

    report = fetch(context)

    assert report.soft == 1
    assert delivery(context, deliveries[4]).bounce == "soft"
    # A soft bounce leaves the delivery as sent: the mailbox may have room tomorrow.
    assert delivery(context, deliveries[4]).status == "sent"
    assert member(context, members[4]).bounce_count == 0
    with context.database.session() as db:
        db.add(
            Delivery(
                kind="announcement",
                ref="session:7:rev0",
                member_id=members[4],
                to_address="biedrs4@example.lv",
                status="sent",
                message_id="<full-again@tikls.example.lv>",
                sent_at=SENT + dt.timedelta(hours=1),
            )
        )
    sample = (SAMPLES / "postfix-mailbox-full.eml").read_bytes()
    client = imap(imap_port)
    client.append(
        "INBOX",
        None,
        None,
        sample.replace(b"<176448690005.1005.digest@", b"<full-again@").replace(
            b"4R2kLm5YtQz9sWx.1764918911@", b"full-again-report@"
        ),
    )
    client.logout()

    fetch(context)

    assert member(context, members[4]).bounce_count == 1
    context.close()


# -- complaints, VERP, strangers -----------------------------------------------------------------


def test_an_arf_complaint_unsubscribes_the_member_and_cancels_what_was_queued(
    tmp_path: Path, imap_port: int
) -> None:
    context = bounce_context(tmp_path, imap_port)
    members = add_members(context, 6)
    sent_digest(context, members)
    with context.database.session() as db:
        db.add(
            Delivery(
                kind="announcement",
                ref="session:9:rev0",
                member_id=members[5],
                to_address="biedrs5@example.lv",
                status="queued",
            )
        )
    put(imap_port, "arf-complaint.eml")

    report = fetch(context)

    assert (report.complaints, report.unsubscribed) == (1, 1)
    assert member(context, members[5]).status == "unsubscribed"
    assert [member(context, m).status for m in members[:5]] == ["active"] * 5
    with context.database.session() as db:
        queued = db.scalars(select(Delivery).where(Delivery.ref == "session:9:rev0")).one()
        assert queued.status == "cancelled"
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "complaint")).one()
        assert (entry.actor, entry.entity_id) == ("bounces", str(members[5]))
    context.close()


def test_a_report_that_quotes_nothing_is_matched_by_its_verp_address(
    tmp_path: Path, imap_port: int
) -> None:
    context = bounce_context(tmp_path, imap_port, VCS_BOUNCES_VERP="true")
    members = add_members(context, 1)
    [delivery_id] = sent_digest(context, members, message_id="<not-quoted@tikls.example.lv>")
    verp = bounces.return_path(context.settings, delivery_id)
    assert re.fullmatch(rf"tikls\+{delivery_id}-[0-9a-f]{{10}}@example\.lv", verp)
    sample = (SAMPLES / "postfix-user-unknown.eml").read_text()
    # What a relay sends back to the return path; its copy of the headers cut off.
    sample = sample.replace("To: tikls@example.lv", f"To: {verp}")
    sample = sample.replace("Delivered-To: tikls@example.lv", f"Delivered-To: {verp}")
    sample = re.sub(r"(?s)Content-Description: Undelivered Message Headers.*?\n--", "\n--", sample)
    client = imap(imap_port)
    client.append("INBOX", None, None, sample.encode())
    client.logout()

    report = fetch(context)

    assert report.hard == 1
    assert delivery(context, delivery_id).bounce == "hard"
    context.close()


def test_a_forged_verp_address_matches_nothing(tmp_path: Path, imap_port: int) -> None:
    context = bounce_context(tmp_path, imap_port)
    members = add_members(context, 1)
    [delivery_id] = sent_digest(context, members, message_id="<not-quoted@tikls.example.lv>")

    assert (
        bounces.verp_delivery(context.settings, f"tikls+{delivery_id}-0123456789@example.lv")
        is None
    )
    assert (
        bounces.verp_delivery(context.settings, bounces.verp_address(context.settings, delivery_id))
        == delivery_id
    )
    context.close()


def test_a_report_on_mail_we_never_sent_is_recorded_and_counts_for_nobody(
    tmp_path: Path, imap_port: int
) -> None:
    context = bounce_context(tmp_path, imap_port)
    members = add_members(context, 1)
    put(imap_port, "postfix-user-unknown.eml")

    report = fetch(context)

    assert report.unmatched == 1
    assert member(context, members[0]).bounce_count == 0
    with context.database.session() as db:
        assert db.scalars(select(BounceReport.kind)).all() == ["unmatched"]
    context.close()


# -- the mailbox and the command -----------------------------------------------------------------


def test_a_wrong_password_is_one_clear_line(tmp_path: Path, imap_port: int) -> None:
    context = bounce_context(tmp_path, imap_port, VCS_BOUNCES_PASSWORD="wrong")

    with pytest.raises(MailboxError, match="refused the login of 'bounces'"):
        fetch(context)
    context.close()


def test_vcs_bounces_fetch_reads_the_mailbox_and_says_what_it_found(
    tmp_path: Path, imap_port: int
) -> None:
    context = bounce_context(tmp_path, imap_port)
    members = add_members(context, 4)
    sent_digest(context, members)
    context.close()
    put(imap_port, *HARD_SAMPLES, "member-reply.eml")
    environ = {
        "PATH": "/usr/bin:/bin",
        **isolated_environ(
            tmp_path,
            VCS_BOUNCES_HOST="127.0.0.1",
            VCS_BOUNCES_PORT=str(imap_port),
            VCS_BOUNCES_TLS="none",
            VCS_BOUNCES_ACCOUNT=ACCOUNT,
            VCS_BOUNCES_PASSWORD=PASSWORD,
        ),
    }

    done = subprocess.run(
        [sys.executable, "-m", "vcs", "bounces", "fetch"],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "4 hard bounces, 1 other messages left alone"


def test_vcs_bounces_fetch_without_a_mailbox_says_which_setting(tmp_path: Path) -> None:
    environ = {"PATH": "/usr/bin:/bin", **isolated_environ(tmp_path)}
    subprocess.run(
        [sys.executable, "-m", "vcs", "init"], env=environ, check=True, capture_output=True
    )

    done = subprocess.run(
        [sys.executable, "-m", "vcs", "bounces", "fetch"],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 1
    assert (
        done.stderr.strip() == "vcs: no bounce mailbox is set (bounces.host); see docs/bounces.md"
    )


# -- VERP on the way out -------------------------------------------------------------------------


class EnvelopeSink(Sink):
    """The SMTP server's sink, keeping each message's envelope sender too."""

    def __init__(self) -> None:
        super().__init__()
        self.senders: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.senders.append(envelope.mail_from)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("verp", [True, False])
def test_each_message_leaves_with_its_own_signed_return_path_when_verp_is_on(
    tmp_path: Path, verp: bool
) -> None:
    with smtp_server(EnvelopeSink()) as (sink, port):
        context = mail_context(
            tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}", VCS_BOUNCES_VERP=str(verp).lower()
        )
        members = add_members(context, 2)
        with context.database.session() as db:
            outbox.enqueue_for_members(
                db,
                context.settings,
                kind="digest",
                ref="digest:1",
                members=[db.get_one(Member, m) for m in members],
                compose=greeting,
                now=context.clock.now(),
            )

        Sender(context).run()

        with context.database.session() as db:
            ids = db.scalars(select(Delivery.id).order_by(Delivery.to_address)).all()
        assert isinstance(sink, EnvelopeSink)
        if verp:
            assert sorted(sink.senders) == sorted(
                bounces.verp_address(context.settings, i) for i in ids
            )
            assert all(bounces.verp_delivery(context.settings, s) in ids for s in sink.senders)
        else:
            assert sink.senders == ["tikls@example.lv", "tikls@example.lv"]
        context.close()
