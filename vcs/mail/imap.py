"""The bounce mailbox over IMAP (RFC 3501): a few methods behind a small interface, like the SMTP
transport, so the intake (vcs/mail/bounces.py) never sees imaplib.

Messages are read with BODY.PEEK[] (which sets no \\Seen flag), so a message that is not a report
stays exactly as it was: not marked, moved or deleted.
"""

from __future__ import annotations

import imaplib
import re
import socket
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Protocol

from vcs.config import BounceSettings

_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")


class MailboxError(Exception):
    """The IMAP server could not be reached, refused the login or a command."""


class Mailbox(Protocol):
    """The folder bounces arrive in."""

    @property
    def key(self) -> str:
        """The folder and its UIDVALIDITY: UIDs mean the same messages only while it stays."""
        ...

    def unseen(self) -> list[int]:
        """UIDs of the messages not marked \\Seen, oldest first."""
        ...

    def fetch(self, uid: int) -> bytes:
        """The whole message, without marking it seen."""
        ...

    def done(self, uid: int) -> None:
        """A report was read: mark it seen (and move it, where the settings say)."""
        ...


class ImapMailbox:
    """Mailbox over imaplib, on one selected folder."""

    def __init__(self, client: imaplib.IMAP4, folder: str, done_folder: str = "") -> None:
        self.client = client
        self.folder = folder
        self.done_folder = done_folder
        self._created = False
        status, data = client.select(_quote(folder))
        if status != "OK":
            raise MailboxError(f"cannot open the folder {folder!r}: {_words(data)}")
        found = _UIDVALIDITY.search(b" ".join(_flat(client.response("UIDVALIDITY")[1])))
        validity = found.group(1).decode() if found else _validity_from_status(client, folder)
        self._key = f"{folder};{validity}"
        # What the server offers once logged in (imaplib keeps only what it said before).
        _status, said = client.capability()
        self.capabilities = set(b" ".join(_flat(said)).decode().upper().split())

    @property
    def key(self) -> str:
        return self._key

    def unseen(self) -> list[int]:
        data = self._ok(self.client.uid("SEARCH", "UNSEEN"), "SEARCH")
        return sorted(int(n) for n in b" ".join(_flat(data)).split())

    def fetch(self, uid: int) -> bytes:
        data = self._ok(self.client.uid("FETCH", str(uid), "(BODY.PEEK[])"), "FETCH")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        raise MailboxError(f"the server sent no message for UID {uid}")

    def done(self, uid: int) -> None:
        self._ok(self.client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)"), "STORE")
        if not self.done_folder:
            return
        if not self._created:
            # Fails harmlessly when the folder exists already.
            self.client.create(_quote(self.done_folder))
            self._created = True
        if "MOVE" in self.capabilities:  # RFC 6851: one atomic command
            self._ok(self.client.uid("MOVE", str(uid), _quote(self.done_folder)), "MOVE")
            return
        self._ok(self.client.uid("COPY", str(uid), _quote(self.done_folder)), "COPY")
        self._ok(self.client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
        # UID EXPUNGE (RFC 4315) removes only this message, never others someone marked deleted;
        # without it the copy left behind stays, marked seen and deleted, for the mail client.
        if "UIDPLUS" in self.capabilities:
            self._ok(self.client.uid("EXPUNGE", str(uid)), "EXPUNGE")

    def _ok(self, answer: tuple[str, Sequence[object]], command: str) -> Sequence[object]:
        status, data = answer
        if status != "OK":
            raise MailboxError(f"the IMAP server refused {command}: {_words(data)}")
        return data


@contextmanager
def open_mailbox(settings: BounceSettings) -> Iterator[ImapMailbox]:
    """Log in to the bounce mailbox the settings name and select its folder."""
    try:
        client = _connect(settings)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(
            f"cannot reach the IMAP server {settings.host}:{settings.port}: {exc}"
        ) from None
    try:
        try:
            client.login(settings.account, settings.password)
        except imaplib.IMAP4.error as exc:
            raise MailboxError(
                f"the IMAP server refused the login of {settings.account!r}: {_text(exc)}"
            ) from None
        try:
            yield ImapMailbox(client, settings.folder, settings.done_folder)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"the IMAP server failed: {_text(exc)}") from None
    finally:
        with suppress(OSError, imaplib.IMAP4.error):
            client.logout()


def _connect(settings: BounceSettings) -> imaplib.IMAP4:
    timeout = settings.timeout_seconds
    if settings.tls == "ssl":
        return imaplib.IMAP4_SSL(
            settings.host, settings.port, ssl_context=ssl.create_default_context(), timeout=timeout
        )
    client = imaplib.IMAP4(settings.host, settings.port, timeout=timeout)
    if settings.tls == "starttls":
        client.starttls(ssl.create_default_context())
    return client


def _validity_from_status(client: imaplib.IMAP4, folder: str) -> str:
    _status, data = client.status(_quote(folder), "(UIDVALIDITY)")
    found = _UIDVALIDITY.search(b" ".join(_flat(data)))
    return found.group(1).decode() if found else "0"


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _flat(data: Sequence[object]) -> list[bytes]:
    out: list[bytes] = []
    for item in data:
        if isinstance(item, bytes):
            out.append(item)
        elif isinstance(item, tuple):
            out.extend(part for part in item if isinstance(part, bytes))
    return out


def _words(data: Sequence[object]) -> str:
    return b" ".join(_flat(data)).decode("utf-8", "replace") or "no reason given"


def _text(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    return str(exc.args[0] if exc.args else exc).strip("b'\"")
