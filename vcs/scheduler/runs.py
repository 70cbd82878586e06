"""Run one job and record the run: start, end, outcome, error."""

from __future__ import annotations

import logging
import time
import traceback

from sqlalchemy import select

from vcs import logs, metrics
from vcs.context import Context
from vcs.scheduler.registry import JobFailed, JobSpec
from vcs.storage.models import JobRun

log = logging.getLogger(__name__)


def run_job(context: Context, spec: JobSpec, trigger: str = "schedule") -> JobRun:
    """Run `spec` now; the JobRun row says how it went. Never raises for a failing job."""
    with context.database.session() as db:
        run = JobRun(job=spec.name, started_at=context.clock.now(), trigger=trigger)
        db.add(run)
    # Every line logged during the run carries the job's name and run id.
    with logs.job_context(spec.name, run.id):
        started = time.perf_counter()
        log.info("job %s started (run %s)", spec.name, run.id)
        try:
            summary = spec.func(context)
        except JobFailed as exc:
            log.error("job %s failed: %s", spec.name, exc)
            run.outcome = "failed"
            run.error = str(exc)
        except Exception as exc:
            log.exception("job %s failed", spec.name)
            run.outcome = "failed"
            run.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        else:
            run.outcome = "ok"
            run.summary = summary or ""
            log.info("job %s done: %s", spec.name, run.summary)
        metrics.job_done(spec.name, run.outcome != "ok", time.perf_counter() - started)
    run.finished_at = context.clock.now()
    with context.database.session() as db:
        db.merge(run)
    return run


def close_interrupted_runs(context: Context) -> int:
    """Mark runs left "running" by a scheduler that died as interrupted; return how many.

    Only the lock holder calls this, so no other scheduler can still be running them.
    """
    with context.database.session() as db:
        stale = db.scalars(select(JobRun).where(JobRun.outcome == "running")).all()
        for run in stale:
            run.outcome = "interrupted"
            run.finished_at = context.clock.now()
            run.error = "the scheduler stopped while this run was in progress"
        return len(stale)
