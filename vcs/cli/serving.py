"""Running vcs: `vcs serve`, `vcs web`, `vcs scheduler`, and `vcs jobs` to run one job now."""

from __future__ import annotations

import os
import signal
from typing import Any

import click

from vcs.cli.base import (
    Failure,
    make_context,
    one_line_errors,
    open_context,
    require_current_schema,
)
from vcs.config import check_serving, env_name


@click.command()
@click.option("--host", help="Address to listen on (default: web.host).")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port to listen on (default: web.port)."
)
@one_line_errors
def serve(host: str | None, port: int | None) -> None:
    """Run the web app and the scheduler in one process (the embedded default)."""
    import uvicorn

    from vcs.web.app import create_app

    context = make_context()
    settings = context.settings
    host = host or settings.web.host
    check_serving(settings, host)
    require_current_schema(context)
    app = create_app(context, with_scheduler=settings.scheduler.enabled)
    # vcs.web.observability logs each request, with its id; uvicorn's own line would repeat it.
    uvicorn.run(app, host=host, port=port or settings.web.port, access_log=False)


@click.command()
@click.option("--host", help="Address to listen on (default: web.host).")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port to listen on (default: web.port)."
)
@click.option(
    "--workers", type=click.IntRange(1, 256), help="Worker processes (default: web.workers)."
)
@one_line_errors
def web(host: str | None, port: int | None, workers: int | None) -> None:
    """Run only the web app, in one or more worker processes; it never runs jobs."""
    import uvicorn

    from vcs import metrics

    context = make_context()
    settings = context.settings
    host = host or settings.web.host
    check_serving(settings, host)
    require_current_schema(context)
    context.close()
    # The workers load the settings again: they check the address actually listened on.
    os.environ[env_name("web.host")] = host
    workers = workers or settings.web.workers
    with metrics.shared_between_workers(workers):
        uvicorn.run(
            "vcs.web.asgi:app",
            host=host,
            port=port or settings.web.port,
            workers=workers,
            access_log=False,
        )


@click.command()
@one_line_errors
def scheduler() -> None:
    """Run only the scheduler; a second one waits and takes over when the first stops."""
    from vcs.scheduler.service import SchedulerService

    context = open_context()
    service = SchedulerService(context)
    if context.settings.scheduler.metrics_port:
        from vcs.metrics import serve_on_loopback

        serve_on_loopback(context.settings.scheduler.metrics_port, context.database)

    def stop(signum: int, _frame: Any) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    service.run()


@click.group()
def jobs() -> None:
    """The scheduler's jobs."""


@jobs.command("list")
@one_line_errors
def jobs_list() -> None:
    """List every job with its schedule and its last run."""
    from sqlalchemy import select

    from vcs.scheduler.jobs import registry
    from vcs.storage.models import JobRun

    context = open_context()
    with context.database.session() as db:
        for spec in registry:
            last = db.scalars(
                select(JobRun).where(JobRun.job == spec.name).order_by(JobRun.id.desc()).limit(1)
            ).first()
            when = (
                f"last {last.outcome} at {last.started_at:%Y-%m-%d %H:%M} UTC"
                if last
                else "never run"
            )
            click.echo(f"{spec.name:<20} {spec.trigger(context.settings)}  ({when})")
            click.echo(f"{'':<20} {spec.description}")


@jobs.command("run")
@click.argument("name")
@one_line_errors
def jobs_run(name: str) -> None:
    """Run the job NAME now and record the run."""
    from vcs.scheduler.jobs import registry
    from vcs.scheduler.runs import run_job

    context = open_context()
    try:
        spec = registry.get(name)
    except KeyError as exc:
        raise Failure(str(exc.args[0])) from None
    run = run_job(context, spec, trigger="command")
    if run.outcome != "ok":
        raise Failure(f"job {name} failed: {run.error.splitlines()[0]}")
    click.echo(f"{name}: {run.summary}")
