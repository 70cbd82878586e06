"""DKIM: with a key configured, the stored message is signed once and verifies where it arrives."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from sqlalchemy import select

from tests.conftest import isolated_environ
from tests.mail_factories import add_members, greeting, mail_context, parse, smtp_server
from vcs.context import Context
from vcs.mail import outbox
from vcs.mail.dkim import read_key
from vcs.mail.sender import Sender
from vcs.paths import PROJECT_DIR
from vcs.storage.models import Delivery, Member

# What docs/mail.md promises: these headers, the identity ones once more than they occur.
SIGNED = [
    "from", "from", "to", "to", "subject", "subject", "date", "date", "message-id",
    "message-id", "reply-to", "list-id", "list-unsubscribe", "list-unsubscribe-post",
    "mime-version", "content-type",
]  # fmt: skip


def write_key(path: Path, key: PrivateKeyTypes) -> Path:
    """The key as an unencrypted PKCS#8 PEM file, as `openssl genpkey` writes it."""
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def rsa_key(tmp_path: Path) -> Path:
    return write_key(tmp_path / "dkim.pem", rsa.generate_private_key(65537, 2048))


def published(key_file: Path, name: str = "vcs._domainkey.example.lv") -> Callable[..., bytes]:
    """A dnsfunc for dkim.verify(): the TXT record of `key_file` at `name`, and nothing else."""
    record = read_key(key_file).record.encode()

    def lookup(qname: bytes, timeout: int = 5) -> bytes:
        assert qname == f"{name}.".encode()
        return record

    return lookup


def queue_greeting(tmp_path: Path, count: int = 1, **env: str) -> tuple[Context, list[bytes]]:
    """Queue the Latvian greeting with its .ics for `count` members; the stored messages."""
    context = mail_context(tmp_path, **env)
    ids = add_members(context, count)
    with context.database.session() as db:
        outbox.enqueue_for_members(
            db,
            context.settings,
            kind="announcement",
            ref="session:1:rev0",
            members=[db.get(Member, member_id) for member_id in ids],
            compose=greeting,
            now=context.clock.now(),
        )
        stored = db.scalars(select(Delivery.raw_message).order_by(Delivery.id)).all()
    return context, [zlib.decompress(raw) for raw in stored]


def signature_tags(data: bytes) -> dict[str, str]:
    value = "".join(str(parse(data)["DKIM-Signature"]).split())
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


def test_a_queued_message_is_signed_and_verifies_with_latvian_subject_and_names(
    tmp_path: Path,
) -> None:
    key = rsa_key(tmp_path)
    _context, [data] = queue_greeting(tmp_path, VCS_MAIL_DKIM_KEY_FILE=str(key))

    assert data.startswith(b"DKIM-Signature: ")
    assert data.count(b"DKIM-Signature:") == 1
    message = parse(data)
    assert message["Subject"] == "Videokonference ceturtdien: jaunatnes darbs Ādažu novadā"
    assert str(message["To"]) == "Ērika Ūdre 0 <biedrs0@example.lv>"
    assert dkim.verify(data, dnsfunc=published(key))

    tags = signature_tags(data)
    assert tags["a"] == "rsa-sha256"
    assert tags["c"] == "relaxed/relaxed"
    # The domain of mail.from_address (tikls@example.lv), so DMARC aligns; the default selector.
    assert (tags["d"], tags["s"]) == ("example.lv", "vcs")
    assert tags["h"].split(":") == SIGNED


def test_tampering_with_the_body_or_a_signed_header_fails_verification(tmp_path: Path) -> None:
    key = rsa_key(tmp_path)
    _context, [data] = queue_greeting(tmp_path, VCS_MAIL_DKIM_KEY_FILE=str(key))
    dns = published(key)
    assert dkim.verify(data, dnsfunc=dns)

    assert b"Gaid=C4=81m" in data  # "Gaidām" in the quoted-printable text part
    assert not dkim.verify(data.replace(b"Gaid=C4=81m", b"Gaidam", 1), dnsfunc=dns)
    downgraded = data.replace(b"Unsubscribe: <https://", b"Unsubscribe: <http://", 1)
    assert downgraded != data
    assert not dkim.verify(downgraded, dnsfunc=dns)
    # Oversigned: a second Subject, or a Reply-To the message did not have, breaks it too.
    head, body = data.split(b"\r\n\r\n", 1)
    assert not dkim.verify(head + b"\r\nSubject: Urgent\r\n\r\n" + body, dnsfunc=dns)
    assert not dkim.verify(head + b"\r\nReply-To: x@evil.example\r\n\r\n" + body, dnsfunc=dns)


def test_without_a_key_nothing_is_signed(tmp_path: Path) -> None:
    context, [data] = queue_greeting(tmp_path)
    assert context.settings.mail.dkim_key_file == ""
    assert b"DKIM-Signature" not in data
    assert parse(data)["DKIM-Signature"] is None


def test_an_ed25519_key_signs_and_a_configured_domain_and_selector_are_used(
    tmp_path: Path,
) -> None:
    key = write_key(tmp_path / "ed.pem", ed25519.Ed25519PrivateKey.generate())
    _context, [data] = queue_greeting(
        tmp_path,
        VCS_MAIL_DKIM_KEY_FILE=str(key),
        VCS_MAIL_DKIM_SELECTOR="vcs2026",
        VCS_MAIL_DKIM_DOMAIN="tikls.example.lv",
    )
    tags = signature_tags(data)
    assert (tags["a"], tags["d"], tags["s"]) == ("ed25519-sha256", "tikls.example.lv", "vcs2026")
    assert read_key(key).record.startswith("v=DKIM1; k=ed25519; p=")
    assert dkim.verify(data, dnsfunc=published(key, "vcs2026._domainkey.tikls.example.lv"))


