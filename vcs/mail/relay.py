"""When the relay refuses *us*, not a recipient: what it said, what to fix, and the pause.

Answers about the relay or the sender (relaying denied, a log-in required or refused, a refused
sender, a refused connection, no answer at all) are not a member's bounce: the sender stops,
spends no attempt, marks nobody, and records a pause here. While a pause is open the
`send-outbox` job waits (`next_try_at`, backing off) and fails its run with the same line the
CLI prints; `vcs outbox send` tries at once. The first run that reaches the relay ends the pause.
See docs/mail.md.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from vcs.config import Settings
from vcs.errors import VcsError
from vcs.i18n import N_
from vcs.storage.models import MailRelayPause

RELAY_DENIED = "relay-denied"
AUTH_REQUIRED = "auth-required"
AUTH_FAILED = "auth-failed"
SENDER_REFUSED = "sender-refused"
HOST_REFUSED = "host-refused"
TLS_FAILED = "tls-failed"
UNREACHABLE = "unreachable"
SAME_REFUSAL = "same-refusal"
OUTBOX_FOLDER = "outbox-folder"

# One line each, for the CLI, the failed job run and `vcs outbox status`: what the relay said,
# then what to set.
MESSAGES = {
    RELAY_DENIED: N_(
        "the mail relay refused to relay for this host: %(answer)s; fix: allow this host to"
        " relay (Postfix: mynetworks) or set mail.url with user:password"
    ),
    AUTH_REQUIRED: N_(
        "the mail relay requires a log-in: %(answer)s; fix: set mail.url with user:password"
        " (smtp://user:password@host:587)"
    ),
    AUTH_FAILED: N_(
        "the mail relay refused the log-in: %(answer)s; fix: check the user and password in"
        " mail.url (percent-encode special characters)"
    ),
    SENDER_REFUSED: N_(
        "the mail relay refused the sender %(sender)s: %(answer)s; fix: set mail.from_address"
        " to an address the relay accepts from this host"
    ),
    HOST_REFUSED: N_(
        "the mail relay refused this host: %(answer)s; fix: allow this host at the relay, or"
        " check the host and port in mail.url"
    ),
    TLS_FAILED: N_(
        "TLS with the mail relay failed: %(answer)s; fix: use smtps:// for port 465 and"
        " smtp:// otherwise, and check the relay's certificate"
    ),
    UNREACHABLE: N_(
        "the mail relay %(relay)s did not answer (%(count)s tries in a row): %(answer)s; fix:"
        " check the host and port in mail.url and that the relay runs and accepts this host"
    ),
    SAME_REFUSAL: N_(
        "the mail relay refused %(count)s different recipients in a row with the same answer:"
        " %(answer)s; fix: check the relay's settings and log; nobody was marked bounced"
    ),
    OUTBOX_FOLDER: N_(
        "cannot write e-mail into the outbox folder: %(answer)s; fix: free disk space or make"
        " the folder of mail.url writable"
    ),
}

# The longest the send-outbox job waits between two tries of a relay that refused us.
MAX_WAIT = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class RelayProblem:
    """Why sending stopped: a kind (one of MESSAGES), the relay's answer and a few details."""

    kind: str
    answer: str
    sender: str = ""
    relay: str = ""
    count: int = 0

    def error(self) -> VcsError:
        """The problem as a VcsError, code `mail.<kind>`."""
        return VcsError.one(
            f"mail.{self.kind}",
            MESSAGES[self.kind],
            answer=self.answer,
            sender=self.sender,
            relay=self.relay,
            count=self.count,
        )

    def line(self, lang: str = "en") -> str:
        """What went wrong and what to fix, on one line."""
        return self.error().problems[0].line(lang)

    @property
    def local(self) -> bool:
        """True when the fault is on this machine (the outbox folder), not at a relay."""
        return self.kind == OUTBOX_FOLDER


def relay_name(settings: Settings) -> str:
    """host:port of mail.url, never its user or password."""
    url = urlsplit(settings.mail.url)
    if url.scheme == "file":
        return url.netloc + url.path
    port = url.port or (465 if url.scheme == "smtps" else 25)
    return f"{url.hostname}:{port}"


# Addresses, queue ids and the like differ from one refusal to the next; what is left is the
# relay's reason, compared between recipients.
_ADDRESS = re.compile(r"<[^>]*>|\S+@\S+")
_NUMBERS = re.compile(r"\b[0-9A-Fa-f]*[0-9][0-9A-Fa-f]{5,}\b")


def refusal_key(answer: str) -> str:
    """An answer without what names the recipient or the message, to compare refusals."""
    text = _NUMBERS.sub("#", _ADDRESS.sub("", answer))
    return " ".join(text.lower().split())


def current_pause(db: Db) -> MailRelayPause | None:
    """The open pause, if sending is paused."""
    return db.scalars(
        select(MailRelayPause)
        .where(MailRelayPause.ended_at.is_(None))
        .order_by(MailRelayPause.id.desc())
        .limit(1)
    ).first()


def problem_of(pause: MailRelayPause) -> RelayProblem:
    """The problem a pause was recorded for."""
    return RelayProblem(pause.problem, pause.answer, pause.sender, pause.relay, pause.count)


def record_pause(
    db: Db, settings: Settings, problem: RelayProblem, now: dt.datetime
) -> MailRelayPause:
    """Open a pause, or count one more refused try of the open one; set when to try next."""
    pause = current_pause(db)
    if pause is None:
        pause = MailRelayPause(started_at=now, tries=0)
        db.add(pause)
    pause.problem = problem.kind
    pause.answer = problem.answer[:2000]
    pause.sender = problem.sender
    pause.relay = problem.relay
    pause.count = problem.count
    pause.tries += 1
    pause.last_try_at = now
    pause.next_try_at = now + wait_after(settings, pause.tries)
    db.flush()
    return pause


def end_pause(db: Db, now: dt.datetime) -> bool:
    """The relay answers again: close the open pause; False when there was none."""
    pause = current_pause(db)
    if pause is None:
        return False
    pause.ended_at = now
    return True


def wait_after(settings: Settings, tries: int) -> dt.timedelta:
    """The wait after the `tries`-th refused run: retry_base_seconds doubled, at most 30 min."""
    seconds = settings.mail.retry_base_seconds * 2 ** min(max(tries - 1, 0), 20)
    return min(dt.timedelta(seconds=seconds), MAX_WAIT)
