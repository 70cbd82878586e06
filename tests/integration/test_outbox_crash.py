"""A sender killed with SIGKILL half-way through 1,000 recipients, then started again: every
recipient gets exactly one copy, apart from at most the messages in flight at the kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import isolated_environ
from tests.mail_factories import add_members, greeting, mail_context, smtp_server
from vcs.mail import outbox
from vcs.mail.sender import Sender
from vcs.paths import PROJECT_DIR
from vcs.storage.models import Member

RECIPIENTS = 1000
CONCURRENCY = 4


def test_a_sigkilled_sender_restarted_duplicates_at_most_the_messages_in_flight(
    tmp_path: Path,
) -> None:
    with smtp_server() as (sink, port):
        environ = {
            "VCS_BASE_URL": "https://tikls.example.lv",
            "VCS_MAIL_URL": f"smtp://127.0.0.1:{port}",
            "VCS_MAIL_CONCURRENCY": str(CONCURRENCY),
            # Slow enough that the kill lands in the middle.
            "VCS_MAIL_RATE_PER_SECOND": "400",
        }
        context = mail_context(tmp_path, **environ)
        ids = add_members(context, RECIPIENTS)
        with context.database.session() as db:
            outbox.enqueue_for_members(
                db, context.settings, kind="digest", ref="digest:7",
                members=[db.get(Member, i) for i in ids], compose=greeting,
                now=context.clock.now(),
            )  # fmt: skip

        sender = subprocess.Popen(
            [sys.executable, "-m", "vcs", "outbox", "send"],
            env={**os.environ, **isolated_environ(tmp_path, **environ)},
            cwd=PROJECT_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while len(sink.messages) < RECIPIENTS // 2:
            assert sender.poll() is None, sender.stderr.read() if sender.stderr else ""
            assert time.monotonic() < deadline, "the sender sent too little in a minute"
            time.sleep(0.005)
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait()
        at_kill = len(sink.messages)
        assert at_kill < RECIPIENTS, "the kill came too late to test anything"

        with context.database.session() as db:
            in_flight = outbox.outbox_status(db).total(outbox.SENDING)
        assert in_flight > 0  # the kill left deliveries in `sending`

        report = Sender(context).run()
        assert report.recovered == in_flight

    copies = sink.copies
    everyone = {f"biedrs{n}@example.lv" for n in range(RECIPIENTS)}
    assert set(copies) == everyone
    duplicated = sum(n - 1 for n in copies.values())
    assert duplicated <= CONCURRENCY
    assert max(copies.values()) <= 2
    with context.database.session() as db:
        status = outbox.outbox_status(db)
    assert status.counts == {("digest", "sent"): RECIPIENTS}
    context.close()
