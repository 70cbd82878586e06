"""Where messages go: a folder of .eml files or an SMTP relay, behind one small interface.

A transport raises `TemporaryError` when trying again later may work (a 4xx answer, a dropped
connection, a timeout), `PermanentError` when the relay refused this recipient or this message
for good (a 5xx answer to RCPT or DATA), and `RelayUnavailable` (a temporary error) when the relay
refuses us whatever the message: a wrong password, a refused sender, a TLS failure.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import smtplib
import socket
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from vcs.config import Settings, mail_folder

# A connection idle this long is checked with NOOP before it carries a message, so a relay that
# closed it meanwhile costs a reconnect, not a failed attempt.
IDLE_CHECK_SECONDS = 20.0


class DeliveryError(Exception):
    """A message was not delivered; `permanent` says whether trying again can help."""

    permanent = False

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TemporaryError(DeliveryError):
    """Try again later: a 4xx answer, a dropped connection, a timeout."""


class RelayUnavailable(TemporaryError):
    """The relay refuses us, not the recipient (authentication, sender, TLS): stop sending."""


class PermanentError(DeliveryError):
    """The relay refused this recipient or this message for good (5xx)."""

    permanent = True


@dataclass(frozen=True)
class Envelope:
    """A rendered message and whom it goes to (the SMTP envelope)."""

    sender: str
    recipient: str
    data: bytes
    message_id: str = ""


# Called by a transport right before the step that delivers the message (SMTP's final "."):
# the sender waits there until the message before it is recorded as sent.
Ready = Callable[[], object]


def _now_ready() -> None:
    return None


class Transport(Protocol):
    def send(self, envelope: Envelope, ready: Ready = _now_ready) -> None:
        """Deliver one message or raise a DeliveryError; call `ready()` just before delivering."""
        ...

    def close(self) -> None:
        """Let go of connections; the transport may be used again afterwards."""
        ...


class FileTransport:
    """One .eml file per message in a folder: the embedded default, which sends nowhere."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, envelope: Envelope, ready: Ready = _now_ready) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = _file_name(envelope)
            # Written beside its final name, then renamed: a reader never sees half a message,
            # and a message sent again after a crash replaces its own file.
            fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(envelope.data)
                ready()
                os.replace(tmp, self.folder / name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise RelayUnavailable(f"cannot write to {self.folder}: {exc}") from exc

    def close(self) -> None:
        pass


def _file_name(envelope: Envelope) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", envelope.message_id.strip("<>"))
    if not stem:
        stem = f"{time.time_ns()}"
    return f"{stem}.eml"


class SMTPTransport:
    """One SMTP connection, opened on first use: STARTTLS when offered, or SSL (smtps)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        implicit_tls: bool = False,
        username: str = "",
        password: str = "",
        timeout: float = 30,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.implicit_tls = implicit_tls
        self.username = username
        self.password = password
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None
        self._last_used = 0.0

    def send(self, envelope: Envelope, ready: Ready = _now_ready) -> None:
        try:
            smtp = self._connection()
            _sendmail(smtp, envelope, ready)
            self._last_used = time.monotonic()
        except smtplib.SMTPRecipientsRefused as exc:
            code, answer = next(iter(exc.recipients.values()))
            raise self._refused(code, answer, "recipient refused") from exc
        except smtplib.SMTPSenderRefused as exc:
            self._drop()
            if exc.smtp_code >= 500:
                raise RelayUnavailable(
                    f"sender refused: {_answer(exc.smtp_code, exc.smtp_error)}", exc.smtp_code
                ) from exc
            raise TemporaryError(_answer(exc.smtp_code, exc.smtp_error), exc.smtp_code) from exc
        except smtplib.SMTPDataError as exc:
            raise self._refused(exc.smtp_code, exc.smtp_error, "message refused") from exc
        except DeliveryError:
            self._drop()
            raise
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            raise TemporaryError(f"connection dropped: {exc or 'no reason given'}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Timeouts, refused connections, resets and protocol surprises: try again later.
            self._drop()
            raise TemporaryError(f"{type(exc).__name__}: {exc}") from exc

    def _refused(self, code: int, answer: bytes | str, what: str) -> DeliveryError:
        if code == 421 or code < 400:
            self._drop()  # 421: the relay is closing the connection
        if code >= 500:
            return PermanentError(f"{what}: {_answer(code, answer)}", code)
        return TemporaryError(f"{what}: {_answer(code, answer)}", code)

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None and time.monotonic() - self._last_used > IDLE_CHECK_SECONDS:
            try:
                if self._smtp.noop()[0] != 250:
                    self._drop()
            except (smtplib.SMTPException, OSError):
                self._drop()
        if self._smtp is None:
            self._smtp = self._connect()
            self._last_used = time.monotonic()
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        try:
            if self.implicit_tls:
                smtp = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=self.ssl_context,
                )
            else:
                smtp = smtplib.SMTP(
                    self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
                )
        except smtplib.SMTPConnectError as exc:
            raise _connect_refused(exc.smtp_code, exc.smtp_error) from exc
        except ssl.SSLError as exc:
            raise RelayUnavailable(f"TLS with {self.host}:{self.port} failed: {exc}") from exc
        # A message's body and its final "." leave in two writes (see _sendmail); without this,
        # Nagle's algorithm holds the "." back until the body's last packet is acknowledged.
        if smtp.sock is not None:
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            smtp.ehlo()
            if not self.implicit_tls and smtp.has_extn("starttls"):
                smtp.starttls(context=self.ssl_context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password)
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise RelayUnavailable(
                f"login as {self.username} refused: {_answer(exc.smtp_code, exc.smtp_error)}",
                exc.smtp_code,
            ) from exc
        except (smtplib.SMTPNotSupportedError, ssl.SSLError, smtplib.SMTPHeloError) as exc:
            smtp.close()
            raise RelayUnavailable(f"{self.host}:{self.port}: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            smtp.close()
            raise _connect_refused(exc.smtp_code, exc.smtp_error) from exc
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._drop()


def _connect_refused(code: int, answer: bytes | str) -> TemporaryError:
    if code >= 500:
        return RelayUnavailable(f"relay refused the connection: {_answer(code, answer)}", code)
    return TemporaryError(f"relay busy: {_answer(code, answer)}", code)


def _answer(code: int, answer: bytes | str) -> str:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    return f"{code} {' '.join(text.split())}"


def open_transport(
    settings: Settings, ssl_context: ssl.SSLContext | None = None
) -> FileTransport | SMTPTransport:
    """The transport `mail.url` names: file://folder, smtp://user:pass@host:port or smtps://."""
    url = urlsplit(settings.mail.url)
    if url.scheme == "file":
        return FileTransport(mail_folder(settings))
    implicit = url.scheme == "smtps"
    return SMTPTransport(
        url.hostname or "localhost",
        url.port or (465 if implicit else 25),
        implicit_tls=implicit,
        username=unquote(url.username or ""),
        password=unquote(url.password or ""),
        timeout=settings.mail.timeout_seconds,
        ssl_context=ssl_context,
        local_hostname=_ehlo_name(settings.host),
    )


def _ehlo_name(host: str) -> str:
    """The EHLO name: base_url's host, an IP address as an address literal ([127.0.0.1])."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return f"[{host}]"


def _sendmail(smtp: smtplib.SMTP, envelope: Envelope, ready: Ready) -> None:
    """smtplib's sendmail for one recipient, with `ready()` before the final "." of DATA.

    Everything up to that point (MAIL, RCPT, DATA and the message itself) can overlap the
    recording of the previous message; a sender killed before the "." delivers nothing, because
    a relay discards a message whose DATA was never ended. The exceptions are sendmail's own.
    """
    smtp.ehlo_or_helo_if_needed()
    code, answer = smtp.mail(envelope.sender)
    if code != 250:
        _give_up(smtp, code)
        raise smtplib.SMTPSenderRefused(code, answer, envelope.sender)
    code, answer = smtp.rcpt(envelope.recipient)
    if code not in (250, 251):
        _give_up(smtp, code)
        raise smtplib.SMTPRecipientsRefused({envelope.recipient: (code, answer)})
    code, answer = smtp.docmd("data")
    if code != 354:
        _give_up(smtp, code)
        raise smtplib.SMTPDataError(code, answer)
    # RFC 5321 4.5.2: a line starting with "." gets another one.
    body = re.sub(rb"(?m)^\.", b"..", envelope.data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    smtp.send(body)
    ready()
    smtp.send(b".\r\n")
    code, answer = smtp.getreply()
    if code != 250:
        _give_up(smtp, code)
        raise smtplib.SMTPDataError(code, answer)


def _give_up(smtp: smtplib.SMTP, code: int) -> None:
    """What sendmail does after a refusal: close on 421, else reset for the next message."""
    if code == 421:
        smtp.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()
