"""One recipient's e-mail as MIME: the parts, the attachments and the headers.

What the parts say is composed above this, in vcs.mail.compose.
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from vcs.config import Settings
from vcs.network import network_name


class UriListHeader(UnstructuredHeader):
    """List-Unsubscribe: folded between its <URI>s, never RFC 2047-encoded (which would turn a
    long URI into an encoded word that no mail client follows)."""

    max_count = 1

    def fold(self, *, policy: policy.Policy) -> str:
        assert isinstance(self, BaseHeader)
        uris = [uri.strip() for uri in str(self).split(",")]
        return f"{self.name}: " + ("," + policy.linesep + " ").join(uris) + policy.linesep


_headers = HeaderRegistry()
_headers.map_to_type("list-unsubscribe", typing.cast(type[BaseHeader], UriListHeader))
# Lines end in CRLF and long headers are folded and RFC 2047-encoded: what SMTP wants, and what
# the .eml files hold.
WIRE = policy.SMTP.clone(header_factory=_headers)


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message, e.g. the .ics of a session."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"
    params: dict[str, str] = field(default_factory=dict)
    # An iTIP invitation (RFC 6047): also a text/calendar part of the body's
    # multipart/alternative, where Outlook and Gmail look for it; the file itself is then
    # attached as application/ics, so that no client takes it for a second invitation.
    invitation: bool = False

    @classmethod
    def calendar(
        cls, ics: bytes, filename: str = "invite.ics", method: str = "PUBLISH"
    ) -> Attachment:
        """An iCalendar file as calendar apps expect it: text/calendar; method=PUBLISH, or an
        invitation (method=REQUEST or CANCEL, vcs.feeds.invitation)."""
        if method == "PUBLISH":
            return cls(filename, ics, "text/calendar", {"method": method, "charset": "utf-8"})
        return cls(filename, ics, "text/calendar", {"method": method}, invitation=True)


def build_message(
    settings: Settings,
    *,
    subject: str,
    text: str,
    html: str,
    language: str,
    to_address: str,
    to_name: str,
    unsubscribe_url: str,
    now: dt.datetime,
    attachments: Sequence[Attachment] = (),
    list_id: str = "network",
    message_id: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) for one recipient, with attachments.

    `text` and `html` are the whole e-mail, layout and all (vcs.mail.compose.in_layout()).
    """
    mail = settings.mail
    sender = mail.from_name
    if sender == network_name(settings, "lv"):
        # The default sender is the network's Latvian name: English readers get its English one.
        sender = network_name(settings, language)
    msg = EmailMessage(policy=WIRE)
    msg["Subject"] = subject
    msg["From"] = Address(sender, addr_spec=mail.from_address)
    msg["To"] = Address(to_name, addr_spec=to_address)
    if mail.reply_to:
        msg["Reply-To"] = mail.reply_to
    msg["Date"] = format_datetime(now.astimezone(dt.UTC))
    msg["Message-ID"] = message_id or make_msgid(domain=settings.host)
    msg["List-Id"] = f"{mail.from_name} <{list_id}.{settings.host}>"
    # RFC 2369 and RFC 8058: mail clients show an unsubscribe button; the https address gets a
    # POST with "List-Unsubscribe=One-Click" and unsubscribes without a confirmation page.
    mailto = f"mailto:{mail.from_address}?subject=unsubscribe"
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>, <{mailto}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Keeps out-of-office replies from Exchange away from the sender address.
    msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    # Quoted-printable keeps every line short and 7-bit, for relays without 8BITMIME.
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    for item in attachments:
        if item.invitation:
            # text/calendar; method=REQUEST; charset="utf-8" beside the text and the HTML.
            msg.add_alternative(
                item.content.decode("utf-8"),
                subtype="calendar",
                cte="quoted-printable",
                params=item.params,
            )
    for item in attachments:
        if item.invitation:
            msg.add_attachment(
                item.content, maintype="application", subtype="ics", filename=item.filename
            )
            continue
        maintype, subtype = item.content_type.split("/", 1)
        msg.add_attachment(
            item.content,
            maintype=maintype,
            subtype=subtype,
            filename=item.filename,
            params=item.params,
        )
    # After the body: setting content clears every Content-* header of the message.
    msg["Content-Language"] = language
    return msg


def as_bytes(msg: EmailMessage) -> bytes:
    """The message as it goes over SMTP and into .eml files (CRLF line ends)."""
    return msg.as_bytes(policy=WIRE)