def test_a_relative_key_path_is_taken_from_the_project_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = rsa_key(tmp_path)
    relative = os.path.relpath(key, PROJECT_DIR)
    assert not Path(relative).is_absolute()
    # Not from the current directory, where the same relative path names nothing.
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert not Path(relative).exists()
    context, [data] = queue_greeting(tmp_path, VCS_MAIL_DKIM_KEY_FILE=relative)
    assert context.settings.path(context.settings.mail.dkim_key_file).resolve() == key.resolve()
    assert dkim.verify(data, dnsfunc=published(key))


def test_every_recipient_gets_their_own_valid_signature(tmp_path: Path) -> None:
    key = rsa_key(tmp_path)
    _context, stored = queue_greeting(tmp_path, count=3, VCS_MAIL_DKIM_KEY_FILE=str(key))
    dns = published(key)
    assert len(stored) == 3
    assert all(dkim.verify(data, dnsfunc=dns) for data in stored)
    assert len({signature_tags(data)["b"] for data in stored}) == 3


def test_a_signed_message_verifies_where_it_arrives_over_smtp(tmp_path: Path) -> None:
    key = rsa_key(tmp_path)
    with smtp_server() as (sink, port):
        context, [stored] = queue_greeting(
            tmp_path,
            VCS_MAIL_URL=f"smtp://127.0.0.1:{port}",
            VCS_MAIL_DKIM_KEY_FILE=str(key),
            VCS_MAIL_REPLY_TO="birojs@example.lv",
        )
        report = Sender(context).run()
        assert report.sent == 1
        [(rcpt, raw)] = sink.messages

    assert rcpt == ["biedrs0@example.lv"]
    # The sender sends the bytes signed at enqueue time, unchanged.
    assert raw == stored
    assert dkim.verify(raw, dnsfunc=published(key))
    assert parse(raw)["Reply-To"] == "birojs@example.lv"
    # Reply-To is present this time: signed once for itself and once more (oversigned).
    assert signature_tags(raw)["h"].split(":").count("reply-to") == 2


def vcs(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vcs", *args],
        env={"PATH": "/usr/bin:/bin", **isolated_environ(tmp_path, **env)},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )


def test_the_dkim_record_command_prints_what_to_publish(tmp_path: Path) -> None:
    key = rsa_key(tmp_path)
    _context, [data] = queue_greeting(tmp_path, VCS_MAIL_DKIM_KEY_FILE=str(key))

    result = vcs(tmp_path, "mail", "dkim-record", VCS_MAIL_DKIM_KEY_FILE=str(key))
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    assert lines["name"].strip() == "vcs._domainkey.example.lv"
    assert lines["type"].strip() == "TXT"
    value = lines["value"].strip()
    assert value.startswith("v=DKIM1; k=rsa; p=")
    # Zone files take strings of at most 255 characters: the record is split, not cut.
    zone = lines["zone"].strip()
    assert zone.startswith('vcs._domainkey.example.lv. IN TXT ( "v=DKIM1; k=rsa; p=')
    strings = re.findall(r'"([^"]*)"', zone)
    assert len(strings) == 2
    assert all(len(string) <= 255 for string in strings)
    assert "".join(strings) == value
    # What the command prints is what verifies the stored message.
    assert dkim.verify(data, dnsfunc=lambda _name, timeout=5: value.encode())


def test_the_dkim_record_command_without_a_key_says_there_is_nothing_to_publish(
    tmp_path: Path,
) -> None:
    result = vcs(tmp_path, "mail", "dkim-record")
    assert result.returncode == 1
    assert result.stderr == (
        "vcs: mail.dkim_key_file is empty: nothing is signed, there is no record\n"
    )


def _ec_key(path: Path) -> Path:
    return write_key(path, ec.generate_private_key(ec.SECP256R1()))


def _encrypted_key(path: Path) -> Path:
    key = rsa.generate_private_key(65537, 2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _text_file(path: Path) -> Path:
    path.write_text("not a key\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda path: path, "no such file: {path}"),
        (_folder, "cannot read {path}: Is a directory"),
        (_text_file, "{path} is not a PEM private key (RSA or Ed25519)"),
        (_ec_key, "{path} holds an ECDSA key; DKIM signs with RSA or Ed25519"),
        (_encrypted_key, "{path} is encrypted; DKIM needs the key without a passphrase"),
    ],
    ids=["missing", "a-folder", "not-a-key", "ecdsa", "encrypted"],
)
def test_an_unusable_key_stops_start_up_with_one_line_naming_the_setting(
    tmp_path: Path, make: Callable[[Path], Path], problem: str
) -> None:
    path = make(tmp_path / "dkim.pem")
    result = vcs(tmp_path, "outbox", "status", VCS_MAIL_DKIM_KEY_FILE=str(path))
    assert result.returncode == 1
    assert result.stderr == (
        "vcs: config: mail.dkim_key_file (VCS_MAIL_DKIM_KEY_FILE): "
        + problem.format(path=path)
        + "\n"
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_the_base64_ed25519_key_file_of_dknewkey_is_read_too(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    path = tmp_path / "vcs.key"
    path.write_bytes(base64.b64encode(seed) + b"\n")
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert read_key(path) == read_key(write_key(tmp_path / "vcs.pem", key))
    assert read_key(path).record == f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}"
