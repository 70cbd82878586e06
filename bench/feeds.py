"""Benchmark of the calendar feeds: a 2,000-session /calendar.ics, built cold and served hot.

What it measures, on a throw-away installation (SQLite in a temporary folder, no scheduler):

1. Cold build. 2,000 sessions in 10 public series (national and regional; some with topics,
   speakers, another venue, a recording, a provisioned livestream; a few moved or cancelled) lie
   inside the feed window. A fresh Python process then builds `/calendar.ics` the way the web app
   does (`network_feed(...)` and `build_calendar(...)`): the wall time of that first build (split
   into the query and the iCalendar text), the peak traced memory of a build (tracemalloc) and the
   process's max RSS (getrusage), plus the byte size and the number of VEVENTs.
2. Serving. `vcs web --workers 1` (the deployment command: one uvicorn worker, its access log
   on) and nginx (one worker process, no gzip, no access log, sendfile) serve the same bytes; each
   is loaded in turn with `wrk -t1 -c16 -d10s --latency` on loopback. It prints requests per
   second, p99 latency, the ratio vcs/nginx and whether the goal of issue 4 is met: the cached
   feed is served at 0.5x nginx or better with one worker. It also prints how many CPUs the
   server, wrk and every other process kept busy during each run: the machine is shared, and a
   run disturbed by other work (a warning says so) compares nothing. `--rounds N` alternates N
   runs per server and compares the best of each.

Before the load it checks that vcs answers from its feed cache: two responses carry the same
strong ETag and bytes, the second is much faster than the first, If-None-Match gives 304, and the
bytes nginx serves are identical.

Run it from the project root with `make bench` (installs nginx and wrk with apt-get when they are
missing and you are root), or `.venv/bin/python -m bench.feeds` when they are installed. It exits
0 when everything ran, whether or not the goal is met, and non-zero when something failed.
`--keep` keeps the temporary folder (database, logs, nginx.conf) for a look afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from vcs.bootstrap import initialise
from vcs.config import Settings, load_settings
from vcs.context import Context
from vcs.feeds.calendars import build_calendar, network_feed, window
from vcs.network import read_network
from vcs.storage.models import Livestream, Region, Series, Session

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = 2000
FEED_PATH = "/calendar.ics"
WRK_ARGS = ["-t1", "-c16", "-d10s", "--latency"]
WRK_TIMEOUT_SECONDS = 60
GOAL_RATIO = 0.5
GOAL = f"goal: ratio >= {GOAL_RATIO} with one worker"
RIGA = ZoneInfo("Europe/Riga")
HOST = "127.0.0.1"


class BenchError(Exception):
    """Something the benchmark needs did not work; the message says what."""


# --- the installation -----------------------------------------------------------------------


def bench_environ(folder: Path) -> dict[str, str]:
    """VCS_* variables for an installation that lives only in `folder`."""
    return {
        "VCS_DATABASE_URL": f"sqlite:///{folder / 'vcs.sqlite3'}",
        "VCS_MAIL_URL": f"file://{folder / 'outbox'}",
        "VCS_SCHEDULER_LOCK_FILE": str(folder / "scheduler.lock"),
        "VCS_SCHEDULER_ENABLED": "false",
    }


@dataclass(frozen=True)
class SeriesSpec:
    slug: str
    title_lv: str
    title_en: str
    region: str | None
    place: dict[str, str]
    minutes: int
    funded: bool = False


SERIES = [
    SeriesSpec(
        "jaunatnes-lietu-videokonferences",
        "Jaunatnes lietu speciālistu videokonferences",
        "Youth work videoconferences",
        None,
        {"kind": "online"},
        90,
    ),
    SeriesSpec(
        "jaunatnes-politikas-forums",
        "Jaunatnes politikas forums",
        "Youth policy forum",
        None,
        {"kind": "online"},
        120,
        funded=True,
    ),
    SeriesSpec(
        "metodiskie-seminari",
        "Metodiskie semināri „Darbs ar jauniešiem”",
        "Methodology seminars",
        None,
        {"kind": "hybrid", "venue": "Latvijas Pašvaldību savienība", "address": "Mazā Pils iela 1"},
        180,
    ),
    SeriesSpec(
        "digitalais-jaunatnes-darbs",
        "Digitālais jaunatnes darbs; rīki, drošība, pieredze",
        "Digital youth work",
        None,
        {"kind": "online"},
        60,
    ),
    SeriesSpec(
        "kurzemes-pieredzes-apmaina",
        "Kurzemes jaunatnes darbinieku pieredzes apmaiņa",
        "Kurzeme experience sharing",
        "kurzeme",
        {"kind": "hybrid", "venue": "Liepājas jauniešu māja", "address": "Peldu iela 5, Liepāja"},
        180,
        funded=True,
    ),
    SeriesSpec(
        "zemgales-tiksanas",
        "Zemgales jaunatnes lietu speciālistu tikšanās",
        "Zemgale meetings",
        "zemgale",
        {"kind": "venue", "venue": "Jelgavas jauniešu centrs", "address": "Akadēmijas iela 1"},
        150,
    ),
    SeriesSpec(
        "vidzemes-pieredzes-apmaina",
        "Vidzemes pieredzes apmaiņas tikšanās",
        "Vidzeme experience sharing",
        "vidzeme",
        {"kind": "hybrid", "venue": "Valmieras jauniešu centrs „Vinda”", "address": "Valmiera"},
        180,
        funded=True,
    ),
    SeriesSpec(
        "vidzemes-darbnicas",
        "Vidzemes darbnīcas jaunatnes darbiniekiem",
        "Vidzeme workshops",
        "vidzeme",
        {"kind": "online"},
        90,
    ),
    SeriesSpec(
        "latgales-forums",
        "Latgales jaunatnes darba forums",
        "Latgale youth work forum",
        "latgale",
        {"kind": "hybrid", "venue": "Daugavpils jauniešu centrs", "address": "Saules iela 7"},
        120,
        funded=True,
    ),
    SeriesSpec(
        "rigas-regiona-sarunas",
        "Rīgas reģiona jaunatnes lietu sarunas",
        "Rīga region talks",
        "riga",
        {"kind": "online"},
        90,
    ),
]

DESCRIPTION_LV = (
    "Tīkla tikšanās: speciālisti no visas Latvijas stāsta par savu pieredzi darbā ar jaunatni, "
    "pārrunā aktuālos jautājumus, normatīvo aktu izmaiņas un labās prakses piemērus; pēc tam "
    "jautājumi un diskusija. Pieslēgties var ikviens, ieraksts būs pieejams vēlāk."
)
DESCRIPTION_EN = (
    "A network meeting: specialists from all over Latvia share their experience of youth work, "
    "discuss current issues, changes in regulations and examples of good practice; then "
    "questions and discussion. Anyone can join; the recording is published later."
)
FUNDING_LV = "Tikšanās notiek ar Eiropas Sociālā fonda Plus atbalstu."
FUNDING_EN = "The meetings are supported by the European Social Fund Plus."
TOPICS = [
    ("Jauniešu līdzdalība pašvaldības lēmumos", "Youth participation in local decisions"),
    ("Mobilais jaunatnes darbs laukos", "Mobile youth work in the countryside"),
    ("NEET jaunieši: kā viņus sasniegt?", "NEET youth: how to reach them?"),
    ("Jauniešu centru finansējums, 2026", "Funding youth centres, 2026"),
    ("Brīvprātīgais darbs un Eiropas Solidaritātes korpuss", "Volunteering and the ESC"),
]
SPEAKERS = [
    {"name": "Anna Bērziņa", "role": "jaunatnes lietu speciāliste", "organisation": "Cēsu novads"},
    {"name": "Jānis Kalniņš", "role": "", "organisation": "IZM Jaunatnes politikas nodaļa"},
    {"name": "Līga Ozola", "role": "pētniece", "organisation": ""},
    {"name": "Mārtiņš Liepiņš", "role": "jauniešu centra vadītājs", "organisation": "Ogre"},
]
OTHER_VENUES = [
    {"kind": "venue", "venue": "Talsu jauniešu māja", "address": "Kareivju iela 7, Talsi"},
    {"kind": "hybrid", "venue": "Rēzeknes jauniešu centrs", "address": "Atbrīvošanas aleja 95"},
    {"kind": "venue", "venue": "Bauskas kultūras centrs", "address": "Rīgas iela 2, Bauska"},
]


@dataclass(frozen=True)
class Population:
    sessions: int
    series: int
    regional_series: int
    with_topic: int
    with_speakers: int
    place_overrides: int
    moved: int
    cancelled: int
    with_recording: int
    livestreams: int
    seconds: float


def populate(context: Context, now: dt.datetime) -> Population:
    """2,000 public sessions inside the feed window, inserted through the ORM in one go."""
    settings = context.settings
    start, end = window(now, settings)
    # A day of margin at both ends, so sessions moved by a day stay inside the window.
    first_day = (start + dt.timedelta(days=2)).astimezone(RIGA).date()
    span_days = (end - start).days - 5
    host = settings.host
    counts = dict.fromkeys(
        ("topic", "speakers", "place", "moved", "cancelled", "recording", "livestream"), 0
    )
    began = time.perf_counter()
    with context.database.session() as db:
        regions = {r.slug: r for r in db.scalars(select(Region))}
        all_series = []
        for spec in SERIES:
            series = Series(
                slug=spec.slug,
                title_lv=spec.title_lv,
                title_en=spec.title_en,
                description_lv=DESCRIPTION_LV,
                description_en=DESCRIPTION_EN,
                rrule="FREQ=WEEKLY;BYDAY=TH",
                start_local=dt.datetime.combine(first_day, dt.time(10)),
                timezone="Europe/Riga",
                duration_minutes=spec.minutes,
                place=spec.place,
                organiser_name="Jaunatnes lietu atbalsta tīkls",
                organiser_email=f"{spec.slug[:20]}@example.lv",
                region=regions[spec.region] if spec.region else None,
                tags=["jaunatnes politika", "pieredze, prakse"],
                livestream_provider="static",
                livestream_settings={"watch_url": f"https://meet.jit.si/{spec.slug}-{{date}}"},
                funding_text_lv=FUNDING_LV if spec.funded else "",
                funding_text_en=FUNDING_EN if spec.funded else "",
                funding_project="4.2.4.1/1/24/I/001" if spec.funded else "",
            )
            db.add(series)
            all_series.append((spec, series))
        for i in range(SESSIONS):
            spec, series = all_series[i % len(all_series)]
            day = first_day + dt.timedelta(days=i * span_days // SESSIONS)
            local = dt.datetime.combine(day, dt.time(10 + 2 * (i % 3)), tzinfo=RIGA)
            original = local.astimezone(dt.UTC)
            session = Session(
                series=series,
                original_start=original,
                uid=f"{uuid.uuid4()}@{host}",
                start=original,
                end=original + dt.timedelta(minutes=spec.minutes),
                revision=0,
            )
            if i % 3 == 0:
                topic_lv, topic_en = TOPICS[i % len(TOPICS)]
                session.topic_lv, session.topic_en = topic_lv, topic_en
                counts["topic"] += 1
            if i % 4 == 1:
                session.speakers = SPEAKERS[: 1 + i % len(SPEAKERS)]
                counts["speakers"] += 1
            if spec.region and i % 9 == 2:
                session.place = OTHER_VENUES[i % len(OTHER_VENUES)]
                counts["place"] += 1
            if i % 41 == 5:
                # Moved by staff by a day: same UID, higher SEQUENCE.
                session.start += dt.timedelta(days=1)
                session.end += dt.timedelta(days=1)
                session.edited = True
                session.revision = 2
                counts["moved"] += 1
            if session.end < now:
                session.live_status = "ended"
                if i % 2 == 0:
                    session.recording_url = f"https://www.youtube.com/watch?v=bench{i:05d}"
                    counts["recording"] += 1
            elif i % 67 == 7:
                # Cancelled ones stay in feeds until their date passes: only future ones here.
                session.status = "cancelled"
                session.cancel_reason = "Lektors saslima; jauns datums sekos."
                session.revision += 1
                counts["cancelled"] += 1
            elif spec.slug == "jaunatnes-lietu-videokonferences":
                session.livestream = Livestream(
                    provider="youtube",
                    external_id=f"bench{i:05d}",
                    watch_url=f"https://www.youtube.com/watch?v=live{i:05d}",
                    embed_url=f"https://www.youtube.com/embed/live{i:05d}",
                    status="created",
                    synced_revision=session.revision,
                )
                counts["livestream"] += 1
            db.add(session)
    return Population(
        sessions=SESSIONS,
        series=len(SERIES),
        regional_series=sum(1 for spec in SERIES if spec.region),
        with_topic=counts["topic"],
        with_speakers=counts["speakers"],
        place_overrides=counts["place"],
        moved=counts["moved"],
        cancelled=counts["cancelled"],
        with_recording=counts["recording"],
        livestreams=counts["livestream"],
        seconds=time.perf_counter() - began,
    )


# --- the cold build, in a fresh process -----------------------------------------------------


def max_rss_mib() -> float:
    """The process's max RSS so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_build() -> dict[str, Any]:
    """Build /calendar.ics three times in this (fresh) process: cold, traced, warm."""
    settings = load_settings()
    context = Context.from_settings(settings)
    name = read_network(settings.path(settings.network.file)).name["lv"]
    rss_before = max_rss_mib()

    def build() -> tuple[float, float, int, bytes]:
        now = context.clock.now()
        began = time.perf_counter()
        with context.database.session() as db:
            feed = network_feed(db, now, settings, name, "lv")
            queried = time.perf_counter()
            body = build_calendar(feed, settings, "lv")
        return queried - began, time.perf_counter() - queried, len(feed.sessions), body

    query_s, ical_s, sessions, body = build()
    rss_cold = max_rss_mib()
    tracemalloc.start()
    build()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    warm_query_s, warm_ical_s, _, _ = build()
    context.close()
    return {
        "sessions": sessions,
        "bytes": len(body),
        "vevents": body.count(b"BEGIN:VEVENT\r\n"),
        "vtimezones": body.count(b"BEGIN:VTIMEZONE\r\n"),
        "sha256": hashlib.sha256(body).hexdigest(),
        "cold_query_s": query_s,
        "cold_ical_s": ical_s,
        "warm_query_s": warm_query_s,
        "warm_ical_s": warm_ical_s,
        "traced_peak_mib": traced_peak / 2**20,
        "rss_before_mib": rss_before,
        "rss_after_cold_mib": rss_cold,
        "rss_max_mib": max_rss_mib(),
    }


