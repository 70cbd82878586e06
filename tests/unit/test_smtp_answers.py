"""What an SMTP answer is about (RFC 5321 reply codes, RFC 3463 enhanced status codes): the relay
or the sender, which stops the send and bounces nobody, or one recipient, for now or for good.
The answers are the ones real relays give."""

from __future__ import annotations

import pytest

from vcs.mail import relay
from vcs.mail.relay import refusal_key
from vcs.mail.transport import (
    PermanentError,
    RelayUnavailable,
    RelayUnreachable,
    TemporaryError,
    refusal,
)


@pytest.mark.parametrize(
    ("stage", "code", "text", "kind"),
    [
        ("rcpt", 554, "5.7.1 <anna@cesis.lv>: Relay access denied", relay.RELAY_DENIED),  # Postfix
        ("rcpt", 550, "5.7.1 <anna@cesis.lv>... Relaying denied", relay.RELAY_DENIED),  # Sendmail
        ("rcpt", 550, "relay not permitted", relay.RELAY_DENIED),  # Exim
        ("rcpt", 550, "5.7.54 SMTP; Unable to relay recipient in non-accepted domain",
         relay.RELAY_DENIED),  # Exchange Online
        ("rcpt", 550, "5.7.0 Mail relay denied [203.0.113.7]", relay.RELAY_DENIED),  # Google
        ("rcpt", 553, "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
         relay.RELAY_DENIED),  # qmail
        ("rcpt", 454, "4.7.1 <anna@cesis.lv>: Relay access denied", relay.RELAY_DENIED),
        ("mail", 530, "5.7.0 Authentication required", relay.AUTH_REQUIRED),
        ("rcpt", 530, "5.7.57 Client not authenticated to send mail", relay.AUTH_REQUIRED),
        ("mail", 550, "5.7.57 Client not authenticated to send mail", relay.AUTH_REQUIRED),
        ("auth", 535, "5.7.8 Authentication credentials invalid", relay.AUTH_FAILED),
        ("mail", 553, "5.7.1 <tikls@example.lv>: Sender address rejected: not owned by user",
         relay.SENDER_REFUSED),
        ("mail", 550, "5.1.8 Sender domain unknown", relay.SENDER_REFUSED),
        ("mail", 554, "5.5.0 go away", relay.SENDER_REFUSED),  # anything 5xx at MAIL FROM
        ("rcpt", 550, "5.1.7 <tikls@example>: Sender address rejected: bad syntax",
         relay.SENDER_REFUSED),
        ("rcpt", 554, "5.7.1 Service unavailable; Client host [203.0.113.7] blocked using "
         "zen.spamhaus.org", relay.HOST_REFUSED),
        ("connect", 554, "5.7.1 No SMTP service here", relay.HOST_REFUSED),
        ("connect", 550, "Access denied", relay.HOST_REFUSED),
    ],
)  # fmt: skip
def test_answers_about_the_relay_or_the_sender_stop_the_send(
    stage: str, code: int, text: str, kind: str
) -> None:
    error = refusal(stage, code, text)
    assert isinstance(error, RelayUnavailable)
    assert error.kind == kind
    assert error.answer == f"{code} {text}"
    assert not error.permanent  # never a bounce


@pytest.mark.parametrize(
    ("text", "mailbox"),
    [
        ("5.1.1 <anna@cesis.lv>: Recipient address rejected: User unknown", True),
        ("5.1.10 Recipient address rejected: Null MX", True),
        ("5.2.1 The email account that you tried to reach is disabled", True),
        ("Requested action not taken: mailbox unavailable", True),
        ("<anna@cesis.lv>: Recipient address rejected: Access denied", False),
        ("5.7.1 Message rejected as spam", False),
        ("5.3.4 Message size exceeds fixed limit", False),
    ],
)
def test_a_5xx_to_a_recipient_is_that_recipients_own(text: str, mailbox: bool) -> None:
    error = refusal("rcpt", 550, text)
    assert type(error) is PermanentError
    assert error.mailbox is mailbox  # mailbox answers never count as the relay's, in a row
    assert error.answer == f"550 {text}"


@pytest.mark.parametrize(
    ("stage", "code", "text"),
    [
        ("rcpt", 452, "4.2.2 Mailbox full"),
        ("rcpt", 552, "5.2.2 <anna@cesis.lv>: Mailbox full"),  # RFC 3463: usually transient
        ("data", 451, "4.3.0 Try again later"),
        ("rcpt", 450, "4.7.1 Client host rejected: cannot find your hostname"),
    ],
)
def test_temporary_answers_are_tried_again(stage: str, code: int, text: str) -> None:
    error = refusal(stage, code, text)
    assert type(error) is TemporaryError


def test_a_busy_relay_on_connecting_counts_as_no_answer() -> None:
    error = refusal("connect", 421, "4.3.2 Service not available, too many connections")
    assert isinstance(error, RelayUnreachable)


def test_refusals_compare_without_the_address_or_message_ids() -> None:
    one = refusal_key("550 5.7.1 <anna@cesis.lv>: Recipient address rejected: Access denied")
    two = refusal_key("550 5.7.1 <janis@rezekne.lv>: Recipient address rejected: Access denied")
    assert one == two == "550 5.7.1 : recipient address rejected: access denied"
    assert refusal_key("554 rejected, id=4F2A9C01B7") == refusal_key("554 rejected, id=9D03E51A77")
