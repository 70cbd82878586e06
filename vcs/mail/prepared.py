"""One message made once per variant (content × language), then filled in per recipient.

Building a MIME message and writing it out costs milliseconds (header folding, quoted-printable);
a mailing of one content to thousands of members needs it only once. `Variant` builds the whole
message with placeholder values in place of what differs per recipient, and each recipient's
bytes are those with the placeholders' bytes swapped for the recipient's own:

- the To, Message-ID and List-Unsubscribe headers, folded as the generator folds them;
- each body line holding the unsubscribe or preferences link, quoted-printable encoded again
  (quoted-printable encodes line by line, so the other lines stay as they are).

The first recipient of a variant is also built the old way (vcs.mail.message.build_message());
when the two differ in anything but the MIME boundary, the variant is not used and every
recipient's message is built the old way.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import string
import unicodedata
from dataclasses import dataclass
from email import quoprimime
from email.headerregistry import Address
from email.utils import make_msgid

from vcs.config import Settings
from vcs.mail.compose import Content, in_layout
from vcs.mail.message import WIRE, as_bytes, build_message

# Placeholders: plain ASCII words that no template escapes, encodes or wraps.
_UNSUBSCRIBE = "https://vcs-placeholder.invalid/unsubscribe/vcsUNSUBSCRIBEvcs"
_PREFERENCES = "https://vcs-placeholder.invalid/preferences/vcsPREFERENCESvcs"
_ADDRESS = "vcs-recipient@vcs-placeholder.invalid"
_MESSAGE_ID = "<vcs-message-id@vcs-placeholder.invalid>"
# A link is put in as it is only where autoescaping and CSS inlining would leave it as it is.
_PLAIN_URL = re.compile(r"[A-Za-z0-9._~:/%+=@-]*")
# The boundaries the stdlib makes (email.generator._make_boundary).
_BOUNDARY = re.compile(rb"={15}\d+==")
_LINE = WIRE.max_line_length or 78
# A To header written out directly (`_to()`): an address of plain dot-atoms, and a name of words
# (ASCII letters, digits, ' and -, or other letters) between single spaces.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)
_WORD_ASCII = frozenset(string.ascii_letters + string.digits + "'-")
# What an RFC 2047 "Q" word keeps as it is (email._encoded_words).
_Q_SAFE = frozenset((string.ascii_letters + string.digits + "-!*+/").encode())


@dataclass(frozen=True)
class Recipient:
    """What differs per recipient in a message."""

    address: str
    name: str
    unsubscribe_url: str
    preferences_url: str


def fits(recipient: Recipient) -> bool:
    """Whether the recipient's links can be put into a prepared message as they are."""
    return all(
        _PLAIN_URL.fullmatch(url) for url in (recipient.unsubscribe_url, recipient.preferences_url)
    )


def slow(
    settings: Settings,
    content: Content,
    *,
    language: str,
    kind: str,
    now: dt.datetime,
    recipient: Recipient,
    message_id: str | None = None,
) -> tuple[str, bytes]:
    """The message id and bytes of one recipient's message, built on its own."""
    mail = in_layout(
        settings,
        content,
        language=language,
        unsubscribe_url=recipient.unsubscribe_url,
        preferences_url=recipient.preferences_url,
    )
    message = build_message(
        settings,
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        language=language,
        to_address=recipient.address,
        to_name=recipient.name,
        unsubscribe_url=recipient.unsubscribe_url,
        now=now,
        attachments=mail.attachments,
        list_id=kind,
        message_id=message_id,
    )
    return str(message["Message-ID"]), as_bytes(message)


def _header(name: str, value: object) -> bytes:
    # What email.generator.BytesGenerator writes for a header set with msg[name] = value.
    return WIRE.fold_binary(*WIRE.header_store_parse(name, value))


def _word_fits(word: str) -> bool:
    return bool(word) and all(
        char in _WORD_ASCII or (not char.isascii() and unicodedata.category(char)[0] == "L")
        for char in word
    )


