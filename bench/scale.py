"""Load test of a scaled-out installation: two web workers on PostgreSQL under wrk, while the
scheduler's work runs beside them.

On a throw-away PostgreSQL database (created on 127.0.0.1:5432 and dropped afterwards) it

1. imports ten series held on every working day (about 1,300 sessions, through the same import
   path as `vcs series import`) and `--members` active members,
   and drafts and queues a digest for all of them (its rendering time is reported, not loaded);
2. starts `vcs web --workers 2` and an aiosmtpd sink (its own process), then, for the whole
   load, keeps the scheduler's work going: `vcs outbox send` drains the digest into the sink at
   `--mail-rate` messages a second, and `vcs jobs run materialize` runs again and again;
3. loads `/calendar.ics`, `/sessions/{id}` and `/api/sessions` in turn with
   `wrk -t2 -c64 -d10s --latency` and prints requests per second, p99 latency and errors for
   each; any socket error or non-2xx/3xx answer fails the run (exit 1), as does a digest that did
   not finish sending or a materialize run that failed.

Run it from the project root: `.venv/bin/python -m bench.scale` (`make bench-scale` installs
wrk when missing and you are root). Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, func, select, text

from bench import load
from bench.load import (
    BenchError,
    fetch,
    free_port,
    started,
    stop,
    tool,
    wait_until_serving,
)
from bench.load import run_wrk as wrk_once
from tests.mail_factories import add_members
from vcs.bootstrap import initialise
from vcs.config import database_url, load_settings
from vcs.context import Context
from vcs.digest import draft
from vcs.digest import send as queue_digest
from vcs.planning.series import SeriesSpec, import_series
from vcs.storage.models import Delivery, Session

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PATHS = ("/calendar.ics", "/sessions/{id}", "/api/sessions")
# Materialize runs are spaced so they overlap the load, not replace it.
MATERIALIZE_PAUSE_SECONDS = 1.0
API_P99_GOAL_MS = 50
SEND_TIMEOUT_SECONDS = 300


def say(line: str = "") -> None:
    print(line, flush=True)


def create_database(name: str) -> str:
    admin = create_engine(database_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_database(name: str) -> None:
    admin = create_engine(database_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def environment(folder: Path, url: str, smtp_port: int, web_port: int, rate: int) -> dict[str, str]:
    return {
        **os.environ,
        "VCS_DATABASE_URL": url,
        "VCS_MAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "VCS_MAIL_RATE_PER_SECOND": str(rate),
        "VCS_SCHEDULER_LOCK_FILE": str(folder / "scheduler.lock"),
        "VCS_SCHEDULER_ENABLED": "false",
        "VCS_WEB_PORT": str(web_port),
        "VCS_LOG_LEVEL": "warning",
    }


SERIES = 10
RIGA = ZoneInfo("Europe/Riga")


def series_specs(now: dt.datetime) -> list[SeriesSpec]:
    """Ten series on every working day from next Monday, as staff would import them: real rules
    that materialize can check, about 1,300 sessions in the 180-day horizon."""
    local = now.astimezone(RIGA)
    monday = (local + dt.timedelta(days=7 - local.weekday())).date()
    regions = [None, "kurzeme", "zemgale", "vidzeme", "latgale", "riga"]
    return [
        SeriesSpec(
            slug=f"darba-dienu-serija-{n}",
            title_lv=f"Darba dienu sērija {n}: jauniešu līdzdalība",
            title_en=f"Working-day series {n}: youth participation",
            rrule="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
            start_local=dt.datetime.combine(monday, dt.time(9 + n % 8)),
            timezone="Europe/Riga",
            duration_minutes=90,
            region=regions[n % len(regions)],
            organiser_name="Jaunatnes lietu atbalsta tīkls",
            organiser_email="tikls@example.lv",
        )
        for n in range(SERIES)
    ]


def fill(environ: dict[str, str], members: int) -> tuple[int, int, float]:
    """The sessions, the members and a queued digest; returns a session id, deliveries, seconds."""
    context = Context.from_settings(load_settings(environ))
    try:
        initialise(context)
        now = context.clock.now()
        import_series(context, series_specs(now), actor="bench")
        add_members(context, members)
        began = time.perf_counter()
        with context.database.session() as db:
            digest, _new = draft(db, context.settings, now, "bench")
            queued = queue_digest(db, context.settings, digest, now, "bench")
        seconds = time.perf_counter() - began
        with context.database.session() as db:
            upcoming = select(Session.id).where(Session.start > now, Session.status == "scheduled")
            session_id = db.scalars(upcoming.order_by(Session.start).limit(1)).one()
    finally:
        context.close()
    return session_id, queued, seconds


def start_sink(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
    return subprocess.Popen([*command, "-c", "aiosmtpd.handlers.Sink"])


def materialize_until(environ: dict[str, str], done: threading.Event, runs: list[int]) -> None:
    """`vcs jobs run materialize` again and again until `done`; counts ok (0) and failed runs."""
    while not done.is_set():
        result = subprocess.run(
            [sys.executable, "-m", "vcs", "jobs", "run", "materialize"],
            env=environ,
            cwd=ROOT,
            capture_output=True,
            timeout=120,
            check=False,
        )
        runs.append(result.returncode)
        if result.returncode and len(runs) == 1:
            say(f"materialize failed: {result.stderr.decode(errors='replace').strip()[-600:]}")
        done.wait(MATERIALIZE_PAUSE_SECONDS)


def outbox_counts(environ: dict[str, str]) -> dict[str, int]:
    engine = create_engine(database_url(environ["VCS_DATABASE_URL"]))
    with engine.connect() as connection:
        rows = connection.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        ).all()
    engine.dispose()
    return {str(status): int(count) for status, count in rows}


def measure(folder: Path, members: int, rate: int) -> int:
    wrk = tool("wrk")
    name = f"vcs_scale_{os.getpid()}"
    url = create_database(name)
    smtp_port, web_port = free_port(), free_port()
    environ = environment(folder, url, smtp_port, web_port, rate)
    try:
        session_id, queued, render_seconds = fill(environ, members)
        say(f"vcs scale-out load test, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
        say(f"machine: {os.cpu_count()} CPUs; PostgreSQL database {name} (dropped afterwards)")
        say(
            f"data: {SERIES} series with their sessions; {members} members; "
            f"a digest queued for {queued} "
            f"(rendered and stored in {render_seconds:.1f} s)"
        )
        sink = start_sink(smtp_port)
        failures: list[str] = []
        try:
            web_log = folder / "web.log"
            with started(
                [sys.executable, "-m", "vcs", "web", "--workers", "2"], web_log, environ
            ) as web:
                wait_until_serving(web, web_port, "/healthz", web_log)
                for path in PATHS:  # warm both workers' caches
                    for _ in range(4):
                        fetch(web_port, path.format(id=session_id))
                done = threading.Event()
                runs: list[int] = []
                materializer = threading.Thread(
                    target=materialize_until, args=(environ, done, runs), daemon=True
                )
                sender_log = folder / "sender.log"
                with started(
                    [sys.executable, "-m", "vcs", "outbox", "send"], sender_log, environ
                ) as sender:
                    materializer.start()
                    say(
                        f"during the load: `vcs outbox send` at {rate} messages/s and "
                        "`vcs jobs run materialize` in a loop"
                    )
                    say(f"wrk {' '.join(load.WRK_ARGS)} against `vcs web --workers 2`:")
                    for path in PATHS:
                        target = path.format(id=session_id)
                        result = wrk_once(wrk, web_port, web.pid, target)
                        errors = result.errors or "none"
                        say(
                            f"  {path:<16} {result.requests_per_second:9.1f} req/s  "
                            f"p99 {result.p99_ms:7.1f} ms  {result.requests:7d} requests  "
                            f"socket errors: {errors}  non-2xx/3xx: {result.non_2xx}"
                        )
                        if result.errors or result.non_2xx:
                            failures.append(f"{path}: errors under load")
                        if path == "/api/sessions":
                            load.record_rows(
                                [
                                    load.Row(
                                        "/api/sessions p99, 2 workers, mail + materialize",
                                        f"{result.p99_ms:.1f} ms",
                                        "",
                                        None,
                                        f"<= {API_P99_GOAL_MS} ms",
                                        result.p99_ms <= API_P99_GOAL_MS,
                                        result.other_cpus,
                                    )
                                ]
                            )
                    still_sending = sender.poll() is None
                    done.set()
                    materializer.join(180)
                    began = time.monotonic()
                    while sender.poll() is None:
                        if time.monotonic() - began > SEND_TIMEOUT_SECONDS:
                            stop(sender)
                            failures.append("the digest did not finish sending in time")
                            break
                        time.sleep(0.5)
                counts = outbox_counts(environ)
                say(
                    f"materialize: {len(runs)} runs during the load, "
                    f"{sum(1 for code in runs if code)} failed"
                )
                say(
                    f"digest: still sending when the load ended: {'yes' if still_sending else 'no'}"
                    f"; outbox afterwards: {counts}"
                )
                if any(runs):
                    failures.append("a materialize run failed")
                if counts.get("sent", 0) != queued:
                    failures.append(f"{counts.get('sent', 0)} of {queued} digest e-mails sent")
        finally:
            sink.terminate()
            sink.wait(10)
    finally:
        drop_database(name)
    if failures:
        say("FAILED: " + "; ".join(failures))
        return 1
    say("zero errors")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=3000)
    parser.add_argument("--mail-rate", type=int, default=100, help="messages a second")
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory(prefix="vcs-scale-") as folder:
            code = measure(Path(folder), args.members, args.mail_rate)
    except BenchError as exc:
        say(f"bench: {exc}")
        code = 2
    raise SystemExit(code)


if __name__ == "__main__":
    main()
