"""The jobs vcs runs on a schedule. Each is thin: select work, call the domain, summarise."""

from __future__ import annotations

import datetime as dt

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import delete

from vcs.context import Context
from vcs.materialize import MaterializeError, materialize_all
from vcs.scheduler.registry import Registry
from vcs.storage.models import JobRun

registry = Registry()


@registry.job(
    "prune-job-runs",
    "Delete job run records older than scheduler.keep_job_runs_days.",
    trigger=lambda s: CronTrigger(hour=3, minute=17, timezone=s.tz),
)
def prune_job_runs(context: Context) -> str:
    keep = dt.timedelta(days=context.settings.scheduler.keep_job_runs_days)
    cutoff = context.clock.now() - keep
    with context.database.session() as db:
        result = db.execute(delete(JobRun).where(JobRun.started_at < cutoff))
        deleted = getattr(result, "rowcount", 0) or 0
    return f"{deleted} old job runs deleted"


@registry.job(
    "materialize",
    "Create the sessions of every series up to sessions.horizon_days ahead.",
    trigger=lambda s: CronTrigger(minute=5, timezone=s.tz),
)
def materialize(context: Context) -> str:
    settings = context.settings
    with context.database.session() as db:
        report = materialize_all(db, context.clock.now(), settings.horizon, settings.host)
    if report.failures:
        # The good series are saved; the run is marked failed so staff see the broken ones.
        raise MaterializeError(str(report))
    return str(report)
