"""Certificate codes: unguessable, easy to read from paper and to type back.

A code is 12 characters of an alphabet without the look-alikes 0/O and 1/I (32 characters, so
60 random bits: at the rate the verification page allows, guessing one would take longer than
the network will exist), printed in three groups of four: "K7MQ-3XTP-9RDW". What people type
back is read leniently: lower case, spaces or missing dashes are the same code.
"""

from __future__ import annotations

import secrets

from vcs.config import Settings

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 12
GROUP = 4


def new_code() -> str:
    """A fresh random code, grouped for reading."""
    return grouped("".join(secrets.choice(ALPHABET) for _ in range(LENGTH)))


def grouped(letters: str) -> str:
    """Letters in groups of four joined by dashes, as codes are stored and printed."""
    return "-".join(letters[i : i + GROUP] for i in range(0, len(letters), GROUP))


def normalised(text: str) -> str | None:
    """The stored form of a code as someone typed or scanned it; None when it cannot be one."""
    letters = "".join(ch for ch in text[:64].upper() if ch.isalnum())
    if len(letters) != LENGTH or any(ch not in ALPHABET for ch in letters):
        return None
    return grouped(letters)


def certificate_url(settings: Settings, code: str) -> str:
    """The public verification page of a certificate: in its QR code and under it."""
    return f"{settings.base_url}/certificates/{code}"
