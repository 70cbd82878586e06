"""One recipient's e-mail: the base layout around the content, CSS inlined, MIME and headers."""

from __future__ import annotations

import datetime as dt
import functools
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import css_inline
import jinja2
from markupsafe import Markup

from vcs.config import Settings
from vcs.i18n import template_callables
from vcs.paths import TEMPLATES_DIR


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

    @classmethod
    def calendar(cls, ics: bytes, filename: str = "invite.ics") -> Attachment:
        """An iCalendar file as calendar apps expect it: text/calendar; method=PUBLISH."""
        return cls(filename, ics, "text/calendar", {"method": "PUBLISH", "charset": "utf-8"})


@functools.cache
def templates() -> jinja2.Environment:
    """The Jinja environment of every e-mail template (templates/email/): HTML autoescaped."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.cache
def _inliner() -> css_inline.CSSInliner:
    # @media rules cannot be inlined; they stay in a <style> block for the clients that read it
    # (Gmail's apps, Apple Mail). Nothing is ever fetched over the network.
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def render_layout(
    settings: Settings,
    *,
    subject: str,
    text: str,
    html: str,
    language: str,
    unsubscribe_url: str,
    preferences_url: str,
) -> tuple[str, str]:
    """The content in the e-mail base layout: (plain text, HTML with inlined CSS)."""
    env = templates()
    values = {
        "subject": subject,
        "lang": language,
        "sender_name": settings.mail.from_name,
        "base_url": settings.base_url,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
        **template_callables(language),
    }
    full_text = env.get_template("email/base.txt").render(values, content=text.strip())
    full_html = env.get_template("email/base.html").render(values, content=Markup(html))  # noqa: S704 - the caller's HTML is rendered by templates
    return full_text.strip() + "\n", _inliner().inline(full_html)


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
    preferences_url: str,
    now: dt.datetime,
    attachments: Sequence[Attachment] = (),
    list_id: str = "network",
    message_id: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) for one recipient, with attachments."""
    mail = settings.mail
    full_text, full_html = render_layout(
        settings,
        subject=subject,
        text=text,
        html=html,
        language=language,
        unsubscribe_url=unsubscribe_url,
        preferences_url=preferences_url,
    )
    msg = EmailMessage(policy=WIRE)
    msg["Subject"] = subject
    msg["From"] = Address(mail.from_name, addr_spec=mail.from_address)
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
    msg.set_content(full_text, cte="quoted-printable")
    msg.add_alternative(full_html, subtype="html", cte="quoted-printable")
    for item in attachments:
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
