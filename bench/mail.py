"""Benchmark of the outbox: 10,000 recipients through the sender against a bare smtplib loop.

On a throw-away installation (SQLite in a temporary folder) it

1. starts an aiosmtpd sink (`aiosmtpd.handlers.Sink`: accepts and discards) in a process of its
   own on a free loopback port, so the sink does not share a GIL with what it measures;
2. queues one message with an .ics attachment for 10,000 members, one content for all as
   `vcs digest send` has one per language (`outbox.enqueue_for_members()` makes it into a
   message once and fills in each member's address and links), and reports how long that took;
3. in a fresh process, drains the outbox with `Sender` over `--connections` SMTP connections
   (claiming, sending, recording each delivery as the real sender does) and reports its rate and
   its peak memory (max RSS);
4. in another fresh process, sends one pre-rendered message to the same 10,000 recipients over
   the same number of connections with nothing but smtplib, and reports its rate.

It prints both rates, the ratio sender/bare (the goal: 0.7x or better) and the sender's peak
memory. Run it from the project root: `.venv/bin/python -m bench.mail` (`--recipients N`,
`--connections N`). Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import load
from tests.conftest import free_port, isolated_environ

# Issue 18: start to last message accepted at >= 0.8x a bare loop of the same messages.
GOAL_RATIO = 0.8


def environment(folder: Path, port: int, connections: int) -> dict[str, str]:
    return {
        **os.environ,
        **isolated_environ(
            folder,
            VCS_BASE_URL="https://tikls.example.lv",
            VCS_MAIL_URL=f"smtp://127.0.0.1:{port}",
            VCS_MAIL_CONCURRENCY=str(connections),
            VCS_LOG_LEVEL="warning",
        ),
    }


def start_sink(port: int) -> subprocess.Popen[bytes]:
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Sink"],
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=1) as smtp:
                smtp.noop()
            return sink
        except OSError:
            if time.monotonic() > deadline:
                sink.kill()
                raise
            time.sleep(0.05)


def fill_outbox(recipients: int) -> tuple[float, Path]:
    """Queue the message for `recipients` members; return the seconds it took and one message."""
    from tests.mail_factories import add_members, greeting
    from vcs.bootstrap import initialise
    from vcs.config import load_settings
    from vcs.context import Context
    from vcs.mail import outbox
    from vcs.storage.models import Delivery, Member

    context = Context.from_settings(load_settings())
    initialise(context)
    ids = add_members(context, recipients)
    # As `vcs digest send` does: the same content for every reader of a language.
    content = greeting(outbox.Recipient(address="", name="kolēģi"))
    started = time.perf_counter()
    with context.database.session() as db:
        members = db.scalars(outbox.select(Member).where(Member.id.in_(ids))).all()
        outbox.enqueue_for_members(
            db, context.settings, kind="digest", ref="digest:bench", members=members,
            compose=lambda _recipient: content, now=context.clock.now(),
        )  # fmt: skip
    seconds = time.perf_counter() - started
    with context.database.session() as db:
        one = db.scalars(outbox.select(Delivery).limit(1)).one()
        path = Path(tempfile.gettempdir()) / f"vcs-bench-message-{os.getpid()}.eml"
        path.write_bytes(__import__("zlib").decompress(one.raw_message))
    context.close()
    return seconds, path


def run_sender() -> dict[str, float]:
    from vcs.config import load_settings
    from vcs.context import Context
    from vcs.mail.sender import Sender

    context = Context.from_settings(load_settings())
    started = time.perf_counter()
    report = Sender(context).run()
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    return {"sent": report.sent, "seconds": seconds, "maxrss_kib": usage.ru_maxrss, "cpu": cpu}


def run_bare(port: int, message: Path, recipients: int, connections: int) -> dict[str, float]:
    data = message.read_bytes()
    share = [recipients // connections + (n < recipients % connections) for n in range(connections)]
    sent = [0] * connections

    def loop(n: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            for i in range(share[n]):
                smtp.sendmail("tikls@example.lv", [f"bare{n}-{i}@example.lv"], data)
                sent[n] += 1

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    return {"sent": sum(sent), "seconds": time.perf_counter() - started, "cpu": cpu}


def child(mode: str, argv: list[str], env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.mail", mode, *argv],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="all", choices=["all", "sender", "bare"])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--message", type=Path)
    args = parser.parse_args()
    if args.mode == "sender":
        print(json.dumps(run_sender()))
        return 0
    if args.mode == "bare":
        print(json.dumps(run_bare(args.port, args.message, args.recipients, args.connections)))
        return 0

    with tempfile.TemporaryDirectory(prefix="vcs-bench-mail-") as tmp:
        folder = Path(tmp)
        port = free_port()
        env = environment(folder, port, args.connections)
        os.environ.update(env)
        sink = start_sink(port)
        try:
            enqueue_seconds, message = fill_outbox(args.recipients)
            sender = child("sender", [], env)
            bare = child(
                "bare",
                ["--port", str(port), "--message", str(message),
                 "--recipients", str(args.recipients), "--connections", str(args.connections)],
                env,
            )  # fmt: skip
            message.unlink()
        finally:
            sink.terminate()
            sink.wait()

    n = args.recipients
    sender_rate = sender["sent"] / sender["seconds"]
    bare_rate = bare["sent"] / bare["seconds"]
    ratio = sender_rate / bare_rate
    print(f"recipients {n}, connections {args.connections}, message {message.name}")
    print(f"enqueue (render + store):  {enqueue_seconds:7.1f} s  {n / enqueue_seconds:7.0f} msg/s")
    print(f"outbox sender:             {sender['seconds']:7.1f} s  {sender_rate:7.0f} msg/s"
          f"  ({int(sender['sent'])} sent)")  # fmt: skip
    print(f"bare smtplib loop:         {bare['seconds']:7.1f} s  {bare_rate:7.0f} msg/s"
          f"  ({int(bare['sent'])} sent)")  # fmt: skip
    verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
    print(f"ratio sender/bare:         {ratio:.2f}x  (goal {GOAL_RATIO:.2f}x: {verdict})")
    # Issue 18's figure: from the start (rendering each recipient's message) to the last one
    # accepted, against the bare loop sending a pre-rendered message.
    whole_rate = n / (enqueue_seconds + sender["seconds"])
    whole_ratio = whole_rate / bare_rate
    print(f"start to last accepted:    {whole_ratio:.2f}x the bare loop ({whole_rate:.0f} msg/s)")
    load.record_rows(
        [
            load.Row(
                f"digest, {n:,} recipients, start to last sent / bare",
                f"{whole_rate:,.0f} msg/s",
                f"{bare_rate:,.0f} msg/s",
                whole_ratio,
                f">= {GOAL_RATIO}x",
                whole_ratio >= GOAL_RATIO,
            ),
            load.Row(
                "  of which: outbox sender alone / bare",
                f"{sender_rate:,.0f} msg/s",
                f"{bare_rate:,.0f} msg/s",
                ratio,
                "-",
                None,
            ),
        ]
    )
    # The sink shares the machine: CPU the sender spends is CPU the sink does not get.
    print(f"CPU seconds (whole process): sender {sender['cpu']:.1f}, bare loop {bare['cpu']:.1f}")
    print(f"sender peak memory (max RSS): {sender['maxrss_kib'] / 1024:.0f} MiB")
    return 0 if sender["sent"] == n and bare["sent"] == n else 1


if __name__ == "__main__":
    raise SystemExit(main())