def _encoded_word(value: str) -> str:
    """An RFC 2047 word in UTF-8, Q or B as email._encoded_words.encode() picks (the shorter, Q
    unless it is 5 or more characters longer)."""
    data = value.encode()
    q = "".join(
        chr(byte) if byte in _Q_SAFE else "_" if byte == 0x20 else f"={byte:02X}" for byte in data
    )
    b = base64.b64encode(data).decode("ascii")
    return f"=?utf-8?q?{q}?=" if len(q) - len(b) < 5 else f"=?utf-8?b?{b}?="


def _to(name: str, address: str) -> bytes:
    """The To header as the generator writes it for Address(name, addr_spec=address).

    The stdlib parses and folds the header anew for each message, which was most of what filling
    in a recipient cost. A plain address with a name of plain words that fits on one line is
    written out directly: ASCII words as they are, and the words from the first to the last with
    other letters as one encoded word, as the stdlib combines them. Anything else goes through
    the stdlib (tests/unit/test_mail_prepared.py compares the two over many names).
    """
    if _PLAIN_ADDRESS.fullmatch(address):
        if not name:
            line = f"To: {address}"
        else:
            words = name.split(" ")
            if not all(_word_fits(word) for word in words):
                return _header("To", Address(name, addr_spec=address))
            wide = [n for n, word in enumerate(words) if not word.isascii()]
            if wide:
                first, last = wide[0], wide[-1] + 1
                words[first:last] = [_encoded_word(" ".join(words[first:last]))]
            line = f"To: {' '.join(words)} <{address}>"
        if len(line) <= _LINE:
            return f"{line}\r\n".encode("ascii")
    return _header("To", Address(name, addr_spec=address))


def _list_unsubscribe(settings: Settings, unsubscribe_url: str) -> bytes:
    """The header as build_message() sets it and the generator folds it."""
    mailto = f"mailto:{settings.mail.from_address}?subject=unsubscribe"
    if _PLAIN_URL.fullmatch(unsubscribe_url):
        # UriListHeader.fold(), written out: no comma, "=?" or space in the link to parse.
        return f"List-Unsubscribe: <{unsubscribe_url}>,\r\n <{mailto}>\r\n".encode()
    return _header("List-Unsubscribe", f"<{unsubscribe_url}>, <{mailto}>")


def _message_id(message_id: str) -> bytes:
    """The header as the generator folds it."""
    line = f"Message-ID: {message_id}"
    if len(line) <= _LINE and _PLAIN_URL.fullmatch(message_id.strip("<>")):
        # One word that fits on a line is left as it is.
        return f"{line}\r\n".encode()
    return _header("Message-ID", message_id)


def _qp_line(line: str) -> bytes:
    # One body line as the stdlib's quoted-printable encoding of a text part writes it (UTF-8).
    encoded = quoprimime.body_encode(line.encode().decode("latin-1"), _LINE)
    return encoded.replace("\n", "\r\n").encode("ascii")


def _same(one: bytes, other: bytes) -> bool:
    return _BOUNDARY.sub(b"B", one) == _BOUNDARY.sub(b"B", other)


