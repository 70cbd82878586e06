"""`make bench-all`: every benchmark in turn, then one table of what, vcs, reference, ratio, goal
and whether it was met, with a warning when the machine was busy during a run.

Each benchmark runs as its own process (as `make bench-page` and friends run it) and hands its
rows over through the file named in BENCH_ROWS_FILE (bench/load.py, `record_rows`); a benchmark
that fails is named under the table and makes the exit code 1. `--skip NAME` leaves one out
(`scale` needs the PostgreSQL server; `mail --recipients` defaults to 3,000 here).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import load

BENCHMARKS = {
    "page": ["bench.page"],
    "feeds": ["bench.feeds"],
    "mail": ["bench.mail", "--recipients", "3000", "--connections", "8"],
    "dkim": ["bench.dkim_cost"],
    "scale": ["bench.scale"],
}


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--skip", action="append", default=[], choices=sorted(BENCHMARKS))
    args = parser.parse_args()
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vcs-bench-all-") as tmp:
        rows_file = Path(tmp) / "rows.jsonl"
        environ = {**os.environ, load.ROWS_ENV: str(rows_file)}
        for name, module in BENCHMARKS.items():
            if name in args.skip:
                continue
            load.say(f"=== {name}: python -m {' '.join(module)}")
            result = subprocess.run(
                [sys.executable, "-m", *module], cwd=load.ROOT, env=environ, check=False
            )
            if result.returncode != 0:
                failed.append(name)
        rows = load.read_rows(rows_file)
    load.say()
    load.say(f"vcs benchmarks, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}")
    load.print_table(rows)
    if failed:
        load.say(f"failed: {', '.join(failed)} (see above)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
