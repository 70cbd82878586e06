"""What the benchmarks share: vcs and nginx serving the same bytes, loaded in turn by wrk.

A benchmark (bench/feeds.py, bench/session_page.py) fills a throw-away installation in a
temporary folder (`install`: SQLite, no scheduler), then calls `compare(...)` with the path to
load. That starts `vcs web --workers 1` (the deployment command: one uvicorn worker, its access
log on), checks that vcs answers the path from its response cache (`check_cached`), saves the
exact bytes vcs served under the same path in nginx's root, starts nginx (one worker process, no
gzip, no access log, sendfile) and runs `wrk -t2 -c64 -d10s --latency` against each in turn on
loopback, N rounds alternating. Each run records the CPUs the server, wrk and every other process
kept busy: the machine may be shared, and `warn_if_busy` says when a run was disturbed.
`summarise` prints the best run of each server side by side and their ratio; the benchmark then
prints its own verdict. `command_line`, `parse` and `run` give both the same --rounds N and
--keep and the same exit codes: 0 when everything ran, 1 when something failed.
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
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import TypeVar

from vcs.bootstrap import initialise
from vcs.config import Settings, load_settings
from vcs.context import Context
from vcs.storage.models import Livestream

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# Two wrk threads and 64 connections saturate one server process on a 2-CPU machine; with one
# thread, wrk itself was the bottleneck for nginx (its CPU at 1.00) and ratios came out too kind.
WRK_ARGS = ["-t2", "-c64", "-d10s", "--latency"]
WRK_TIMEOUT_SECONDS = 60
Populated = TypeVar("Populated")


class BenchError(Exception):
    """Something the benchmark needs did not work; the message says what."""


def bench_environ(folder: Path) -> dict[str, str]:
    """VCS_* variables for an installation that lives only in `folder`."""
    return {
        "VCS_DATABASE_URL": f"sqlite:///{folder / 'vcs.sqlite3'}",
        "VCS_MAIL_URL": f"file://{folder / 'outbox'}",
        "VCS_SCHEDULER_LOCK_FILE": str(folder / "scheduler.lock"),
        "VCS_SCHEDULER_ENABLED": "false",
    }


def install(
    folder: Path, populate: Callable[[Context, dt.datetime], Populated]
) -> tuple[dict[str, str], Settings, dt.datetime, Populated]:
    """A fresh installation in `folder` filled by `populate(context, now)`: the environment
    for `vcs` commands, its settings, the time it was filled at and what `populate` returned."""
    environ = {**os.environ, **bench_environ(folder)}
    settings = load_settings(environ)
    context = Context.from_settings(settings)
    now = context.clock.now()
    try:
        initialise(context)
        populated = populate(context, now)
    finally:
        context.close()
    return environ, settings, now, populated


def provisioned_livestream(key: str, revision: int) -> Livestream:
    """A YouTube broadcast as the provision job leaves it once created for a session."""
    return Livestream(
        provider="youtube",
        external_id=f"bench{key}",
        watch_url=f"https://www.youtube.com/watch?v=live{key}",
        embed_url=f"https://www.youtube.com/embed/live{key}",
        status="created",
        synced_revision=revision,
    )


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


def nginx_conf(prefix: Path, port: int, www: Path, nginx: str, default_type: str) -> str:
    """One worker, no gzip, no access log, every file as `default_type`; every path in `prefix`."""
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
        f'    default_type "{default_type}";\n'
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


def run_wrk(wrk: str, port: int, server_pid: int, path: str) -> WrkResult:
    url = f"http://{HOST}:{port}{path}"
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


# --- printing -------------------------------------------------------------------------------


def say(line: str = "") -> None:
    print(line, flush=True)


def mib(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} MiB"


def say_machine(nginx: str, wrk: str) -> None:
    say(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{version_of([nginx, '-v'])}, {version_of([wrk, '--version'])}"
    )


# --- vcs against nginx ----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What both servers serve: the path, its media type for nginx, and its name in messages."""

    path: str
    media_type: str
    noun: str


def check_cached(port: int, target: Target) -> tuple[Reply, Reply]:
    """The first request builds the response; the second must come from the cache."""
    first = fetch(port, target.path)
    second = fetch(port, target.path)
    for reply in (first, second):
        if reply.status != 200:
            raise BenchError(f"{target.path} answered {reply.status}")
    if first.headers.get("etag") != second.headers.get("etag") or first.body != second.body:
        raise BenchError(f"two responses differ: the {target.noun} is not served from the cache")
    if second.seconds * 4 > first.seconds:
        raise BenchError(
            f"the second response took {second.seconds:.3f} s after {first.seconds:.3f} s for the "
            f"first: the {target.noun} seems to be rebuilt per request"
        )
    if not first.headers.get("etag", "").startswith('"'):
        raise BenchError(f"no strong ETag: {first.headers.get('etag')!r}")
    revalidated = fetch(port, target.path, {"If-None-Match": first.headers["etag"]})
    if revalidated.status != 304:
        raise BenchError(f"If-None-Match with the current ETag answered {revalidated.status}")
    return first, second


