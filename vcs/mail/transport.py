"""Where messages go: a folder of .eml files or an SMTP relay, behind one small interface.

A transport raises one of four errors, by what the relay's answer is about (RFC 5321 reply
codes, RFC 3463 enhanced status codes):

- `PermanentError`: this recipient or this message, for good (5xx to RCPT or DATA);
- `TemporaryError`: try this message again later (4xx, a connection dropped mid-message);
- `RelayUnavailable`: the relay refuses *us*, whatever the recipient (relaying denied, a log-in
  required or refused, the sender refused, 5xx on connecting, TLS): stop sending; its `kind`
  says which, see vcs.mail.relay;
- `RelayUnreachable`: no answer at all (connection refused, closed at once, timed out): the
  sender counts these in a row and stops after mail.connect_tries.
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
from typing import IO, Protocol
from urllib.parse import unquote, urlsplit

from vcs.config import Settings, mail_folder
from vcs.mail import relay

# A connection idle this long is checked with NOOP before it carries a message, so a relay that
# closed it meanwhile costs a reconnect, not a failed attempt.
IDLE_CHECK_SECONDS = 20.0


class DeliveryError(Exception):
    """A message was not delivered; `permanent` says whether trying again can help."""

    permanent = False

    def __init__(self, message: str, code: int | None = None, answer: str = "") -> None:
        super().__init__(message)
        self.code = code
        # The relay's answer as it came ("550 5.1.1 <a@b.lv>: user unknown"), "" without one.
        self.answer = answer


class TemporaryError(DeliveryError):
    """Try again later: a 4xx answer, a connection dropped in the middle of a message."""


class RelayUnavailable(TemporaryError):
    """The relay refuses us, not the recipient: stop sending; `kind` is one of vcs.mail.relay's."""

    def __init__(
        self, message: str, code: int | None = None, *, kind: str, answer: str = ""
    ) -> None:
        super().__init__(message, code, answer or message)
        self.kind = kind


class RelayUnreachable(TemporaryError):
    """No answer from the relay: the connection was refused, closed at once or timed out."""


