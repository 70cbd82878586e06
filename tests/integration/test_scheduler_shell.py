"""The scheduler shell: runs recorded, one catch-up run after downtime, one active scheduler."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from tests.conftest import isolated_environ
from vcs.bootstrap import initialise
from vcs.config import load_settings
from vcs.context import Context
from vcs.scheduler.registry import JobSpec, Registry
from vcs.scheduler.runs import run_job
from vcs.scheduler.service import SchedulerService
from vcs.storage.models import JobRun


def counting_registry(calls: list[dt.datetime], minutes: int = 60) -> Registry:
    registry = Registry()

    def tick(context: Context) -> str:
        calls.append(dt.datetime.now(dt.UTC))
        return f"tick {len(calls)}"

    registry.add(
        JobSpec("tick", tick, "counts its runs", lambda s: IntervalTrigger(minutes=minutes))
    )
    return registry


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def installation(tmp_path: Path, database: str | None = None) -> Context:
    overrides = {"VCS_SCHEDULER_LOCK_POLL_SECONDS": "1"}
    if database:
        overrides["VCS_DATABASE_URL"] = database
    context = Context.from_settings(load_settings(isolated_environ(tmp_path, **overrides)))
    initialise(context)
    return context


def test_a_run_is_recorded_with_its_outcome(context: Context) -> None:
    def broken(_context: Context) -> str:
        raise RuntimeError("SMTP relay said no")

    ok = run_job(
        context, JobSpec("fine", lambda c: "did 3 things", "", lambda s: IntervalTrigger(hours=1))
    )
    failed = run_job(context, JobSpec("broken", broken, "", lambda s: IntervalTrigger(hours=1)))
    with context.database.session() as db:
        runs = {run.job: run for run in db.scalars(select(JobRun))}
    assert runs["fine"].outcome == "ok"
    assert runs["fine"].summary == "did 3 things"
    assert runs["fine"].finished_at is not None
    assert runs["broken"].outcome == "failed"
    assert runs["broken"].error.startswith("RuntimeError: SMTP relay said no")
    assert failed.id == runs["broken"].id and ok.id == runs["fine"].id


def test_missed_slots_after_downtime_run_once(tmp_path: Path) -> None:
    context = installation(tmp_path)
    calls: list[dt.datetime] = []
    first = SchedulerService(context, counting_registry(calls, minutes=1))
    first.start_in_background()
    assert first.active.wait(10)
    first.stop()
    assert calls == []

    # Pretend the scheduler was down for ten minutes: ten one-minute slots were missed.
    store = SQLAlchemyJobStore(engine=context.database.engine)
    store.start(None, "default")  # type: ignore[arg-type]
    job = store.lookup_job("tick")
    job.next_run_time = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    store.update_job(job)

    second = SchedulerService(context, counting_registry(calls, minutes=1))
    second.start_in_background()
    assert wait_for(lambda: len(calls) >= 1, 10), "the missed job never ran"
    time.sleep(1.5)
    second.stop()
    assert len(calls) == 1
    with context.database.session() as db:
        runs = db.scalars(select(JobRun).where(JobRun.job == "tick")).all()
    assert [(r.outcome, r.trigger) for r in runs] == [("ok", "schedule")]
    context.close()


def run_two_schedulers(tmp_path: Path, database: str | None = None) -> None:
    context_a = installation(tmp_path, database)
    context_b = Context.from_settings(context_a.settings)
    a = SchedulerService(context_a, counting_registry([]))
    b = SchedulerService(context_b, counting_registry([]))
    a.start_in_background()
    assert a.active.wait(10)
    b.start_in_background()
    time.sleep(2.5)
    assert not b.active.is_set(), "a second scheduler ran while the first held the lock"
    a.stop()
    assert b.active.wait(10), "the waiting scheduler did not take over"
    b.stop()
    context_a.close()
    context_b.close()


def test_a_second_scheduler_waits_on_the_file_lock_and_takes_over(tmp_path: Path) -> None:
    run_two_schedulers(tmp_path)


@pytest.mark.postgres
def test_a_second_scheduler_waits_on_the_advisory_lock_and_takes_over(
    tmp_path: Path, postgres_url: str
) -> None:
    run_two_schedulers(tmp_path, postgres_url)
