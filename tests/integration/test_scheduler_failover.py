"""Scheduler fail-over between real processes: one of two schedulers runs the jobs; when it is
killed, or its lock connection is, the other runs the next slot within 30 s; no slot runs twice,
and never do two processes run slots at the same time.

The processes run tests/integration/scheduler_process.py: the real SchedulerService with one job
that records (slot, pid, time) every 2 s. Take-over times are printed (pytest -s shows them).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text

from tests.conftest import isolated_environ
from vcs.bootstrap import initialise
from vcs.config import load_settings
from vcs.context import Context
from vcs.scheduler import heartbeat
from vcs.scheduler.registry import JobSpec, Registry
from vcs.scheduler.service import SchedulerService, current_slot
from vcs.storage.locks import SCHEDULER, advisory_key

SCRIPT = Path(__file__).with_name("scheduler_process.py")
TAKE_OVER_LIMIT = 30.0
# FAILOVER_LOCK_POLL_SECONDS=5 measures take-overs with the default poll.
POLL_SECONDS = os.environ.get("FAILOVER_LOCK_POLL_SECONDS", "1")


@dataclass(frozen=True)
class Run:
    slot: dt.datetime
    pid: int
    at: float


def read_runs(record: Path) -> list[Run]:
    if not record.exists():
        return []
    runs = []
    for line in record.read_text().splitlines():
        slot, pid, at = line.split()
        runs.append(Run(dt.datetime.fromisoformat(slot), int(pid), float(at)))
    return sorted(runs, key=lambda run: run.at)


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class Schedulers:
    """Scheduler processes on one installation, each logging to its own file."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.tmp_path = tmp_path
        self.record = tmp_path / "runs.txt"
        overrides = isolated_environ(
            tmp_path, VCS_DATABASE_URL=database_url, VCS_SCHEDULER_LOCK_POLL_SECONDS=POLL_SECONDS
        )
        self.context = Context.from_settings(load_settings(overrides))
        initialise(self.context)
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("VCS_")}
        self.environ = {**inherited, **overrides}
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> subprocess.Popen[bytes]:
        with (self.tmp_path / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, str(SCRIPT), str(self.record)],
                env=self.environ,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes[process.pid] = process
        return process

    def runs(self) -> list[Run]:
        return read_runs(self.record)

    def runs_by(self, process: subprocess.Popen[bytes]) -> list[Run]:
        return [run for run in self.runs() if run.pid == process.pid]

    def holder(self) -> subprocess.Popen[bytes]:
        """The process whose heartbeat is the latest: the one holding the lock."""
        beat = heartbeat.latest(self.context)
        assert beat is not None, self.logs()
        return self.processes[beat.pid]

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-3000:]}"
            for path in sorted(self.tmp_path.glob("*.log"))
        )

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait(10)
        self.context.close()


@pytest.fixture
def schedulers(tmp_path: Path, any_database_url: str) -> Iterator[Schedulers]:
    procs = Schedulers(tmp_path, any_database_url)
    try:
        yield procs
    finally:
        procs.close()