def run_build_measurement(environ: Mapping[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.feeds", "--measure-build"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"the build measurement failed:\n{result.stderr.strip()}")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


# --- processes, ports and HTTP --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


def fetch(port: int, path: str, headers: Mapping[str, str] | None = None) -> Reply:
    connection = http.client.HTTPConnection(HOST, port, timeout=120)
    try:
        began = time.perf_counter()
        connection.request("GET", path, headers=dict(headers or {}))
        response = connection.getresponse()
        body = response.read()
        seconds = time.perf_counter() - began
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, body, seconds
        )
    finally:
        connection.close()


def log_tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_until_serving(
    process: subprocess.Popen[bytes], port: int, path: str, log: Path, limit: float = 60
) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"the server exited with {process.returncode}:\n{log_tail(log)}")
        try:
            if fetch(port, path).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchError(f"nothing answered {path} on port {port} within {limit:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """End one process this benchmark started, by its own id."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@contextmanager
def started(
    command: list[str], log: Path, environ: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        stop(process)


def peak_rss_mib(pid: int) -> float | None:
    """A running process's peak RSS (VmHWM) from /proc, where there is one."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else None


# --- nginx and wrk --------------------------------------------------------------------------


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise BenchError(
            f"{name} is not installed: run `make bench` as root, or apt-get install it"
        )
    return found


def nginx_conf(prefix: Path, port: int, www: Path, nginx: str) -> str:
    """One worker, no gzip, no access log, the feed as text/calendar; every path in `prefix`."""
    compiled = subprocess.run([nginx, "-V"], capture_output=True, text=True, check=False).stderr
    temp_paths = "".join(
        f"    {module}_temp_path {prefix / 'temp' / module};\n"
        for module in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        if f"--without-http_{module}_module" not in compiled
    )
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}worker_processes 1;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    access_log off;\n"
        "    gzip off;\n"
        "    sendfile on;\n"
        "    tcp_nopush on;\n"
        "    types { }\n"
        "    default_type text/calendar;\n"
        f"{temp_paths}"
        "    server {\n"
        f"        listen {HOST}:{port};\n"
        f"        root {www};\n"
        "    }\n"
        "}\n"
    )


@dataclass(frozen=True)
class WrkResult:
    requests: int
    requests_per_second: float
    p99_ms: float
    errors: str
    non_2xx: int
    # CPUs kept busy during the run (CPU seconds per second): the server, wrk, everything else.
    server_cpus: float
    wrk_cpus: float
    other_cpus: float


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
TICK = os.sysconf("SC_CLK_TCK")
BUSY_MACHINE_CPUS = 0.15


def machine_busy_seconds() -> float:
    """CPU seconds spent in user and system mode by the whole machine since it booted."""
    user, nice, system = Path("/proc/stat").read_text().split(maxsplit=4)[1:4]
    return (int(user) + int(nice) + int(system)) / TICK


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its descendants (nginx's master and worker), all threads."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICK
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_cpu_seconds(int(child))
    except OSError:
        pass
    return total


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(wrk: str, port: int, server_pid: int) -> WrkResult:
    url = f"http://{HOST}:{port}{FEED_PATH}"
    before = (machine_busy_seconds(), tree_cpu_seconds(server_pid), children_cpu_seconds())
    began = time.monotonic()
    result = subprocess.run(
        [wrk, *WRK_ARGS, url],
        capture_output=True,
        text=True,
        timeout=WRK_TIMEOUT_SECONDS,
        check=False,
    )
    seconds = time.monotonic() - began
    machine = machine_busy_seconds() - before[0]
    server = tree_cpu_seconds(server_pid) - before[1]
    # wrk is the only child that ended meanwhile: the servers still run.
    client = children_cpu_seconds() - before[2]
    out = result.stdout
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in", out, re.MULTILINE)
    if result.returncode != 0 or not (rps and p99 and total):
        raise BenchError(f"wrk against {url} failed:\n{out}{result.stderr}")
    errors = re.search(r"^\s+Socket errors: (.*)$", out, re.MULTILINE)
    non_2xx = re.search(r"^\s+Non-2xx or 3xx responses: (\d+)", out, re.MULTILINE)
    return WrkResult(
        requests=int(total.group(1)),
        requests_per_second=float(rps.group(1)),
        p99_ms=float(p99.group(1)) * UNITS_MS[p99.group(2)],
        errors=errors.group(1) if errors else "",
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        server_cpus=server / seconds,
        wrk_cpus=client / seconds,
        other_cpus=max(0.0, machine - server - client) / seconds,
    )


def version_of(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    text = (result.stdout + result.stderr).strip().splitlines()
    return text[0] if text else "?"


# --- the run --------------------------------------------------------------------------------


def say(line: str = "") -> None:
    print(line, flush=True)


def mib(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} MiB"


def check_cached(port: int) -> tuple[Reply, Reply]:
    """The first request builds the feed; the second must come from the cache."""
    first = fetch(port, FEED_PATH)
    second = fetch(port, FEED_PATH)
    for reply in (first, second):
        if reply.status != 200:
            raise BenchError(f"{FEED_PATH} answered {reply.status}")
    if first.headers.get("etag") != second.headers.get("etag") or first.body != second.body:
        raise BenchError("two responses differ: the feed is not served from the cache")
    if second.seconds * 4 > first.seconds:
        raise BenchError(
            f"the second response took {second.seconds:.3f} s after {first.seconds:.3f} s for the "
            "first: the feed seems to be rebuilt per request"
        )
    if not first.headers.get("etag", "").startswith('"'):
        raise BenchError(f"no strong ETag: {first.headers.get('etag')!r}")
    revalidated = fetch(port, FEED_PATH, {"If-None-Match": first.headers["etag"]})
    if revalidated.status != 304:
        raise BenchError(f"If-None-Match with the current ETag answered {revalidated.status}")
    return first, second


def run(keep: bool, rounds: int) -> int:
    folder = Path(tempfile.mkdtemp(prefix="vcs-bench-"))
    try:
        return measure(folder, rounds)
    finally:
        if keep:
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def measure(folder: Path, rounds: int) -> int:
    nginx, wrk = tool("nginx"), tool("wrk")
    variables = bench_environ(folder)
    environ = {**os.environ, **variables}
    settings: Settings = load_settings(environ)
    context = Context.from_settings(settings)
    now = context.clock.now()
    try:
        initialise(context)
        population = populate(context, now)
    finally:
        context.close()
    start, end = window(now, settings)
    say(f"vcs feeds benchmark, {now:%Y-%m-%d %H:%M} UTC")
    say(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{version_of([nginx, '-v'])}, {version_of([wrk, '--version'])}"
    )
    say(f"feed window: {start:%Y-%m-%d} .. {end:%Y-%m-%d}")
    say(
        f"data: {population.sessions} sessions in {population.series} public series "
        f"({population.regional_series} regional); {population.with_topic} with a topic, "
        f"{population.with_speakers} with speakers, {population.place_overrides} at another "
        f"venue, {population.moved} moved, {population.cancelled} cancelled, "
        f"{population.with_recording} with a recording, {population.livestreams} livestreams "
        f"(inserted in {population.seconds:.2f} s)"
    )

    build = run_build_measurement(environ)
    cold_s = build["cold_query_s"] + build["cold_ical_s"]
    warm_s = build["warm_query_s"] + build["warm_ical_s"]
    say()
    say("cold build of /calendar.ics (fresh process: network_feed + build_calendar)")
    say(
        f"  size: {build['bytes']:,} bytes, {build['vevents']} VEVENTs, "
        f"{build['vtimezones']} VTIMEZONE ({build['sessions']} sessions in the feed)"
    )
    say(
        f"  cold build: {cold_s:.3f} s (query and ORM {build['cold_query_s']:.3f} s, "
        f"iCalendar text {build['cold_ical_s']:.3f} s); warm rebuild {warm_s:.3f} s"
    )
    say(
        f"  peak memory: {mib(build['traced_peak_mib'])} traced (tracemalloc, one build); "
        f"process max RSS {mib(build['rss_max_mib'])} "
        f"({mib(build['rss_before_mib'])} before building, "
        f"{mib(build['rss_after_cold_mib'])} after the cold build)"
    )
    if build["vevents"] != SESSIONS:
        raise BenchError(f"the feed has {build['vevents']} VEVENTs, expected {SESSIONS}")

    vcs_port, nginx_port = free_port(), free_port()
    serve = [sys.executable, "-m", "vcs", "web", "--host", HOST, "--port", str(vcs_port)]
    serve += ["--workers", "1"]
    prefix = folder / "nginx"
    serve_static = [nginx, "-p", str(prefix), "-c", "nginx.conf"]
    serve_static += ["-e", str(prefix / "error.log"), "-g", "daemon off;"]
    vcs_runs: list[WrkResult] = []
    ref_runs: list[WrkResult] = []
    with ExitStack() as processes:
        server = processes.enter_context(started(serve, folder / "vcs.log", environ))
        wait_until_serving(server, vcs_port, "/healthz", folder / "vcs.log")
        first, second = check_cached(vcs_port)
        say()
        say(f"vcs web --workers 1 on {HOST}:{vcs_port}")
        say(
            f"  first request (builds the feed): {first.seconds * 1000:.0f} ms; "
            f"second (cached): {second.seconds * 1000:.1f} ms; same ETag {first.headers['etag']}"
            f" and bytes; If-None-Match -> 304"
        )
        same = hashlib.sha256(first.body).hexdigest() == build["sha256"]
        say(f"  served bytes identical to the in-process build: {'yes' if same else 'no'}")
        rss_warm = peak_rss_mib(server.pid)

        www = folder / "www"
        www.mkdir()
        (www / FEED_PATH.lstrip("/")).write_bytes(first.body)
        (prefix / "temp").mkdir(parents=True)
        (prefix / "nginx.conf").write_text(nginx_conf(prefix, nginx_port, www, nginx))
        static = processes.enter_context(started(serve_static, prefix / "stderr.log"))
        wait_until_serving(static, nginx_port, FEED_PATH, prefix / "error.log")
        check = fetch(nginx_port, FEED_PATH)
        if check.body != first.body:
            raise BenchError("nginx serves other bytes than vcs")
        say(f"nginx, 1 worker process, on {HOST}:{nginx_port}: the same {len(check.body):,} bytes")

        say()
        say(f"wrk {' '.join(WRK_ARGS)} {FEED_PATH}, vcs then nginx, {rounds} round(s)")
        for number in range(1, rounds + 1):
            vcs_runs.append(run_wrk(wrk, vcs_port, server.pid))
            ref_runs.append(run_wrk(wrk, nginx_port, static.pid))
            say(
                f"  round {number}: vcs {vcs_runs[-1].requests_per_second:.1f} req/s, "
                f"nginx {ref_runs[-1].requests_per_second:.1f} req/s "
                f"(other processes: {vcs_runs[-1].other_cpus:.2f} and "
                f"{ref_runs[-1].other_cpus:.2f} CPUs)"
            )
        after = fetch(vcs_port, FEED_PATH)
        if after.headers.get("etag") != first.headers["etag"]:
            raise BenchError("the ETag changed during the load: the feed was rebuilt")
        say(
            f"  vcs server peak RSS: {mib(rss_warm)} after warming, "
            f"{mib(peak_rss_mib(server.pid))} after the load; the ETag did not change"
        )

    for who, result in [("vcs", r) for r in vcs_runs] + [("nginx", r) for r in ref_runs]:
        if result.non_2xx or result.errors:
            say(
                f"warning: {who}: {result.non_2xx} non-2xx responses; socket errors {result.errors}"
            )
    # With several rounds, each server's best one: the one least disturbed by the machine.
    vcs = max(vcs_runs, key=lambda r: r.requests_per_second)
    ref = max(ref_runs, key=lambda r: r.requests_per_second)
    ratio = vcs.requests_per_second / ref.requests_per_second
    met = ratio >= GOAL_RATIO
    say()
    if rounds > 1:
        say(f"best of {rounds} rounds for each server:")
    say(
        f"{'':24}{'req/s':>9}{'p99':>11}{'requests':>10}"
        f"{'server CPU':>12}{'wrk CPU':>9}{'other CPU':>11}"
    )
    for label, result in (("vcs (1 uvicorn worker)", vcs), ("nginx (1 worker)", ref)):
        say(
            f"{label:24}{result.requests_per_second:>9.1f}{result.p99_ms:>9.1f}ms"
            f"{result.requests:>10}{result.server_cpus:>12.2f}{result.wrk_cpus:>9.2f}"
            f"{result.other_cpus:>11.2f}"
        )
    say(f"ratio vcs/nginx: {ratio:.3f}")
    say(f"{GOAL}: {'met' if met else 'NOT met'}")
    busy = max(vcs.other_cpus, ref.other_cpus)
    if busy > BUSY_MACHINE_CPUS:
        say(
            f"warning: other processes kept {busy:.2f} CPUs busy during a run (CPU columns are "
            "CPU seconds per second): the two servers did not get the same machine; "
            "run again when it is idle"
        )
    say()
    say("reference numbers (quote these):")
    say(
        f"  feed: {SESSIONS} sessions, {build['vevents']} VEVENTs, {build['bytes']:,} bytes; "
        f"cold build {cold_s:.2f} s ({build['cold_query_s']:.2f} s query + "
        f"{build['cold_ical_s']:.2f} s iCalendar), warm rebuild {warm_s:.2f} s"
    )
    say(
        f"  build memory: tracemalloc peak {build['traced_peak_mib']:.1f} MiB; "
        f"process max RSS {build['rss_max_mib']:.1f} MiB"
    )
    best = f", best of {rounds} rounds" if rounds > 1 else ""
    say(
        f"  wrk {' '.join(WRK_ARGS)} on {os.cpu_count()} CPUs{best}: "
        f"vcs {vcs.requests_per_second:.1f} "
        f"req/s (p99 {vcs.p99_ms:.1f} ms), nginx {ref.requests_per_second:.1f} req/s "
        f"(p99 {ref.p99_ms:.1f} ms), ratio {ratio:.3f} -> goal >= {GOAL_RATIO} "
        f"{'met' if met else 'not met'}"
    )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.feeds", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="wrk runs per server, alternating; the best of each is compared (default 1)",
    )
    parser.add_argument("--measure-build", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.measure_build:
        print(json.dumps(measure_build()))
        return

    def terminated(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    try:
        code = run(args.keep, args.rounds)
    except (BenchError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
