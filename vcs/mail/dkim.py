"""DKIM signatures (RFC 6376) on every message vcs sends, made once, when a message is queued.

The outbox stores the signed bytes, so a retry hours later sends the very same signature. The key
is read from `mail.dkim_key_file` once and kept in memory; `check_settings` reads it when a process
starts (the `vcs` commands, the web workers), so an unusable key stops start-up with one line.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from vcs.config import Settings

# The headers the signature covers, in this order (docs/mail.md). Gmail and Yahoo require
# List-Unsubscribe and List-Unsubscribe-Post among them for one-click unsubscribe (RFC 8058).
SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
)
# Named once more than they occur ("oversigned", RFC 6376 section 8.15): adding a second From or
# Subject, or a Reply-To to a message without one, breaks the signature.
OVERSIGNED = frozenset({"from", "to", "subject", "date", "message-id", "reply-to"})
# Receivers must not accept shorter RSA keys (RFC 8301); 2048 bits is what to generate.
MIN_RSA_BITS = 1024
# A selector or a domain: DNS labels separated by dots.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")

_OTHER_KINDS = (
    (ec.EllipticCurvePrivateKey, "an ECDSA"),
    (dsa.DSAPrivateKey, "a DSA"),
    (ed448.Ed448PrivateKey, "an Ed448"),
)


class KeyProblem(Exception):
    """The DKIM key file cannot be used; the message says why, in one line."""


@dataclass(frozen=True)
class SigningKey:
    """A private key as dkimpy takes it, and the public half for the DNS record."""

    algorithm: bytes  # b"rsa-sha256" or b"ed25519-sha256"
    # PKCS#1 PEM (RSA) or the base64 Ed25519 seed, the forms dkimpy reads; never in a repr.
    private: bytes = field(repr=False)
    record: str  # the TXT record: "v=DKIM1; k=rsa; p=..."


def read_key(path: Path) -> SigningKey:
    """The RSA or Ed25519 private key in a PEM file (or dkimpy's base64 Ed25519 key file)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyProblem(f"no such file: {path}") from None
    except OSError as exc:
        raise KeyProblem(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN" not in data:
        return _raw_ed25519(path, data)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyProblem(f"{path} is encrypted; DKIM needs the key without a passphrase") from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyProblem(f"{path} is not a PEM private key (RSA or Ed25519)") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyProblem(f"{path}: a {key.key_size}-bit RSA key is too short; use 2048 bits")
        # Written out again as PKCS#1 with LF line ends: the one PEM form dkimpy's parser is sure
        # to read, whatever form and line ends the file has.
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return SigningKey(b"rsa-sha256", private, _record("rsa", public))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        seed = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return _ed25519(seed)
    kind = next((name for cls, name in _OTHER_KINDS if isinstance(key, cls)), "another kind of")
    raise KeyProblem(f"{path} holds {kind} key; DKIM signs with RSA or Ed25519")


def _raw_ed25519(path: Path, data: bytes) -> SigningKey:
    # What `dknewkey --ktype ed25519` writes: the 32-byte seed in base64, nothing else.
    try:
        seed = base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        seed = b""
    if len(seed) != 32:
        raise KeyProblem(f"{path} is not a PEM private key (RSA or Ed25519)")
    return _ed25519(seed)


def _ed25519(seed: bytes) -> SigningKey:
    public = (
        ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return SigningKey(b"ed25519-sha256", base64.b64encode(seed), _record("ed25519", public))


def _record(kind: str, public: bytes) -> str:
    return f"v=DKIM1; k={kind}; p={base64.b64encode(public).decode('ascii')}"


def is_dns_name(value: str) -> bool:
    """Whether `value` can be a selector or a signing domain (DNS labels with dots)."""
    return len(value) <= 253 and _DNS_NAME.fullmatch(value) is not None


def signing_domain(settings: Settings) -> str:
    """mail.dkim_domain, or else the domain of mail.from_address (what DMARC aligns with)."""
    return settings.mail.dkim_domain or settings.mail.from_address.rpartition("@")[2]


@dataclass(frozen=True)
class Signer:
    """Signs messages with one key, selector and domain."""

    key: SigningKey
    selector: str
    domain: str

    @property
    def dns_name(self) -> str:
        """Where receivers look up the public key: <selector>._domainkey.<domain>."""
        return f"{self.selector}._domainkey.{self.domain}"

    def sign(self, data: bytes) -> bytes:
        """The message (RFC 5322 bytes, CRLF line ends) with a DKIM-Signature on top."""
        # Imported when signing: dkimpy brings a DNS resolver that no other command needs.
        import dkim

        message = dkim.DKIM(data, signature_algorithm=self.key.algorithm, linesep=b"\r\n")
        present = [bytes(name).lower() for name, _value in message.headers]
        include = []
        for name in SIGNED_HEADERS:
            lower = name.lower()
            count = present.count(lower.encode("ascii")) + (lower in OVERSIGNED)
            include += [name.encode("ascii")] * count
        header = message.sign(
            self.selector.encode("ascii"),
            self.domain.encode("ascii"),
            self.key.private,
            # relaxed/relaxed: survives relays that re-fold headers or trim trailing spaces.
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=include,
        )
        return bytes(header) + data

    def zone_line(self) -> str:
        """The record as a line for a BIND zone file, split into strings of at most 255 bytes."""
        record = self.key.record
        strings = " ".join(f'"{record[i : i + 255]}"' for i in range(0, len(record), 255))
        return f"{self.dns_name}. IN TXT ( {strings} )"


def check_settings(settings: Settings) -> None:
    """Refuse DKIM settings that cannot sign: ConfigError naming the setting, in one line."""
    mail = settings.mail
    if not mail.dkim_key_file:
        return
    if not is_dns_name(mail.dkim_selector):
        raise settings.error(
            "mail.dkim_selector", f'must be a DNS label like "vcs2026", not {mail.dkim_selector!r}'
        )
    if mail.dkim_domain and not is_dns_name(mail.dkim_domain):
        raise settings.error(
            "mail.dkim_domain", f"must be empty or a domain name, not {mail.dkim_domain!r}"
        )
    signer(settings)


@functools.lru_cache(maxsize=8)
def signer(settings: Settings) -> Signer | None:
    """The signer the settings configure (the key read once per process); None when unsigned."""
    if not settings.mail.dkim_key_file:
        return None
    try:
        key = read_key(settings.path(settings.mail.dkim_key_file))
    except KeyProblem as exc:
        raise settings.error("mail.dkim_key_file", str(exc)) from None
    return Signer(key, settings.mail.dkim_selector, signing_domain(settings))


def sign(settings: Settings, data: bytes) -> bytes:
    """The message signed when mail.dkim_key_file is set; else unchanged."""
    configured = signer(settings)
    return configured.sign(data) if configured else data
