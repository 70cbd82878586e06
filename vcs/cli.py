"""The `vcs` command."""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from sqlalchemy.exc import OperationalError

from vcs.config import ConfigError, load_settings
from vcs.context import Context
from vcs.logs import configure_logging
from vcs.network import NetworkFileError

F = TypeVar("F", bound=Callable[..., Any])


class Failure(click.ClickException):
    """An expected failure: printed as one line, exit code 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"vcs: {self.message}", err=True)


def one_line_errors(func: F) -> F:
    """Turn the errors a user can fix into one line naming the problem, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            raise Failure(f"config: {exc}") from None
        except NetworkFileError as exc:
            raise Failure(f"network file: {exc}") from None
        except OperationalError as exc:
            first = str(exc.orig or exc).strip().splitlines()[0]
            raise Failure(f"database unreachable: {first}") from None

    return wrapper  # type: ignore[return-value]


def make_context() -> Context:
    settings = load_settings()
    configure_logging(settings)
    return Context.from_settings(settings)


def require_current_schema(context: Context) -> None:
    from vcs.storage import migrate

    if not migrate.is_current(context.database.engine):
        raise Failure("the database schema is not current: run `vcs init` first")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vcs")
def cli() -> None:
    """vcs: videoconference series of a network of municipal youth workers.

    Settings come from config/default.toml, the file in VCS_CONFIG and VCS_* variables.
    """


@cli.command()
@one_line_errors
def init() -> None:
    """Create or migrate the database and load config/network.toml (safe to run again)."""
    from vcs.bootstrap import initialise

    context = make_context()
    report = initialise(context)
    before = report.revision_before or "empty"
    click.echo(f"database: {context.settings.database_url.render_as_string(hide_password=True)}")
    click.echo(f"schema: {before} -> {report.revision}")
    click.echo(
        f"network: {report.regions} regions, {report.municipalities} municipalities, "
        f"{report.network_changes} changed"
    )


@cli.command()
@one_line_errors
def demo() -> None:
    """`init`, then a demo network: series, sessions, members and a digest draft."""
    from vcs.bootstrap import initialise
    from vcs.demo import load_demo

    context = make_context()
    initialise(context)
    for line in load_demo(context):
        click.echo(line)


@cli.command()
@click.option("--host", help="Address to listen on (default: web.host).")
@click.option("--port", type=int, help="Port to listen on (default: web.port).")
@one_line_errors
def serve(host: str | None, port: int | None) -> None:
    """Run the web app and the scheduler in one process (the embedded default)."""
    import uvicorn

    from vcs.web.app import create_app

    context = make_context()
    require_current_schema(context)
    settings = context.settings
    app = create_app(context, with_scheduler=settings.scheduler.enabled)
    uvicorn.run(app, host=host or settings.web.host, port=port or settings.web.port)


@cli.command()
@click.option("--host", help="Address to listen on (default: web.host).")
@click.option("--port", type=int, help="Port to listen on (default: web.port).")
@click.option("--workers", type=int, help="Worker processes (default: web.workers).")
@one_line_errors
def web(host: str | None, port: int | None, workers: int | None) -> None:
    """Run only the web app, in one or more worker processes; it never runs jobs."""
    import uvicorn

    context = make_context()
    require_current_schema(context)
    settings = context.settings
    context.close()
    uvicorn.run(
        "vcs.web.asgi:app",
        host=host or settings.web.host,
        port=port or settings.web.port,
        workers=workers or settings.web.workers,
    )


@cli.command()
@one_line_errors
def scheduler() -> None:
    """Run only the scheduler; a second one waits and takes over when the first stops."""
    from vcs.scheduler.service import SchedulerService

    context = make_context()
    require_current_schema(context)
    service = SchedulerService(context)

    def stop(signum: int, _frame: Any) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    service.run()


@cli.group()
def jobs() -> None:
    """The scheduler's jobs."""


@jobs.command("list")
@one_line_errors
def jobs_list() -> None:
    """List every job with its schedule and its last run."""
    from sqlalchemy import select

    from vcs.scheduler.jobs import registry
    from vcs.storage.models import JobRun

    context = make_context()
    require_current_schema(context)
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

    context = make_context()
    require_current_schema(context)
    try:
        spec = registry.get(name)
    except KeyError as exc:
        raise Failure(str(exc.args[0])) from None
    run = run_job(context, spec, trigger="command")
    if run.outcome != "ok":
        raise Failure(f"job {name} failed: {run.error.splitlines()[0]}")
    click.echo(f"{name}: {run.summary}")


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