@dataclass(frozen=True)
class Comparison:
    first: Reply
    vcs_runs: list[WrkResult]
    ref_runs: list[WrkResult]
    rss_warm_mib: float | None
    rss_after_mib: float | None


def compare(
    folder: Path,
    environ: Mapping[str, str],
    target: Target,
    tools: tuple[str, str],
    rounds: int,
    built_sha256: str | None = None,
) -> Comparison:
    """Serve `target` from vcs and the same bytes from nginx; wrk each in turn, `rounds` times.

    `built_sha256`, where given, is the hash of the bytes built in process, to compare with the
    bytes vcs serves.
    """
    nginx, wrk = tools
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
        first, second = check_cached(vcs_port, target)
        say()
        say(f"vcs web --workers 1 on {HOST}:{vcs_port}")
        say(
            f"  first request (builds the {target.noun}): {first.seconds * 1000:.0f} ms; "
            f"second (cached): {second.seconds * 1000:.1f} ms; same ETag {first.headers['etag']}"
            f" and bytes; If-None-Match -> 304"
        )
        if built_sha256 is not None:
            same = hashlib.sha256(first.body).hexdigest() == built_sha256
            say(f"  served bytes identical to the in-process build: {'yes' if same else 'no'}")
        rss_warm = peak_rss_mib(server.pid)

        saved = folder / "www" / target.path.lstrip("/")
        saved.parent.mkdir(parents=True)
        saved.write_bytes(first.body)
        (prefix / "temp").mkdir(parents=True)
        conf = nginx_conf(prefix, nginx_port, folder / "www", nginx, target.media_type)
        (prefix / "nginx.conf").write_text(conf)
        static = processes.enter_context(started(serve_static, prefix / "stderr.log"))
        wait_until_serving(static, nginx_port, target.path, prefix / "error.log")
        check = fetch(nginx_port, target.path)
        if check.body != first.body:
            raise BenchError("nginx serves other bytes than vcs")
        say(f"nginx, 1 worker process, on {HOST}:{nginx_port}: the same {len(check.body):,} bytes")

        say()
        say(f"wrk {' '.join(WRK_ARGS)} {target.path}, vcs then nginx, {rounds} round(s)")
        for number in range(1, rounds + 1):
            vcs_runs.append(run_wrk(wrk, vcs_port, server.pid, target.path))
            ref_runs.append(run_wrk(wrk, nginx_port, static.pid, target.path))
            say(
                f"  round {number}: vcs {vcs_runs[-1].requests_per_second:.1f} req/s, "
                f"nginx {ref_runs[-1].requests_per_second:.1f} req/s "
                f"(other processes: {vcs_runs[-1].other_cpus:.2f} and "
                f"{ref_runs[-1].other_cpus:.2f} CPUs)"
            )
        after = fetch(vcs_port, target.path)
        if after.headers.get("etag") != first.headers["etag"]:
            raise BenchError(f"the ETag changed during the load: the {target.noun} was rebuilt")
        rss_after = peak_rss_mib(server.pid)
        say(
            f"  vcs server peak RSS: {mib(rss_warm)} after warming, "
            f"{mib(rss_after)} after the load; the ETag did not change"
        )
    return Comparison(first, vcs_runs, ref_runs, rss_warm, rss_after)


@dataclass(frozen=True)
class Summary:
    vcs: WrkResult
    ref: WrkResult
    ratio: float
    rounds: int

    def quote(self) -> str:
        """The wrk figures in one line, for the reference numbers."""
        best = f", best of {self.rounds} rounds" if self.rounds > 1 else ""
        return (
            f"  wrk {' '.join(WRK_ARGS)} on {os.cpu_count()} CPUs{best}: "
            f"vcs {self.vcs.requests_per_second:.1f} "
            f"req/s (p99 {self.vcs.p99_ms:.1f} ms), nginx {self.ref.requests_per_second:.1f} req/s "
            f"(p99 {self.ref.p99_ms:.1f} ms), ratio {self.ratio:.3f}"
        )