class Variant:
    """One content in one language, made once; `fill()` gives a recipient's message."""

    def __init__(
        self, settings: Settings, content: Content, *, language: str, kind: str, now: dt.datetime
    ) -> None:
        self.settings = settings
        self.content = content
        self.language = language
        self.kind = kind
        self.now = now
        self.usable = False  # until a first recipient's message matched the one built the old way
        self.checked = False
        placeholder = Recipient(_ADDRESS, "", _UNSUBSCRIBE, _PREFERENCES)
        _, self.data = slow(
            settings,
            content,
            language=language,
            kind=kind,
            now=now,
            recipient=placeholder,
            message_id=_MESSAGE_ID,
        )
        mail = in_layout(
            settings,
            content,
            language=language,
            unsubscribe_url=_UNSUBSCRIBE,
            preferences_url=_PREFERENCES,
        )
        self.lines = sorted(
            {
                line
                for body in (mail.text, mail.html)
                for line in body.splitlines()
                if _UNSUBSCRIBE in line or _PREFERENCES in line
            }
        )
        self.headers = (
            _header("To", Address("", addr_spec=_ADDRESS)),
            _message_id(_MESSAGE_ID),
            _list_unsubscribe(settings, _UNSUBSCRIBE),
        )
        self.encoded = [(line, b"\r\n" + _qp_line(line) + b"\r\n") for line in self.lines]
        pieces = [*self.headers, *(piece for _, piece in self.encoded)]
        # Each piece once per part at most, and nowhere else: else this variant is not used.
        self.possible = (
            all(self.data.count(piece) in (1, 2) for piece in pieces)
            and all(self.data.count(piece) == 1 for piece in self.headers)
            # The headers written out directly are what the generator wrote.
            and _message_id(_MESSAGE_ID) == _header("Message-ID", _MESSAGE_ID)
            and _list_unsubscribe(settings, _UNSUBSCRIBE)
            == _header(
                "List-Unsubscribe",
                f"<{_UNSUBSCRIBE}>, <mailto:{settings.mail.from_address}?subject=unsubscribe>",
            )
        )

    def fill(self, recipient: Recipient) -> tuple[str, bytes]:
        """The message id and bytes of the recipient's message."""
        message_id = make_msgid(domain=self.settings.host)
        to, msgid, unsubscribe = self.headers
        data = (
            self.data.replace(to, _to(recipient.name, recipient.address))
            .replace(msgid, _message_id(message_id))
            .replace(unsubscribe, _list_unsubscribe(self.settings, recipient.unsubscribe_url))
        )
        for line, piece in self.encoded:
            own = line.replace(_UNSUBSCRIBE, recipient.unsubscribe_url).replace(
                _PREFERENCES, recipient.preferences_url
            )
            data = data.replace(piece, b"\r\n" + _qp_line(own) + b"\r\n")
        return message_id, data

    def make(self, recipient: Recipient) -> tuple[str, bytes]:
        """The recipient's message: filled in when this variant is known to work, else built."""
        if self.possible and fits(recipient):
            if self.usable:
                return self.fill(recipient)
            if not self.checked:
                self.checked = True
                message_id, data = self.fill(recipient)
                _, built = self._slow(recipient, message_id)
                self.usable = _same(data, built)
                return message_id, built
        return self._slow(recipient)

    def _slow(self, recipient: Recipient, message_id: str | None = None) -> tuple[str, bytes]:
        return slow(
            self.settings,
            self.content,
            language=self.language,
            kind=self.kind,
            now=self.now,
            recipient=recipient,
            message_id=message_id,
        )


class Variants:
    """The variants of one mailing (one kind, ref and time), made when a content comes again."""

    # Contents seen once are kept (to know them again) up to this many, for mailings whose
    # content differs per recipient.
    KEEP = 64

    def __init__(self, settings: Settings, *, kind: str, now: dt.datetime) -> None:
        self.settings = settings
        self.kind = kind
        self.now = now
        self.seen: dict[tuple[int, str], Content] = {}
        self.made: dict[tuple[int, str], tuple[Content, Variant]] = {}

    def make(self, content: Content, language: str, recipient: Recipient) -> tuple[str, bytes]:
        """The message id and bytes of the recipient's message of `content` in `language`."""
        # By identity: a mailing hands out the same Content object to each reader of a language
        # (vcs.digest.send()); the object is kept, so its id is not given to another.
        key = (id(content), language)
        if key in self.made:
            return self.made[key][1].make(recipient)
        if key in self.seen:
            variant = Variant(
                self.settings, content, language=language, kind=self.kind, now=self.now
            )
            self.made[key] = (content, variant)
            return variant.make(recipient)
        if len(self.seen) >= self.KEEP:
            self.seen.clear()
        self.seen[key] = content
        return slow(
            self.settings,
            content,
            language=language,
            kind=self.kind,
            now=self.now,
            recipient=recipient,
        )
