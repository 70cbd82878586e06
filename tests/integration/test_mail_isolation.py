"""One recipient whose message cannot be made stops nobody else's mail.

A member's name with a line break, put straight into the database (past the doors that clean
text, vcs/text.py), cannot go into a To header. `vcs digest send` and the announce job queue
everyone else, record that member's delivery as failed with the reason, and `vcs outbox status`
lists it; once the name is fixed, sending the same mailing again reaches that member too. The
others' messages arrive at a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from tests.conftest import isolated_environ
from tests.factories import import_entries, national
from tests.mail_factories import Sink, mail_context, smtp_server
from vcs.cli import cli
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.mail import outbox
from vcs.mail.sender import Sender
from vcs.membership.members import MemberSpec, create_member
from vcs.scheduler.jobs import registry
from vcs.scheduler.runs import run_job
from vcs.storage.models import Delivery, Member

# A spreadsheet cell typed with Alt+Enter; and a terminal colour code, which the stdlib would
# let through into the header bytes.
BROKEN_NAMES = ["Anna\nOzola", "Anna \x1b[31mOzola"]
BROKEN = "anna.ozola@example.lv"
OTHERS = ["janis.kalnins@example.lv", "liga.berzina@example.lv"]
# Six days and 20 hours before the national videoconference of Thursday 10 December, 10.00 Riga.
WEEK_BEFORE_NATIONAL = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


@contextmanager
def network(
    tmp_path: Path, database_url: str, name: str
) -> Iterator[tuple[Context, Sink, dict[str, str]]]:
    """The national series, three active members (one with `name` put into the database as it
    is), mail to aiosmtpd; the environment the `vcs` command needs for the same installation."""
    with smtp_server() as (sink, port):
        environ = isolated_environ(
            tmp_path,
            VCS_DATABASE_URL=database_url,
            VCS_MAIL_URL=f"smtp://127.0.0.1:{port}",
            VCS_BASE_URL="https://tikls.example.lv",
            VCS_MAIL_FROM_ADDRESS="tikls@example.lv",
        )
        context = mail_context(tmp_path, **environ)
        try:
            import_entries(context, tmp_path, national())
            with context.database.session() as db:
                for email in [BROKEN, *OTHERS]:
                    spec = MemberSpec(email=email, name="Vārds Uzvārds", status="active")
                    create_member(db, spec, actor="test")
                db.execute(update(Member).where(Member.email == BROKEN).values(name=name))
            yield context, sink, environ
        finally:
            context.close()


def delivery_to(context: Context, address: str, kind: str) -> Delivery:
    with context.database.session() as db:
        return db.scalars(
            select(Delivery).where(Delivery.to_address == address, Delivery.kind == kind)
        ).one()


def fix_the_name(context: Context) -> None:
    with context.database.session() as db:
        db.execute(update(Member).where(Member.email == BROKEN).values(name="Anna Ozola"))


def arrived(sink: Sink) -> list[str]:
    return sorted(address for recipients, _data in sink.messages for address in recipients)


@pytest.mark.parametrize("name", BROKEN_NAMES, ids=["line-break", "escape"])
def test_vcs_digest_send_queues_everyone_else_and_records_the_member_it_cannot_write_to(
    tmp_path: Path, any_database_url: str, name: str
) -> None:
    with network(tmp_path, any_database_url, name) as (context, sink, environ):
        runner = CliRunner()
        drafted = runner.invoke(cli, ["digest", "draft"], env=environ)
        digest_id = drafted.output.split()[1].rstrip(":")

        sent = runner.invoke(cli, ["digest", "send", digest_id], env=environ)

        assert sent.exit_code == 0, sent.output
        assert "2 new recipients queued, 1 failed (see vcs outbox status)" in sent.output
        assert arrived(sink) == OTHERS
        failed = delivery_to(context, BROKEN, "digest")
        assert failed.status == outbox.FAILED_PERMANENT
        assert "the recipient's name has a line break or a control character" in failed.last_error
        status = runner.invoke(cli, ["outbox", "status"], env=environ)
        [line] = [line for line in status.output.splitlines() if BROKEN in line]
        assert "failed-permanent" in line and "the recipient's name has a line break" in line

        # `vcs outbox retry` has no message to send for it; the sender goes on as before.
        assert runner.invoke(cli, ["outbox", "retry"], env=environ).exit_code == 0
        assert runner.invoke(cli, ["outbox", "send"], env=environ).exit_code == 0
        assert delivery_to(context, BROKEN, "digest").status == outbox.FAILED_PERMANENT

        fix_the_name(context)
        again = runner.invoke(cli, ["digest", "send", digest_id], env=environ)
        assert "digest 1: 1 new recipients queued\n" in again.output
        assert arrived(sink) == sorted([BROKEN, *OTHERS])
        assert delivery_to(context, BROKEN, "digest").status == outbox.SENT


@pytest.mark.parametrize("name", BROKEN_NAMES, ids=["line-break", "escape"])
def test_the_announce_job_queues_everyone_else_and_records_the_member_it_cannot_write_to(
    tmp_path: Path, any_database_url: str, name: str
) -> None:
    with network(tmp_path, any_database_url, name) as (context, sink, _environ):
        context.clock = FixedClock(WEEK_BEFORE_NATIONAL)

        run = run_job(context, registry.get("announce"), trigger="test")

        assert run.outcome == "ok", run.error
        assert run.summary == (
            "1 sessions announced, 0 changes notified, 2 messages queued, "
            "1 failed (see vcs outbox status)"
        )
        Sender(context).run()
        assert arrived(sink) == OTHERS
        failed = delivery_to(context, BROKEN, "announcement")
        assert failed.status == outbox.FAILED_PERMANENT
        assert "the recipient's name has a line break or a control character" in failed.last_error

        # The next run, an hour later, makes the message again: with the name fixed, it goes.
        fix_the_name(context)
        context.clock = FixedClock(WEEK_BEFORE_NATIONAL + dt.timedelta(hours=1))
        again = run_job(context, registry.get("announce"), trigger="test")
        assert again.summary == "0 sessions announced, 0 changes notified, 1 messages queued"
        Sender(context).run()
        assert arrived(sink) == sorted([BROKEN, *OTHERS])
