"""Running vcs: `vcs serve`, `vcs web`, `vcs scheduler`, and `vcs jobs` to run one job now."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import click

from vcs.cli.base import (
    Failure,
    make_context,
    one_line_errors,
    open_context,
    require_current_schema,
)
from vcs.config import Settings, check_serving, env_name, load_settings
from vcs.paths import DEFAULT_CONFIG


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

    settings = load_settings()
    host = host or settings.web.host
    port = port or settings.web.port
    if not base_url_configured(settings):
        # Links in pages, feeds and e-mails must lead to where this server actually listens.
        os.environ[env_name("base_url")] = local_base_url(host, port)
    context = make_context()
    settings = context.settings
    check_serving(settings, host)
    require_current_schema(context)
    app = create_app(context, with_scheduler=settings.scheduler.enabled)
    record = serving_record(settings)
    if record is not None:
        record.write_text(settings.base_url + "\n", encoding="utf-8")
    try:
        # vcs.web.observability logs each request, with its id; uvicorn's own line would repeat it.
        uvicorn.run(app, host=host, port=port, access_log=False)
    finally:
        if record is not None:
            record.unlink(missing_ok=True)


def base_url_configured(settings: Settings) -> bool:
    """Whether base_url was set (a settings file, VCS_BASE_URL), not left at its default."""
    return settings.sources.get("base_url", str(DEFAULT_CONFIG)) != str(DEFAULT_CONFIG)


def local_base_url(host: str, port: int) -> str:
    """The address of a server listening on host:port, as a browser on this machine types it."""
    if not host or host in ("0.0.0.0", "::"):  # noqa: S104 - naming it, not listening on it
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def serving_record(settings: Settings) -> Path | None:
    """Where `vcs serve` notes the address it serves (beside an SQLite database), so commands
    run beside it can tell when their links point elsewhere; None for other databases."""
    url = settings.database_url
    if url.drivername != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database + ".serving")


def warn_about_base_url(settings: Settings) -> None:
    """Warn (on stderr) when base_url is left at its default while `vcs serve` runs elsewhere:
    the links this command writes would lead nowhere."""
    record = serving_record(settings)
    if base_url_configured(settings) or record is None or not record.is_file():
        return
    serving = record.read_text(encoding="utf-8").strip()
    if serving and serving != settings.base_url:
        click.echo(
            f"vcs: warning: links will point at {settings.base_url} (the default base_url), "
            f"but `vcs serve` runs at {serving}; set VCS_BASE_URL={serving}",
            err=True,
        )


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
    warn_about_base_url(context.settings)
    run = run_job(context, spec, trigger="command")
    if run.outcome != "ok":
        raise Failure(f"job {name} failed: {run.error.splitlines()[0]}")
    click.echo(f"{name}: {run.summary}")