def summarise(comparison: Comparison, rounds: int) -> Summary:
    """Print failed requests, then the best run of each server side by side and their ratio."""
    runs = [("vcs", r) for r in comparison.vcs_runs] + [("nginx", r) for r in comparison.ref_runs]
    for who, result in runs:
        if result.non_2xx or result.errors:
            say(
                f"warning: {who}: {result.non_2xx} non-2xx responses; socket errors {result.errors}"
            )
    # With several rounds, each server's best one: the one least disturbed by the machine.
    vcs = max(comparison.vcs_runs, key=lambda r: r.requests_per_second)
    ref = max(comparison.ref_runs, key=lambda r: r.requests_per_second)
    ratio = vcs.requests_per_second / ref.requests_per_second
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
    return Summary(vcs, ref, ratio, rounds)


def warn_if_busy(summary: Summary) -> None:
    """Say so when other processes took CPU during a compared run."""
    busy = max(summary.vcs.other_cpus, summary.ref.other_cpus)
    if busy > BUSY_MACHINE_CPUS:
        say(
            f"warning: other processes kept {busy:.2f} CPUs busy during a run (CPU columns are "
            "CPU seconds per second): the two servers did not get the same machine; "
            "run again when it is idle"
        )


# --- one table for every benchmark -----------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the table `make bench-all` prints: a figure, its reference and the goal."""

    what: str
    vcs: str
    reference: str
    ratio: float | None
    goal: str
    met: bool | None
    # CPUs other processes kept busy during the run (BUSY_MACHINE_CPUS and above: disturbed).
    busy: float = 0.0

    def line(self) -> str:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}x"
        met = {True: "yes", False: "NO", None: "-"}[self.met]
        busy = "  (busy machine)" if self.busy > BUSY_MACHINE_CPUS else ""
        return (
            f"{self.what:44} {self.vcs:>16} {self.reference:>16} {ratio:>7} {self.goal:>9} "
            f"{met:>4}{busy}"
        )


TABLE_HEADER = f"{'what':44} {'vcs':>16} {'reference':>16} {'ratio':>7} {'goal':>9} {'met':>4}"


def row_of(what: str, mine: list[WrkResult], ref: list[WrkResult], goal: float) -> Row:
    """The best run of each side (the least disturbed) as a table row with ratio goal `goal`."""
    best = max(mine, key=lambda r: r.requests_per_second)
    best_ref = max(ref, key=lambda r: r.requests_per_second)
    ratio = best.requests_per_second / best_ref.requests_per_second
    busy = max(best.other_cpus, best_ref.other_cpus)
    return Row(
        what,
        f"{best.requests_per_second:,.0f} req/s",
        f"{best_ref.requests_per_second:,.0f} req/s",
        ratio,
        f">= {goal}x",
        ratio >= goal,
        busy,
    )


ROWS_ENV = "BENCH_ROWS_FILE"


def record_rows(rows: list[Row]) -> None:
    """Hand the rows to `make bench-all` (bench/all.py), which names a file in BENCH_ROWS_FILE.

    Not a VCS_ name: the settings loader refuses VCS_ variables it does not know.
    """
    target = os.environ.get(ROWS_ENV)
    if not target:
        return
    with open(target, "a", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(asdict(row)) + "\n")


def read_rows(path: Path) -> list[Row]:
    if not path.exists():
        return []
    return [Row(**json.loads(line)) for line in path.read_text().splitlines() if line]


def print_table(rows: list[Row]) -> None:
    """The table, then a warning if any run shared the machine with other work."""
    say(TABLE_HEADER)
    for row in rows:
        say(row.line())
    busy = [row for row in rows if row.busy > BUSY_MACHINE_CPUS]
    if busy:
        worst = max(row.busy for row in busy)
        say(
            f"warning: other processes kept up to {worst:.2f} CPUs busy during {len(busy)} of "
            f"{len(rows)} runs: the machine was busy; the ratios compare runs that did not get "
            "the same machine. Run again when it is idle."
        )


# --- the command line -----------------------------------------------------------------------


def command_line(prog: str, doc: str) -> argparse.ArgumentParser:
    """--keep and --rounds N; a benchmark may add its own options."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="wrk runs per server, alternating; the best of each is compared (default 1)",
    )
    return parser


def parse(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def run(measure: Callable[[Path, int], int], keep: bool, rounds: int) -> None:
    """`measure(folder, rounds)` in a temporary folder; exit 0 when it ran, 1 when it failed."""

    def terminated(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    try:
        code = in_temporary_folder(measure, keep, rounds)
    except (BenchError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)


def in_temporary_folder(measure: Callable[[Path, int], int], keep: bool, rounds: int) -> int:
    folder = Path(tempfile.mkdtemp(prefix="vcs-bench-"))
    try:
        return measure(folder, rounds)
    finally:
        if keep:
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