def start_two_and_wait_for_three_slots(
    procs: Schedulers,
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    """Start two schedulers; return (the active one, the waiting one) once three slots ran."""
    first, second = procs.start("first"), procs.start("second")
    assert wait_for(lambda: len(procs.runs()) >= 3, 30), procs.logs()
    active = procs.holder()
    waiting = second if active is first else first
    assert {run.pid for run in procs.runs()} == {active.pid}, "the waiting scheduler ran a job"
    return active, waiting


def assert_each_slot_ran_once_by_one_process_at_a_time(runs: list[Run]) -> None:
    twice = [slot for slot, n in Counter(run.slot for run in runs).items() if n > 1]
    assert not twice, f"slots run twice: {twice}"
    # In the order they ran, each process's runs form one unbroken stretch, and slots only grow.
    stretches = [runs[0].pid] + [b.pid for a, b in itertools.pairwise(runs) if b.pid != a.pid]
    assert len(stretches) == len(set(stretches)), f"processes took turns: {stretches}"
    assert [run.slot for run in runs] == sorted(run.slot for run in runs)


def test_after_kill_9_of_the_active_scheduler_the_other_runs_the_next_slot_once(
    schedulers: Schedulers,
) -> None:
    procs = schedulers
    active, waiting = start_two_and_wait_for_three_slots(procs)
    last_before = procs.runs()[-1]

    killed_at = time.time()
    os.kill(active.pid, signal.SIGKILL)
    active.wait(10)
    assert wait_for(lambda: len(procs.runs_by(waiting)) >= 1, TAKE_OVER_LIMIT), procs.logs()
    first_after = procs.runs_by(waiting)[0]
    take_over = first_after.at - killed_at
    print(f"\ntake-over after kill -9: {take_over:.2f} s (lock poll {POLL_SECONDS} s)")
    assert take_over < TAKE_OVER_LIMIT
    assert first_after.slot > last_before.slot
    # The new holder goes on running the slots after that one.
    assert wait_for(lambda: len(procs.runs_by(waiting)) >= 3, 15), procs.logs()
    assert procs.holder() is waiting

    waiting.send_signal(signal.SIGTERM)
    assert waiting.wait(20) == 0, procs.logs()
    assert_each_slot_ran_once_by_one_process_at_a_time(procs.runs())


@pytest.mark.parametrize("any_database_url", ["postgres"], indirect=True)
def test_a_scheduler_whose_lock_connection_is_killed_stops_running_jobs_and_the_other_takes_over(
    schedulers: Schedulers,
) -> None:
    procs = schedulers
    active, waiting = start_two_and_wait_for_three_slots(procs)

    engine = procs.context.database.engine
    with engine.begin() as connection:
        schema = str(connection.execute(text("SELECT current_schema()")).scalar())
        key = advisory_key(SCHEDULER, schema) & 0xFFFF_FFFF_FFFF_FFFF
        backends = (
            connection.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND classid = :high AND objid = :low AND objsubid = 1"
                ),
                {"high": key >> 32, "low": key & 0xFFFF_FFFF},
            )
            .scalars()
            .all()
        )
        assert len(backends) == 1, backends
        terminated_at = time.time()
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backends[0]})

    assert wait_for(lambda: len(procs.runs_by(waiting)) >= 1, TAKE_OVER_LIMIT), procs.logs()
    take_over = procs.runs_by(waiting)[0].at - terminated_at
    print(f"\ntake-over after pg_terminate_backend: {take_over:.2f} s (lock poll {POLL_SECONDS} s)")
    assert take_over < TAKE_OVER_LIMIT
    assert wait_for(lambda: len(procs.runs_by(waiting)) >= 3, 15), procs.logs()

    # The old holder lives on, waiting, and ran nothing after its lock went.
    assert active.poll() is None
    assert all(run.at < terminated_at + 0.5 for run in procs.runs_by(active))
    assert procs.holder() is waiting
    for process in (active, waiting):
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0, procs.logs()
    assert (
        "lock"
        in (procs.tmp_path / "first.log").read_text() + (procs.tmp_path / "second.log").read_text()
    )
    assert_each_slot_ran_once_by_one_process_at_a_time(procs.runs())


class LosableLock:
    """A lock the test can take away, as a killed lock connection would."""

    def __init__(self) -> None:
        self.held = False
        self.lost = threading.Event()

    def try_acquire(self) -> bool:
        self.held = not self.lost.is_set()
        return self.held

    def still_held(self) -> bool:
        return self.held and not self.lost.is_set()

    def release(self) -> None:
        self.held = False


def test_a_job_due_after_the_lock_is_lost_does_not_run_and_the_scheduler_stops_at_once(
    tmp_path: Path,
) -> None:
    context = Context.from_settings(load_settings(isolated_environ(tmp_path)))
    initialise(context)
    calls: list[dt.datetime | None] = []
    registry = Registry()
    registry.add(
        JobSpec(
            "tick",
            lambda c: str(calls.append(current_slot())),
            "records its slot",
            lambda s: IntervalTrigger(seconds=1),
        )
    )
    lock = LosableLock()
    service = SchedulerService(context, registry, lock=lock)
    # The service itself would not look at the lock again for a minute; the job must.
    service.poll_seconds = 60
    service.start_in_background()
    try:
        assert wait_for(lambda: len(calls) >= 1, 10)
        assert calls[0] is not None, "a scheduled job knows its slot"
        lock.lost.set()
        assert wait_for(lambda: not service.active.is_set(), 5), "jobs kept running"
        ran = len(calls)
        time.sleep(1.5)
        assert len(calls) == ran
    finally:
        service.stop()
        context.close()
