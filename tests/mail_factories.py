"""Small factories for mail tests: an installation with a fixed clock, members, a message to
compose, and a real SMTP server (aiosmtpd) on a free loopback port that records what arrives."""

from __future__ import annotations

import collections
import datetime as dt
import secrets
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port, make_settings
from vcs.bootstrap import initialise
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.mail.compose import Content
from vcs.mail.message import Attachment
from vcs.mail.outbox import Recipient
from vcs.storage.models import Member

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//vcs//test//LV\r\nMETHOD:PUBLISH\r\n"
    b"BEGIN:VEVENT\r\nUID:abc@vcs.example.lv\r\nDTSTAMP:20261123T120000Z\r\n"
    b"DTSTART:20261210T080000Z\r\nSUMMARY:Videokonference\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def mail_context(tmp_path: Path, database_url: str | None = None, **environ: str) -> Context:
    """A migrated installation on a temporary database, with a FixedClock at NOW."""
    if database_url:
        environ.setdefault("VCS_DATABASE_URL", database_url)
    environ.setdefault("VCS_BASE_URL", "https://tikls.example.lv")
    environ.setdefault("VCS_MAIL_FROM_ADDRESS", "tikls@example.lv")
    context = Context.from_settings(make_settings(tmp_path, **environ), clock=FixedClock(NOW))
    initialise(context)
    return context


def add_members(context: Context, count: int, language: str = "lv", **fields: Any) -> list[int]:
    """`count` active members named Ērika Ūdre 0, 1, ...; returns their ids."""
    with context.database.session() as db:
        members = [
            Member(
                email=f"biedrs{n}@example.lv",
                name=f"Ērika Ūdre {n}",
                language=language,
                status="active",
                feed_token=secrets.token_urlsafe(16),
                **fields,
            )
            for n in range(count)
        ]
        db.add_all(members)
        db.flush()
        return [m.id for m in members]


def greeting(recipient: Recipient) -> Content:
    """A short announcement with Latvian text and an .ics attachment."""
    return Content(
        subject="Videokonference ceturtdien: jaunatnes darbs Ādažu novadā",
        text=f"Labdien, {recipient.name}!\n\nGaidām jūs videokonferencē.",
        html=f"<h1>Labdien, {recipient.name}!</h1><p>Gaidām jūs <a href='https://tikls.example.lv/sessions/1'>videokonferencē</a>.</p>",
        attachments=(Attachment.calendar(ICS),),
    )


def parse(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


class Sink:
    """An aiosmtpd handler that records each accepted message, and can be told to refuse some.

    `script` maps a recipient to the answers the server gives it, one per attempt, at "RCPT" or
    "DATA" (e.g. [("RCPT", "451 4.3.0 try later")]); "DROP" at DATA closes the connection.
    """

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.copies: collections.Counter[str] = collections.Counter()
        self.script: dict[str, list[tuple[str, str]]] = {}
        self.lock = threading.Lock()

    def _scripted(self, stage: str, address: str) -> str | None:
        with self.lock:
            steps = self.script.get(address)
            if steps and steps[0][0] == stage:
                return steps.pop(0)[1]
        return None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        answer = self._scripted("RCPT", address)
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = self._scripted("DATA", envelope.rcpt_tos[0])
        if answer == "DROP":
            server.transport.abort()
            return "451 dropped"
        if answer:
            return answer
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
            self.copies.update(envelope.rcpt_tos)
        return "250 2.0.0 accepted"

    def received(self) -> list[EmailMessage]:
        with self.lock:
            return [parse(data) for _rcpt, data in self.messages]


@contextmanager
def smtp_server(sink: Sink | None = None, **smtp: Any) -> Iterator[tuple[Sink, int]]:
    """A real SMTP server on 127.0.0.1 and a free port, recording into `sink`."""
    sink = sink or Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, **smtp)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context that trusts it) for 127.0.0.1, made with openssl."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def password_check(user: str, password: str) -> Callable[..., AuthResult]:
    """An aiosmtpd authenticator that accepts one user."""

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == user.encode()
            and data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)

    return authenticate
