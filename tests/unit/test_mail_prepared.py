"""A message made once per variant and filled in per recipient reads as one built for them."""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.mail_factories import greeting
from vcs.mail import outbox, prepared

NOW = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC)
NAMES = [
    "Ānis Bērziņš",
    "Plain Name",
    'Ilze "Ilzīte" Ozoliņa-Kalniņa, Ādažu novada jaunatnes darba koordinatore',
    "",
]


def _read(data: bytes) -> tuple[list[tuple[str, str]], list[tuple[str, bytes]]]:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    # Each message has its own MIME boundary (email.generator._make_boundary()).
    headers = [(name, re.sub(r"={15}\d+==", "B", str(value))) for name, value in message.items()]
    parts = [
        (part.get_content_type(), part.get_payload(decode=True))
        for part in message.walk()
        if not part.is_multipart()
    ]
    return headers, parts


@pytest.mark.parametrize("language", ["lv", "en"])
@pytest.mark.parametrize("name", NAMES)
def test_prepared_message_reads_the_same_as_one_built_for_the_recipient(
    tmp_path: Path, language: str, name: str
) -> None:
    settings = make_settings(tmp_path, VCS_BASE_URL="https://tikls.example.lv")
    content = greeting(outbox.Recipient(address="", name="kolēģi"))
    variant = prepared.Variant(settings, content, language=language, kind="digest", now=NOW)
    for member_id, token in [(7, "WzcsImFiYyJd.x-Y_z"), (12345, "WzEyMzQ1LCJkZWYiXQ.longer-sig_9")]:
        recipient = prepared.Recipient(
            address=f"member{member_id}@example.lv",
            name=name,
            unsubscribe_url=f"https://tikls.example.lv/unsubscribe/{token}",
            preferences_url=f"https://tikls.example.lv/preferences/{token}",
        )
        message_id, filled = variant.fill(recipient)
        _, built = prepared.slow(
            settings,
            content,
            language=language,
            kind="digest",
            now=NOW,
            recipient=recipient,
            message_id=message_id,
        )
        headers, parts = _read(filled)
        assert (headers, parts) == _read(built)
        assert ("To", str(Address(name, addr_spec=recipient.address))) in headers
        text = dict(parts)["text/plain"]
        assert recipient.unsubscribe_url.encode() in text
        assert recipient.preferences_url.encode() in text
        assert recipient.unsubscribe_url.encode() in dict(parts)["text/html"]


def test_a_name_that_needs_encoding_is_rfc2047_encoded_in_the_filled_message(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, VCS_BASE_URL="https://tikls.example.lv")
    content = greeting(outbox.Recipient(address="", name="kolēģi"))
    variant = prepared.Variant(settings, content, language="lv", kind="digest", now=NOW)
    url = "https://tikls.example.lv/unsubscribe/abc"
    _, data = variant.fill(prepared.Recipient("anis@example.lv", "Ānis Bērziņš", url, url))
    to = next(line for line in data.split(b"\r\n") if line.startswith(b"To:"))
    assert b"=?utf-8?" in to
    assert str(message_from_bytes(data, policy=policy.default)["To"]) == (
        "Ānis Bērziņš <anis@example.lv>"
    )


def test_a_mailing_uses_a_variant_only_after_it_matched_a_message_built_the_old_way(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, VCS_BASE_URL="https://tikls.example.lv")
    content = greeting(outbox.Recipient(address="", name="kolēģi"))
    variants = prepared.Variants(settings, kind="digest", now=NOW)
    url = "https://tikls.example.lv/unsubscribe/abc"
    for n in range(3):
        variants.make(content, "lv", prepared.Recipient(f"m{n}@example.lv", "Ā", url, url))
    ((_, variant),) = variants.made.values()
    assert variant.checked and variant.usable


# The To header written out directly must be byte for byte what the stdlib writes.
_LATVIAN_FIRST = ["Ānis", "Ērika", "Jānis", "Līga", "Ilze", "Kārlis", "Ņina", "Šarlote", "Žanis"]
_LATVIAN_LAST = ["Bērziņš", "Ūdre", "Ozoliņa-Kalniņa", "Kalniņš", "Liepa", "Čakste", "Ģēģere"]
_CHARACTERS = (
    "abcxyzABCXYZ0189'-āčēģīķļņšūžĀČĒĢĪĶĻŅŠŪŽßüøñ€"  # words the direct path takes
    + ' ,."()<>@;:\\[]!#$%&*+/=?^_`{|}~\t'  # what makes it go through the stdlib
)


def _names() -> list[str]:
    import random

    rng = random.Random(18)
    names = [
        "",
        "Ērika Ūdre 0",
        "Anna Bērziņa",
        "Ērika Anna Ūdre",
        "A Ā B Č C",
        "Ā-B Č",
        "O'Brien Ā",
        "John Smith",
        "Smith, John",
        'Ilze "Ilzīte" Ozoliņa',
        "  Ānis  Bērziņš ",
        "Ānis Bērziņš, Ādažu novada jaunatnes darba koordinatore un skolotāja",
        "x" * 60,
        "x" * 80,
        "Ā" * 20,
    ]
    names += [f"{first} {last}" for first in _LATVIAN_FIRST for last in _LATVIAN_LAST]
    names += [f"{first} {last} {n}" for n in (0, 9, 12345) for first in _LATVIAN_FIRST[:3]
              for last in _LATVIAN_LAST[:3]]  # fmt: skip
    for _ in range(1_500):
        alphabet = _CHARACTERS[:46] if rng.random() < 0.7 else _CHARACTERS
        names.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 64))))
    # Around the end of the line, where the stdlib folds.
    for length in range(30, 72):
        names.append(("Ā b " * 20)[:length].strip())
        names.append(("Anna Bērziņa " * 10)[:length].strip())
    return names


@pytest.mark.parametrize("address", ["biedrs12345@example.lv", "a.b+c@sub.example.lv"])
def test_the_to_header_written_out_directly_is_what_the_stdlib_writes(address: str) -> None:
    direct = 0
    for name in _names():
        expected = prepared._header("To", Address(name, addr_spec=address))
        assert prepared._to(name, address) == expected, name
        words = name.split(" ")
        direct += all(word and prepared._word_fits(word) for word in words)
    assert direct > 300  # the direct path was really taken
