"""Single-runner locks are per installation: two installations in separate schemas of one
PostgreSQL database each run their own mail sender and scheduler."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.integration.test_outbox_states import CountingTransport, queue
from tests.mail_factories import mail_context
from vcs.config import database_url
from vcs.context import Context
from vcs.mail.sender import Sender
from vcs.mail.transport import Envelope, Ready

pytestmark = pytest.mark.postgres


class HeldTransport:
    """Sends nothing until `go` is set, so the sender using it keeps holding its lock."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.go = threading.Event()
        self.sent: list[str] = []

    def send(self, envelope: Envelope, ready: Ready = lambda: None) -> None:
        self.started.set()
        self.go.wait(30)
        ready()
        self.sent.append(envelope.recipient)

    def close(self) -> None:
        pass


@pytest.fixture
def two_schemas(postgres_admin_url: str) -> Iterator[tuple[str, str]]:
    """URLs of two installations in one database, each in a schema of its own."""
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    engine = create_engine(database_url(postgres_admin_url))
    with engine.begin() as connection:
        for schema in schemas:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    urls = [f"{postgres_admin_url}?options=-csearch_path%3D{schema}" for schema in schemas]
    yield urls[0], urls[1]
    with engine.begin() as connection:
        for schema in schemas:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def installations(tmp_path: Path, urls: tuple[str, str]) -> tuple[Context, Context]:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    return mail_context(first, urls[0]), mail_context(second, urls[1])


def test_the_senders_of_two_installations_in_one_database_do_not_block_each_other(
    tmp_path: Path, two_schemas: tuple[str, str]
) -> None:
    first, second = installations(tmp_path, two_schemas)
    try:
        queue(first, 2)
        queue(second, 3)
        held = HeldTransport()
        running = threading.Thread(target=Sender(first, lambda: held, concurrency=1).run)
        running.start()
        try:
            assert held.started.wait(30), "the first installation's sender never started"
            # The first sender holds its lock, mid-run; the other installation's is not its.
            transport = CountingTransport()
            report = Sender(second, lambda: transport, concurrency=1).run()
            assert not report.busy
            assert (report.sent, len(transport.sent)) == (3, 3)
            # Within one installation, a second sender still finds the first at work.
            assert Sender(first, CountingTransport, concurrency=1).run().busy
        finally:
            held.go.set()
            running.join(30)
        assert len(held.sent) == 2
    finally:
        first.close()
        second.close()


def test_the_scheduler_and_the_sender_of_one_installation_hold_locks_of_their_own(
    tmp_path: Path, two_schemas: tuple[str, str]
) -> None:
    from vcs.storage.locks import MAIL_SENDER, SCHEDULER, AdvisoryLock

    first, second = installations(tmp_path, two_schemas)
    engines = (first.database.engine, second.database.engine)
    held = [AdvisoryLock(engine, name) for engine in engines for name in (SCHEDULER, MAIL_SENDER)]
    try:
        assert all(lock.try_acquire() for lock in held)
        assert all(lock.still_held() for lock in held)
        assert not AdvisoryLock(first.database.engine, MAIL_SENDER).try_acquire()
        assert not AdvisoryLock(second.database.engine, SCHEDULER).try_acquire()
        held.pop().release()
        again = AdvisoryLock(second.database.engine, MAIL_SENDER)
        assert again.try_acquire()
        held.append(again)
    finally:
        for lock in held:
            lock.release()
        first.close()
        second.close()
