"""What DKIM signing costs per message: RSA-2048 and Ed25519, on a digest-sized message.

Signs the same message N times with each key through `vcs.mail.dkim.Signer` (as the outbox
does for every message when `mail.dkim_key_file` is set) and prints the CPU per message.
`.venv/bin/python -m bench.dkim_cost [--messages N] [--size KIB]`; it records its rows for
`make bench-all` (bench/load.py).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from bench import load
from vcs.mail.dkim import Signer, read_key


def message(size_kib: int) -> bytes:
    head = (
        b"From: Tikls <tikls@example.lv>\r\nTo: anna@example.lv\r\n"
        b"Subject: =?utf-8?q?Ned=C4=93=C4=BCas_zi=C5=86as?=\r\n"
        b"Date: Sun, 29 Nov 2026 10:00:00 +0000\r\n"
        b"Message-ID: <bench@example.lv>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    line = "Jaunatnes lietu speciālistu videokonference ceturtdien, 10.00.\r\n".encode()
    return head + line * (size_kib * 1024 // len(line) + 1)


def key_file(folder: Path, name: str, key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> Path:
    path = folder / name
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def cpu_ms_per_message(signer: Signer, data: bytes, count: int) -> float:
    signer.sign(data)
    began = time.process_time()
    for _ in range(count):
        signer.sign(data)
    return (time.process_time() - began) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--size", type=int, default=40, help="message size in KiB")
    args = parser.parse_args()
    data = message(args.size)
    rows = []
    with tempfile.TemporaryDirectory(prefix="vcs-bench-dkim-") as tmp:
        folder = Path(tmp)
        keys = {
            "RSA-2048": key_file(folder, "rsa.pem", rsa.generate_private_key(65537, 2048)),
            "Ed25519": key_file(folder, "ed.pem", ed25519.Ed25519PrivateKey.generate()),
        }
        for name, path in keys.items():
            signer = Signer(read_key(path), "vcs", "example.lv")
            ms = cpu_ms_per_message(signer, data, args.messages)
            load.say(f"DKIM {name}: {ms:.2f} ms CPU per {len(data) // 1024} KiB message")
            what = f"DKIM signing, {name}, per message"
            rows.append(load.Row(what, f"{ms:.2f} ms", "", None, "-", None))
    load.record_rows(rows)


if __name__ == "__main__":
    main()
