"""Every e-mail vcs sends, composed one way: from its templates in templates/email/.

    render(kind, lang, subject, values)   templates/email/<template>.txt and .html -> Content
    in_layout(settings, content, ...)      the shared layout (email/base.*) around it, CSS inlined
    vcs.mail.message.build_message()       the MIME message with its headers

A kind of mail (`MailKind`) names its templates. `render()` makes what one reader gets in one
language, once per language for a whole mailing; `in_layout()` adds the recipient's own
unsubscribe and preferences links, once per recipient (the outbox does, and a preview does with
placeholder links). No e-mail text or HTML is written in Python: tests/unit/test_mail_composition.py
fails when some code makes a `Content` of its own or holds an HTML tag in a string.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import css_inline
import jinja2
from markupsafe import Markup

from vcs.config import Settings
from vcs.i18n import template_callables
from vcs.mail.message import Attachment
from vcs.network import network_name
from vcs.paths import TEMPLATES_DIR


class MailKind(enum.StrEnum):
    """Every kind of e-mail; the value is the kind the outbox stores (`Delivery.kind`)."""

    ANNOUNCEMENT = "announcement"
    CHANGE = "change"
    CANCELLATION = "cancellation"
    FOLLOW_UP = "follow-up"  # the recording, once, after an announced session
    DIGEST = "digest"
    TEST = "test"  # a digest, as it would be sent now, to one staff member
    CONFIRMATION = "confirmation"
    ALREADY_SUBSCRIBED = "already-subscribed"
    REGISTRATION_CONFIRM = "registration-confirm"  # a visitor's link to confirm (issue 16)
    REGISTRATION_PROMOTED = "registration-promoted"  # a seat from the waiting list
    REMINDER = "reminder"  # a session soon, with the right link (vcs/reminders.py)
    LIVE_NOW = "live-now"  # a followed session went live (vcs/live_alerts.py)
    CERTIFICATE = "certificate"  # a certificate of participation (vcs/certificates/)
    FEEDBACK = "feedback"  # the link to a session's feedback form (vcs/feedback.py)

    @property
    def template(self) -> str:
        """The name of its templates: templates/email/<template>.txt and .html."""
        return _TEMPLATES.get(self, self.value)

    @property
    def outbox_kind(self) -> str:
        """What the outbox stores as `Delivery.kind` for it."""
        # Both answers to /subscribe have always been one kind in the outbox (one line in
        # `vcs outbox status`, one `vcs outbox retry --kind confirmation`).
        return MailKind.CONFIRMATION.value if self is MailKind.ALREADY_SUBSCRIBED else self.value


_TEMPLATES = {
    MailKind.CHANGE: "session_change",
    MailKind.CANCELLATION: "session_change",
    MailKind.FOLLOW_UP: "follow_up",
    MailKind.TEST: "digest",
    MailKind.ALREADY_SUBSCRIBED: "already_subscribed",
    MailKind.REGISTRATION_CONFIRM: "registration_confirm",
    MailKind.REGISTRATION_PROMOTED: "registration_promoted",
    MailKind.LIVE_NOW: "live_now",
}


@dataclass(frozen=True)
class Content:
    """What one reader of a mail gets: subject, plain text, HTML body (no layout yet), files."""

    subject: str
    text: str
    html: str
    attachments: Sequence[Attachment] = ()

    def as_json(self) -> dict[str, str]:
        """Subject, text and HTML (no attachments), as a sent digest keeps them."""
        return {"subject": self.subject, "text": self.text, "html": self.html}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Content:
        """Content kept with as_json(): rendered from the templates when it was kept."""
        return cls(str(data["subject"]), str(data["text"]), str(data["html"]))


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


def render(
    kind: MailKind,
    lang: str,
    subject: str,
    values: Mapping[str, Any],
    attachments: Sequence[Attachment] = (),
) -> Content:
    """A `kind` mail in `lang` from its templates; `values` are what the templates name."""
    env = templates()
    context = {**values, "lang": lang, **template_callables(lang)}
    text = env.get_template(f"email/{kind.template}.txt").render(context)
    html = env.get_template(f"email/{kind.template}.html").render(context)
    return Content(subject, tidy_text(text), html.strip(), tuple(attachments))


def tidy_text(text: str) -> str:
    """Plain text without trailing spaces and with at most one empty line in a row."""
    # Templates leave both behind where an optional part is left out.
    tidy: list[str] = []
    for line in (line.rstrip() for line in text.strip().splitlines()):
        if not line and tidy and not tidy[-1]:
            continue
        tidy.append(line)
    return "\n".join(tidy) + "\n"


def in_layout(
    settings: Settings,
    content: Content,
    *,
    language: str,
    unsubscribe_url: str,
    preferences_url: str,
) -> Content:
    """The content with the e-mail layout (templates/email/base.*) around its text and HTML, the
    recipient's own links in the footer and the CSS inlined: the whole e-mail."""
    env = templates()
    values = {
        "subject": content.subject,
        "lang": language,
        "sender_name": network_name(settings, language),
        "postal_address": settings.network.postal_address,
        "privacy_url": f"{settings.base_url}/privacy",
        "base_url": settings.base_url,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
        **template_callables(language),
    }
    text = env.get_template("email/base.txt").render(values, content=content.text.strip())
    html = env.get_template("email/base.html").render(values, content=Markup(content.html))  # noqa: S704 - rendered by our templates (render())
    return replace(content, text=text.strip() + "\n", html=_inliner().inline(html))
