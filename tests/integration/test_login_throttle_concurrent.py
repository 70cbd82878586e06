"""The log-in throttle under real concurrent requests against a running `vcs web`.

Sixty wrong passwords sent at once must cost at most the limit in password checks (each one an
argon2 hash of 64 MiB), must not lock out the account's owner elsewhere, and must leave one
audit entry with their count rather than a row each. The helpers at the top (a server on a free
port, clients from chosen loopback addresses) are shared with test_subscribe_abuse.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TypeVar

import httpx
from sqlalchemy import select

from tests.conftest import free_port, isolated_environ
from vcs.config import load_settings
from vcs.context import Context
from vcs.staff import accounts
from vcs.storage.models import AuditEntry, LoginAttempt

OWNER = "redaktore@example.lv"
PASSWORD = "correct horse battery"
# staff.login_max_failures in config/default.toml.
PER_ACCOUNT_AND_ADDRESS = 5
T = TypeVar("T")


# -- helpers: a real server and clients from chosen addresses -------------------------------------


def environment(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        **isolated_environ(tmp_path, VCS_DATABASE_URL=database_url),
    }


def vcs(environ: dict[str, str], *args: str, stdin: str = "") -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vcs", *args],
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@contextmanager
def web_server(environ: dict[str, str]) -> Iterator[str]:
    """`vcs web` on a free port of 127.0.0.1 (it answers any 127.x address): its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "vcs", "web", "--port", str(port)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


def client_at(base: str, address: str) -> httpx.Client:
    """A client whose requests come from `address` (any of 127.0.0.0/8 reaches the server)."""
    return httpx.Client(
        base_url=base,
        transport=httpx.HTTPTransport(local_address=address),
        timeout=300,
        follow_redirects=False,
    )


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run every call in a thread of its own, all started together."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def context_of(environ: dict[str, str]) -> Context:
    return Context.from_settings(load_settings(environ))


def log_in_form(client: httpx.Client) -> str:
    page = client.get("/staff/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def log_in(client: httpx.Client, token: str, password: str) -> int:
    data = {"email": OWNER, "password": password, "next": "", "csrf_token": token}
    return client.post("/staff/login", data=data).status_code


# -- the tests ------------------------------------------------------------------------------------


def test_sixty_wrong_passwords_at_once_check_at_most_five_and_the_owner_still_gets_in(
    any_database_url: str, tmp_path: Path
) -> None:
    environ = environment(tmp_path, any_database_url)
    vcs(environ, "init")
    vcs(environ, "staff", "add", OWNER, "--role", "editor", "--password-stdin", stdin=PASSWORD)
    with web_server(environ) as base:
        guesser = client_at(base, "127.0.0.1")
        token = log_in_form(guesser)
        answers = at_once([partial(log_in, guesser, token, f"wrong guess {n}") for n in range(60)])
        owner = client_at(base, "127.0.0.2")
        owner_answer = log_in(owner, log_in_form(owner), PASSWORD)

    assert 500 not in answers
    assert answers.count(400) <= PER_ACCOUNT_AND_ADDRESS
    assert answers.count(429) == 60 - answers.count(400)
    context = context_of(environ)
    try:
        with context.database.session() as db:
            # Every password checked leaves one "login-failed" entry: one argon2 hash each.
            checked = db.scalars(select(AuditEntry).where(AuditEntry.action == "login-failed"))
            assert len(checked.all()) == answers.count(400)
            kept = db.scalars(select(LoginAttempt).where(LoginAttempt.address == "127.0.0.1"))
            assert len(kept.all()) == answers.count(400)
            # The refused attempts: one entry with their count, not a row each.
            [refused] = db.scalars(select(AuditEntry).where(AuditEntry.action == "login-throttled"))
            assert refused.after is not None
            assert refused.after["count"] == answers.count(429)
            assert refused.after["address"] == "127.0.0.1"
    finally:
        context.close()
    # The guesser's address is locked; the owner, from another one, is not.
    assert owner_answer == 303


def test_password_checks_beyond_the_slots_wait_their_turn() -> None:
    """At most `size` argon2 checks run at once; the others wait, and none fails."""
    slots = accounts.HashSlots()
    release = threading.Event()
    started = threading.Semaphore(0)

    def check() -> str:
        started.release()
        release.wait(60)
        return "checked"

    async def burst() -> list[str]:
        waiting = [asyncio.ensure_future(slots.run(2, check)) for _ in range(10)]
        for _ in range(2):
            await asyncio.to_thread(started.acquire)
        running_while_held = slots.running
        release.set()
        results = await asyncio.gather(*waiting)
        assert running_while_held == 2
        return list(results)

    assert asyncio.run(burst()) == ["checked"] * 10
    assert slots.peak == 2