class PermanentError(DeliveryError):
    """The relay refused this recipient or this message for good (5xx)."""

    permanent = True

    def __init__(
        self, message: str, code: int | None = None, answer: str = "", mailbox: bool = False
    ) -> None:
        super().__init__(message, code, answer)
        # The answer names this mailbox (RFC 3463 X.1.x, "user unknown"): whatever the answers
        # to others, it is this recipient's own.
        self.mailbox = mailbox


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
                    self._write(fh, envelope.data)
                ready()
                os.replace(tmp, self.folder / name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            # A full disk or a folder we may not write is this machine's problem, not the
            # recipient's: stop sending, the message stays queued.
            answer = f"{self.folder}: {exc.strerror or exc}"
            raise RelayUnavailable(
                f"cannot write to {answer}", kind=relay.OUTBOX_FOLDER, answer=answer
            ) from exc

    def _write(self, fh: IO[bytes], data: bytes) -> None:
        fh.write(data)

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
        smtp = self._connection()
        try:
            _sendmail(smtp, envelope, ready)
            self._last_used = time.monotonic()
        except (RelayUnavailable, RelayUnreachable):
            self._drop()
            raise
        except DeliveryError as exc:
            if exc.code == 421:
                self._drop()  # 421: the relay is closing the connection
            raise
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            # smtplib reports a read that timed out as a disconnection.
            if isinstance(exc.__context__, TimeoutError):
                raise self._no_answer() from exc
            raise TemporaryError(f"connection dropped: {exc or 'no reason given'}") from exc
        except TimeoutError as exc:
            self._drop()
            raise self._no_answer() from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Resets and protocol surprises in the middle of a message: try it again later.
            self._drop()
            raise TemporaryError(f"{type(exc).__name__}: {exc}") from exc

    def _no_answer(self) -> RelayUnreachable:
        return RelayUnreachable(
            f"no answer from {self.host}:{self.port} within {self.timeout:g} s (timed out)"
        )

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
        """A connection that is greeted, TLS-protected when offered and logged in, or an error
        about the relay (RelayUnavailable, RelayUnreachable), never about a recipient."""
        where = f"{self.host}:{self.port}"
        smtp: smtplib.SMTP | None = None
        stage = "connect"
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
            # A message's body and its final "." leave in two writes (see _sendmail); without
            # this, Nagle's algorithm holds the "." back until the body's last packet is acked.
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            code, answer = smtp.ehlo()
            if code != 250:
                code, answer = smtp.helo()
                if code != 250:
                    raise smtplib.SMTPHeloError(code, answer)
            if not self.implicit_tls and smtp.has_extn("starttls"):
                stage = "tls"
                smtp.starttls(context=self.ssl_context)
                smtp.ehlo()
            if self.username:
                stage = "auth"
                smtp.login(self.username, self.password)
        except (OSError, smtplib.SMTPException) as exc:
            if smtp is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    smtp.close()
            raise self._connect_error(exc, stage, where) from exc
        return smtp

    def _connect_error(
        self, exc: OSError | smtplib.SMTPException, stage: str, where: str
    ) -> DeliveryError:
        if isinstance(exc, smtplib.SMTPResponseException):
            what = f"login as {self.username} refused" if stage == "auth" else ""
            return refusal(stage, exc.smtp_code, exc.smtp_error, what)
        if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            return self._no_answer()
        if isinstance(exc, ssl.SSLError):
            return RelayUnavailable(
                f"TLS with {where} failed: {exc}", kind=relay.TLS_FAILED, answer=f"{where}: {exc}"
            )
        if stage == "auth" and not isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
            # No AUTH offered, or none of the mechanisms smtplib knows.
            return RelayUnavailable(
                f"login as {self.username} impossible: {exc}",
                kind=relay.AUTH_FAILED,
                answer=f"{where}: {exc}",
            )
        # Refused, reset, closed before the greeting, or no such host.
        return RelayUnreachable(f"cannot talk to {where}: {exc or type(exc).__name__}")

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


# RFC 3463 enhanced status code at the start of the text: class.subject.detail.
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
# How relays word "you may not relay through me" (Postfix, Sendmail, Exim, Exchange, qmail,
# Google), "log in first", "not from this sender" and "not from your host".
_RELAY_DENIED = re.compile(
    r"relay(?:ing)?\s+(?:access\s+)?(?:is\s+)?(?:denied|not\s+(?:permitted|allowed)|prohibited"
    r"|refused)|(?:not\s+permitted|unable|not\s+allowed)\s+to\s+relay|no\s+relaying"
    r"|we\s+do\s+not\s+relay|allowed\s+rcpthosts",
    re.IGNORECASE,
)
_AUTH_REQUIRED = re.compile(
    r"auth\w*\s+(?:is\s+)?required|must\s+(?:first\s+)?(?:authenticate|log\s*in)"
    r"|not\s+authenticated|authenticate\s+first",
    re.IGNORECASE,
)
_SENDER_REFUSED = re.compile(
    r"sender\s+(?:address\s+)?(?:rejected|refused|denied|not\s+(?:allowed|permitted))"
    r"|not\s+owned\s+by\s+(?:the\s+)?(?:auth\w*\s+)?user",
    re.IGNORECASE,
)
_HOST_REFUSED = re.compile(
    r"client\s+host\s+(?:\[[^\]]*\]\s+)?(?:rejected|blocked)|blocked\s+using", re.IGNORECASE
)
_NO_MAILBOX = re.compile(
    r"user\s+unknown|unknown\s+user|no\s+such\s+(?:user|mailbox|recipient)"
    r"|mailbox\s+(?:unavailable|not\s+found|does\s+not\s+exist)|does\s+not\s+exist"
    r"|invalid\s+(?:recipient|mailbox)|recipient\s+not\s+found",
    re.IGNORECASE,
)
_STAGES = {
    "connect": "relay refused the connection",
    "tls": "relay refused TLS",
    "auth": "relay refused the login",
    "mail": "sender refused",
    "rcpt": "recipient refused",
    "data": "message refused",
}


def refusal(stage: str, code: int, answer: bytes | str, what: str = "") -> DeliveryError:
    """The error for an SMTP answer other than success at `stage` (connect, tls, auth, mail,
    rcpt, data): about the relay or the sender, or this recipient's own, for now or for good."""
    text = _answer(code, answer)
    message = f"{what or _STAGES[stage]}: {text}"
    status = _ENHANCED.match(text.partition(" ")[2])
    enhanced = ".".join(status.groups()) if status else ""
    kind = _relay_kind(stage, code, text, enhanced)
    if kind:
        return RelayUnavailable(message, code, kind=kind, answer=text)
    if code < 500 and stage in ("connect", "tls", "auth"):
        return RelayUnreachable(message, code, text)  # busy: counts like no answer
    if code < 500 or enhanced == "5.2.2":
        # RFC 3463: a full mailbox (X.2.2) is usually over soon, whatever the reply code.
        return TemporaryError(message, code, text)
    mailbox = (enhanced.startswith("5.1.") and enhanced not in ("5.1.7", "5.1.8")) or (
        enhanced == "5.2.1" or (not enhanced and bool(_NO_MAILBOX.search(text)))
    )
    return PermanentError(message, code, text, mailbox=mailbox)


def _relay_kind(stage: str, code: int, text: str, enhanced: str) -> str:
    """Which relay problem an answer is, or "" when it is about the recipient or the message."""
    if _RELAY_DENIED.search(text):
        return relay.RELAY_DENIED
    if code == 530 or enhanced == "5.7.57" or _AUTH_REQUIRED.search(text):
        return relay.AUTH_REQUIRED
    if code < 500:
        return ""  # a temporary answer is only about us when it says so in words, above
    if stage == "connect":
        return relay.HOST_REFUSED
    if stage == "tls":
        return relay.TLS_FAILED
    if stage == "auth" or code in (534, 535) or enhanced in ("5.7.8", "5.7.9"):
        return relay.AUTH_FAILED
    if _HOST_REFUSED.search(text):
        return relay.HOST_REFUSED
    if stage == "mail" or enhanced in ("5.1.7", "5.1.8") or _SENDER_REFUSED.search(text):
        return relay.SENDER_REFUSED
    return ""


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
    a relay discards a message whose DATA was never ended. A refusal raises `refusal()`'s error.
    """
    smtp.ehlo_or_helo_if_needed()
    code, answer = smtp.mail(envelope.sender)
    if code != 250:
        _give_up(smtp, code)
        raise refusal("mail", code, answer)
    code, answer = smtp.rcpt(envelope.recipient)
    if code not in (250, 251):
        _give_up(smtp, code)
        raise refusal("rcpt", code, answer)
    code, answer = smtp.docmd("data")
    if code != 354:
        _give_up(smtp, code)
        raise refusal("data", code, answer)
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
        raise refusal("data", code, answer)


def _give_up(smtp: smtplib.SMTP, code: int) -> None:
    """What sendmail does after a refusal: close on 421, else reset for the next message."""
    if code == 421:
        smtp.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()
