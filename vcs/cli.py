"""The `vcs` command."""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import OperationalError

from vcs.config import ConfigError, check_serving, env_name, load_settings
from vcs.context import Context
from vcs.errors import VcsError
from vcs.logs import configure_logging
from vcs.network import NetworkFileError
from vcs.series import SeriesError
from vcs.sessions import SessionError

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
        except SeriesError as exc:
            raise Failure("\n".join(["nothing was saved:", *exc.problems])) from None
        except SessionError as exc:
            raise Failure(str(exc)) from None
        except VcsError as exc:
            raise Failure("; ".join(exc.lines())) from None
        except OperationalError as exc:
            first = str(exc.orig or exc).strip().splitlines()[0]
            raise Failure(f"database unreachable: {first}") from None

    return wrapper  # type: ignore[return-value]


# The largest id a row can have: ids are INTEGER columns, 32-bit on PostgreSQL, which refuses to
# compare one with a bigger number (and SQLite's driver cannot pass one beyond 64 bits).
MAX_ID = 2**31 - 1


class RowId(click.ParamType[int]):
    """The id of a session, digest, ...: a whole number; one no row can have is not found."""

    name = "id"

    def __init__(self, what: str) -> None:
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if not re.fullmatch(r"-?[0-9]+", text):
            self.fail(f"{value!r} is not a whole number", param, ctx)
        # Checked before int(): a number of thousands of digits is refused by int() itself.
        if len(text) > len(str(MAX_ID)) or not 1 <= int(text) <= MAX_ID:
            raise Failure(f"no {self.what} with id {text}")
        return int(text)


class VcsGroup(click.Group):
    """The `vcs` command: refuses NUL in any argument before a sub-command runs."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # No file name, e-mail address or date holds one; PostgreSQL refuses it in a query and
        # the file system in a path. (A shell cannot pass one; a program calling us can.)
        for arg in args:
            if "\x00" in arg:
                raise Failure(f"an argument contains a NUL character: {arg[:40]!r}")
        return super().parse_args(ctx, args)


def make_context() -> Context:
    settings = load_settings()
    configure_logging(settings)
    return Context.from_settings(settings)


def require_current_schema(context: Context) -> None:
    from vcs.storage import migrate

    if not migrate.is_current(context.database.engine):
        raise Failure("the database schema is not current: run `vcs init` first")


@click.group(cls=VcsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vcs")
def cli() -> None:
    """vcs: videoconference series of a network of municipal youth workers.

    Settings come from config/default.toml, the file in VCS_CONFIG and VCS_* variables.
    """


@cli.command()
@click.option(
    "--generate-secret",
    is_flag=True,
    help="Only print a new random secret key, as a VCS_SECRET_KEY= line; read and change nothing.",
)
@one_line_errors
def init(generate_secret: bool) -> None:
    """Create or migrate the database and load config/network.toml (safe to run again)."""
    from vcs.bootstrap import initialise

    if generate_secret:
        import secrets

        # Settings are not read: this is how one makes the secret production mode asks for.
        click.echo(f"VCS_SECRET_KEY={secrets.token_urlsafe(48)}")
        click.echo(
            "Put this line in the environment of every vcs process (e.g. /etc/vcs/vcs.env) and "
            "keep it secret; changing it later logs staff out and ends the links in e-mails "
            "already sent.",
            err=True,
        )
        return
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


@cli.command()
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


@cli.command()
@one_line_errors
def scheduler() -> None:
    """Run only the scheduler; a second one waits and takes over when the first stops."""
    from vcs.scheduler.service import SchedulerService

    context = make_context()
    require_current_schema(context)
    service = SchedulerService(context)
    if context.settings.scheduler.metrics_port:
        from vcs.metrics import serve_on_loopback

        serve_on_loopback(context.settings.scheduler.metrics_port, context.database)

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


@cli.group()
def series() -> None:
    """Recurring series: import them from a file, list them."""


@series.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@one_line_errors
def series_import(file: Path) -> None:
    """Create or update the series in FILE (see docs/series-files.md); all or nothing."""
    from vcs.series import import_series, read_series_file

    context = make_context()
    require_current_schema(context)
    specs = read_series_file(file, context.settings.timezone)
    for result in import_series(context, specs, actor=f"cli:{file.name}"):
        click.echo(f"{result.slug}: {result.outcome}; sessions: {result.sessions}")


@series.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@one_line_errors
def series_list(as_json: bool) -> None:
    """List every series."""
    from vcs.series import list_series, series_json

    context = make_context()
    require_current_schema(context)
    with context.database.session() as db:
        rows = [series_json(s) for s in list_series(db)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        scope = row["region"] or "national"
        click.echo(f"{row['slug']:<40} {row['rrule']:<28} {row['start']}  {scope}")


@cli.group()
def sessions() -> None:
    """Single sessions: list, move, cancel, reinstate."""


@sessions.command("list")
@click.option("--from", "start", help="Only sessions ending after this date (YYYY-MM-DD).")
@click.option("--to", "end", help="Only sessions starting on or before this date (YYYY-MM-DD).")
@click.option("--series", "series_slug", help="Only sessions of this series (slug).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@one_line_errors
def sessions_list(
    start: str | None, end: str | None, series_slug: str | None, as_json: bool
) -> None:
    """List sessions, members-only ones included."""
    from vcs import sessions as domain

    context = make_context()
    require_current_schema(context)
    tz = context.settings.tz
    with context.database.session() as db:
        found = domain.between(
            db,
            domain.parse_local(start, tz) if start else None,
            domain.parse_until(end, tz) if end else None,
            series=series_slug,
            public_only=False,
        )
        rows = [
            domain.session_json(s, context.settings.base_url, context.clock.now()) for s in found
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        status = "" if row["status"] == "scheduled" else f"  [{row['status']}]"
        click.echo(
            f"{row['id']:>5}  {row['start'][:16]}  {row['series']:<36} {row['title']['lv']}{status}"
        )


@sessions.command("move")
@click.argument("session_id", type=RowId("session"))
@click.option("--start", required=True, help="New start, local time of the series or with offset.")
@click.option("--end", help="New end (default: keep the length).")
@one_line_errors
def sessions_move(session_id: int, start: str, end: str | None) -> None:
    """Move session SESSION_ID; it keeps its identity in every calendar."""
    from vcs import sessions as domain

    context = make_context()
    require_current_schema(context)
    with context.database.session() as db:
        session = domain.get(db, session_id)
        tz = domain.timezone(session)
        new_end = domain.parse_local(end, tz) if end else None
        domain.move(db, session, domain.parse_local(start, tz), "cli", new_end)
        click.echo(f"session {session.id} moved to {session.start.astimezone(tz).isoformat()}")


@sessions.command("cancel")
@click.argument("session_id", type=RowId("session"))
@click.option("--reason", required=True, help="Why, in words the members will read.")
@one_line_errors
def sessions_cancel(session_id: int, reason: str) -> None:
    """Cancel session SESSION_ID."""
    from vcs import sessions as domain

    context = make_context()
    require_current_schema(context)
    with context.database.session() as db:
        session = domain.get(db, session_id)
        domain.cancel(db, session, reason, "cli")
        click.echo(f"session {session.id} cancelled")


@sessions.command("reinstate")
@click.argument("session_id", type=RowId("session"))
@one_line_errors
def sessions_reinstate(session_id: int) -> None:
    """Undo the cancellation of session SESSION_ID."""
    from vcs import sessions as domain

    context = make_context()
    require_current_schema(context)
    with context.database.session() as db:
        session = domain.get(db, session_id)
        domain.reinstate(db, session, "cli")
        click.echo(f"session {session.id} reinstated")


@cli.group()
def livestream() -> None:
    """Broadcasts of the coming sessions: their state, errors and the providers' health."""


@livestream.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@one_line_errors
def livestream_status(as_json: bool) -> None:
    """Provider health, API units spent today, and every broadcast within the provision window."""
    from vcs.livestream.report import status_report

    context = make_context()
    require_current_schema(context)
    report = status_report(context)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for provider in report["providers"]:
        line = f"{provider['provider']}: {provider['state']}"
        if provider["units_today"] is not None:
            line += f", {provider['units_today']} of {provider['daily_quota']} units today"
        if provider["message"]:
            line += f" - {provider['message']}"
        if provider["fix_command"]:
            line += f" (fix: {provider['fix_command']})"
        click.echo(line)
    for row in report["broadcasts"]:
        line = f"{row['session']:>6}  {row['start']}  {row['series']:<36} {row['provider']:<8}"
        line += f" {row['status']:<10} {row['external_id']}"
        if row["last_error"]:
            line += f"\n        {row['error_count']} failure(s), next try {row['next_attempt_at']}"
            line += f": {row['last_error']}"
        click.echo(line)
    if not report["broadcasts"]:
        click.echo("no streamed sessions within the provision window")


@cli.group()
def google() -> None:
    """Google credentials for YouTube Live."""


@google.command("auth")
@click.option(
    "--no-browser", is_flag=True, help="Print the sign-in address instead of opening a browser."
)
@one_line_errors
def google_auth(no_browser: bool) -> None:
    """Sign in as the YouTube channel owner once; the refreshable token is kept (mode 0600)."""
    from vcs.livestream import google_auth as auth
    from vcs.livestream.health import mark_ok

    context = make_context()
    require_current_schema(context)
    settings = context.settings
    client_secrets = settings.path(settings.livestream.google_client_secrets)
    token_file = settings.path(settings.livestream.google_token_file)
    if not client_secrets.is_file():
        raise Failure(
            f"no Google OAuth client file at {client_secrets}: in Google Cloud Console enable the "
            'YouTube Data API v3, create an OAuth client of type "Desktop app" and save its JSON '
            "there (or set livestream.google_client_secrets)"
        )
    try:
        auth.authorize(client_secrets, token_file, open_browser=not no_browser)
    except auth.AuthorizationError as exc:
        raise Failure(str(exc)) from None
    with context.database.session() as db:
        mark_ok(db, "youtube")
    click.echo(f"Google token stored in {token_file} (mode 0600); YouTube Live is enabled again")


@cli.group()
def members() -> None:
    """The member directory as a CSV file: import, export (see docs/members.md)."""


# Smaller files are checked and saved before a progress bar would be worth drawing.
PROGRESS_MIN_ROWS = 1000


@members.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and show what would change.")
@one_line_errors
def members_import(file: Path, dry_run: bool) -> None:
    """Create or update the members in FILE, all or nothing; others are left as they are."""
    import contextlib

    from vcs.members_csv import MemberFileError, import_members

    context = make_context()
    require_current_schema(context)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise Failure(f"nothing was saved:\n{file}: {exc.strerror or exc}") from None
    with contextlib.ExitStack() as stack:
        bars: list[Any] = []

        def progress(step: int, total: int) -> None:
            # Only on a terminal (stderr), and only for a file large enough to take a moment.
            if not bars and sys.stderr.isatty() and total >= 2 * PROGRESS_MIN_ROWS:
                bar = click.progressbar(length=total, label="members", file=sys.stderr)
                bars.append(stack.enter_context(bar))
            for bar in bars:
                bar.update(step)

        try:
            report = import_members(
                context, data, str(file), f"cli:{file.name}", dry_run=dry_run, progress=progress
            )
        except MemberFileError as exc:
            raise Failure("\n".join(["nothing was saved:", *exc.problems])) from None
    for row in report.rows:
        if dry_run and row.outcome != "unchanged":
            fields = f": {', '.join(row.changed)}" if row.outcome == "updated" else ""
            click.echo(f"line {row.line}: {row.email}: would be {row.outcome}{fields}")
        if row.note:
            click.echo(f"line {row.line}: {row.email}: {row.note}")
    if dry_run:
        click.echo(f"dry run, nothing was saved: {report.summary()}")
    else:
        click.echo(f"{file}: {report.summary()}")


@members.command("reactivate")
@click.argument("emails", nargs=-1)
@click.option(
    "--bounced-since",
    metavar="DATE",
    help="Everyone the outbox marked bounced since DATE (YYYY-MM-DD or YYYY-MM-DDTHH:MM, local).",
)
@one_line_errors
def members_reactivate(emails: tuple[str, ...], bounced_since: str | None) -> None:
    """Return wrongly bounced members (EMAIL..., or --bounced-since) to active; audited."""
    import datetime as dt

    from vcs.i18n import N_
    from vcs.mail import outbox as mail_outbox
    from vcs.members import MemberError, find_by_emails, normalise_email

    if not emails and not bounced_since:
        raise Failure("name members by e-mail address, or give --bounced-since DATE")
    context = make_context()
    require_current_schema(context)
    since = None
    if bounced_since:
        try:
            since = dt.datetime.fromisoformat(bounced_since)
        except ValueError:
            raise VcsError.one(
                "members.bad-date",
                N_("--bounced-since: not a date like 2026-11-23 or 2026-11-23T09:30: %(value)s"),
                value=bounced_since,
            ) from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=context.settings.tz)
    wanted = {}
    for email in emails:
        try:
            wanted[email] = normalise_email(email)
        except MemberError:
            wanted[email] = email
    with context.database.session() as db:
        found = find_by_emails(db, wanted.values())
        unknown = [email for email, key in wanted.items() if key not in found]
        if unknown:
            raise VcsError.one(
                "members.unknown-email",
                N_("no member has the e-mail address %(email)s; nothing was changed"),
                email=unknown[0],
            )
        chosen = {member.id: member for member in found.values()}
        if since is not None:
            chosen |= {member.id: member for member in mail_outbox.bounced_since(db, since)}
        done = mail_outbox.reactivate(db, chosen.values(), actor="cli")
        skipped = sorted(
            f"{m.email}: {m.status}, left as it is"
            for m in chosen.values()
            if m.email not in {d.email for d in done}
        )
    for member in done:
        click.echo(
            f"{member.email}: active again (was {member.status}, {member.bounce_count} bounces)"
        )
    for line in skipped:
        click.echo(line)
    click.echo(f"{len(done)} members active again; `vcs outbox retry` queues failed mail again")


@members.command("export")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@one_line_errors
def members_export(output: Path | None) -> None:
    """Write every member in the import format (UTF-8 with BOM, `;`), for Excel and re-import."""
    from sqlalchemy import func, select

    from vcs.members_csv import export_members
    from vcs.storage.models import Member

    context = make_context()
    require_current_schema(context)
    with context.database.session() as db:
        data = export_members(db, context.settings.tz)
        count = db.scalar(select(func.count()).select_from(Member))
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise Failure(f"{output}: {exc.strerror or exc}") from None
    click.echo(f"{count} members written to {output}", err=True)


@cli.group()
def staff() -> None:
    """Staff accounts for /staff: add, list, set a password, disable."""


def _staff_password(from_stdin: bool) -> str:
    from vcs.staff.accounts import MIN_PASSWORD_LENGTH

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            f"Password (at least {MIN_PASSWORD_LENGTH} characters)",
            hide_input=True,
            confirmation_prompt="Repeat the password",
        )
    return str(password)


@staff.command("add")
@click.argument("email")
@click.option(
    "--role", type=click.Choice(["admin", "editor"]), required=True, help="What they may do."
)
@click.option("--name", default="", help="The name shown in the staff area.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@one_line_errors
def staff_add(email: str, role: str, name: str, password_stdin: bool) -> None:
    """Create the staff account EMAIL; asks for the password twice."""
    from vcs.staff import accounts

    context = make_context()
    require_current_schema(context)
    password = _staff_password(password_stdin)
    try:
        with context.database.session() as db:
            user = accounts.create(db, email, password, role, actor="cli", name=name)
            click.echo(f"staff account {user.email} added ({user.role})")
    except accounts.AccountError as exc:
        raise Failure(str(exc)) from None


@staff.command("list")
@one_line_errors
def staff_list() -> None:
    """List the staff accounts with role, state and last log-in."""
    from vcs.staff import accounts

    context = make_context()
    require_current_schema(context)
    with context.database.session() as db:
        for user in accounts.all_accounts(db):
            state = "active" if user.active else "disabled"
            last = f"{user.last_login_at:%Y-%m-%d %H:%M} UTC" if user.last_login_at else "never"
            click.echo(
                f"{user.email:<40} {user.role:<7} {state:<9} last log-in {last}  {user.name}"
            )


@staff.command("password")
@click.argument("email")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@one_line_errors
def staff_password(email: str, password_stdin: bool) -> None:
    """Set a new password for EMAIL; its log-ins in progress end."""
    from vcs.staff import accounts

    context = make_context()
    require_current_schema(context)
    with context.database.session() as db:
        if accounts.find(db, email) is None:
            raise Failure(f"no staff account {accounts.normalise_email(email)}")
    # Asked outside any transaction: a person may take a while to type it.
    password = _staff_password(password_stdin)
    try:
        with context.database.session() as db:
            user = accounts.find(db, email)
            assert user is not None
            accounts.set_password(db, user, password, actor="cli")
            click.echo(f"new password set for {user.email}")
    except accounts.AccountError as exc:
        raise Failure(str(exc)) from None


@staff.command("disable")
@click.argument("email")
@one_line_errors
def staff_disable(email: str) -> None:
    """Stop EMAIL from logging in; a log-in in progress ends at once."""
    from vcs.staff import accounts

    context = make_context()
    require_current_schema(context)
    try:
        with context.database.session() as db:
            user = accounts.disable(db, email, actor="cli")
            click.echo(f"staff account {user.email} disabled")
    except accounts.AccountError as exc:
        raise Failure(str(exc)) from None


@cli.group()
def outbox() -> None:
    """The e-mail outbox: what is queued, sent and failed; retry; send now."""


@outbox.command("status")
@one_line_errors
def outbox_status() -> None:
    """Counts per state and kind, then the failed deliveries with their errors."""
    from vcs.mail import outbox as mail_outbox

    context = make_context()
    require_current_schema(context)
    with context.database.session() as db:
        report = mail_outbox.outbox_status(db)
        due = mail_outbox.due_count(db, context.clock.now())
    kinds = sorted({kind for kind, _state in report.counts})
    if not kinds:
        click.echo("the outbox is empty")
        return
    states = mail_outbox.STATES
    click.echo(f"{'kind':<14}" + "".join(f"{state:>18}" for state in states))
    for kind in kinds:
        row = "".join(f"{report.counts.get((kind, state), 0):>18}" for state in states)
        click.echo(f"{kind:<14}{row}")
    click.echo(f"{'all':<14}" + "".join(f"{report.total(state):>18}" for state in states))
    click.echo(f"{due} due now")
    if report.pause is not None:
        from vcs.mail import relay

        pause = report.pause
        click.echo(
            f"sending paused since {pause.started_at:%Y-%m-%d %H:%M} UTC ({pause.tries} tries),"
            f" next try {pause.next_try_at:%Y-%m-%d %H:%M} UTC or now with `vcs outbox send`:"
            f" {relay.problem_of(pause).line()}"
        )
    for failed in report.failed:
        retry = (
            f", next try {failed.next_attempt_at:%Y-%m-%d %H:%M} UTC"
            if (failed.status == mail_outbox.FAILED_TEMPORARY and failed.next_attempt_at)
            else ""
        )
        click.echo(
            f"{failed.id:>7}  {failed.kind}/{failed.ref}  {failed.to_address}  {failed.status}"
            f" after {failed.attempts} attempt(s){retry}: {failed.last_error}"
        )
    if report.failed_total > len(report.failed):
        click.echo(f"... and {report.failed_total - len(report.failed)} more failed")


@outbox.command("retry")
@click.option("--kind", help="Only deliveries of this kind (digest, announcement, ...).")
@one_line_errors
def outbox_retry(kind: str | None) -> None:
    """Queue the failed deliveries again (and only those); the next send tries them."""
    from vcs.mail import outbox as mail_outbox

    context = make_context()
    require_current_schema(context)
    with context.database.session() as db:
        count = mail_outbox.retry_failed(db, kind)
    click.echo(f"{count} failed deliveries queued again")


@outbox.command("send")
@one_line_errors
def outbox_send() -> None:
    """Send what is due now, with a progress bar; Ctrl-C or SIGTERM pauses (resume any time)."""
    context = make_context()
    require_current_schema(context)
    send_with_progress(context, "another sender is draining the outbox; try again when it is done")


@cli.group("mail")
def mail_group() -> None:
    """E-mail set-up: the DKIM record to publish."""


@mail_group.command("dkim-record")
@one_line_errors
def mail_dkim_record() -> None:
    """Print the DNS TXT record that publishes the key of mail.dkim_key_file."""
    from vcs.mail import dkim

    signer = dkim.signer(load_settings())
    if signer is None:
        raise Failure("mail.dkim_key_file is empty: nothing is signed, there is no record")
    click.echo(f"name:  {signer.dns_name}")
    click.echo("type:  TXT")
    click.echo(f"value: {signer.key.record}")
    click.echo(f"zone:  {signer.zone_line()}")


@cli.group()
def digest() -> None:
    """The weekly digest: draft it, preview it, send it."""


@digest.command("draft")
@one_line_errors
def digest_draft() -> None:
    """Draft this week's digest (or name the one already drafted)."""
    from vcs import digest as digests

    context = make_context()
    require_current_schema(context)
    with context.database.session() as db:
        found, created = digests.draft(db, context.settings, context.clock.now(), "cli")
        line = f"digest {found.id}: " + ("drafted" if created else "this week's, drafted already")
    click.echo(f"{line}; edit it at {context.settings.base_url}/staff/digests/{found.id}")


@digest.command("preview")
@click.argument("digest_id", type=RowId("digest"))
@click.option("--lang", type=click.Choice(["lv", "en"]), default="lv", show_default=True)
@click.option("--text", "as_text", is_flag=True, help="The plain-text part instead of the HTML.")
@one_line_errors
def digest_preview(digest_id: int, lang: str, as_text: bool) -> None:
    """Print the e-mail as members get it (the HTML, or with --text the plain text)."""
    from vcs import digest as digests

    context = make_context()
    require_current_schema(context)
    with context.database.session() as db:
        try:
            found = digests.get(db, digest_id)
        except digests.DigestError as exc:
            raise Failure(str(exc)) from None
        _subject, text, html = digests.preview(db, context.settings, found, lang)
    click.echo(text if as_text else html, nl=False)


@digest.command("send")
@click.argument("digest_id", type=RowId("digest"))
@one_line_errors
def digest_send(digest_id: int) -> None:
    """Queue the digest for every active member (nobody twice), then send with a progress bar."""

    from vcs import digest as digests

    context = make_context()
    require_current_schema(context)
    with context.database.session() as db:
        try:
            found = digests.get(db, digest_id)
        except digests.DigestError as exc:
            raise Failure(str(exc)) from None
        queued = digests.send(db, context.settings, found, context.clock.now(), "cli")
        failed = digests.not_made(db, digest_id)
    # Those whose message could not be made are listed, with the reason, by `vcs outbox status`.
    failures = f", {failed} failed (see vcs outbox status)" if failed else ""
    click.echo(f"digest {digest_id}: {queued} new recipients queued{failures}")
    send_with_progress(
        context, "another sender is draining the outbox; the digest waits in it for that one"
    )


@cli.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the copy here (default: backups/vcs-YYYYMMDD-HHMMSS.sqlite3 beside the database).",
)
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    help="Then delete all but the KEEP newest dated backups there.",
)
@one_line_errors
def backup(output: Path | None, keep: int | None) -> None:
    """Copy the SQLite database while vcs runs, and check the copy (PostgreSQL: use pg_dump)."""
    from vcs import backup as backups

    # No schema check: a backup before `vcs init` migrates is exactly what an upgrade needs.
    settings = load_settings()
    try:
        click.echo(str(backups.backup(settings, output, keep)))
    except backups.BackupError as exc:
        raise Failure(f"backup: {exc}") from None


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@one_line_errors
def restore(file: Path) -> None:
    """Put the SQLite backup FILE in place of the database (stop vcs first; keeps the old one)."""
    from vcs import backup as backups
    from vcs.storage import migrate

    settings = load_settings()
    try:
        report = backups.restore(settings, file)
    except backups.BackupError as exc:
        raise Failure(f"restore: {exc}") from None
    click.echo(str(report))
    if report.revision != migrate.head_revision():
        click.echo("the backup has an older schema: run `vcs init` to migrate it")


class RelayRefused(Failure):
    """The mail relay refused us: nothing was marked failed; fix what the line says, send again."""

    exit_code = 3


def send_with_progress(context: Context, busy: str) -> None:
    """Drain the outbox now with a progress bar (count, rate, ETA); Ctrl-C or SIGTERM pauses."""
    import threading
    import time

    from vcs.mail import outbox as mail_outbox
    from vcs.mail.sender import Sender

    with context.database.session() as db:
        due = mail_outbox.due_count(db, context.clock.now())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    started = time.monotonic()
    done = 0
    lock = threading.Lock()

    def rate(_item: object) -> str:
        elapsed = time.monotonic() - started
        return f"{done / elapsed:.0f}/s" if elapsed > 0 and done else ""

    with click.progressbar(
        length=max(due, 1), label="sending", show_pos=True, show_eta=True, item_show_func=rate
    ) as bar:

        def progress(n: int) -> None:
            nonlocal done
            with lock:
                done += n
                bar.update(n)

        # Staff asked to send now: try even while an earlier refusal's pause lasts.
        report = Sender(context, stop=stop, on_progress=progress, force=True).run()
    if report.busy:
        raise Failure(busy)
    click.echo(str(report))
    if report.relay is not None:
        # A full or unwritable outbox folder is a local failure like any other (exit 1).
        raise (Failure if report.relay.local else RelayRefused)(report.relay.line())


def main() -> None:
    try:
        cli(standalone_mode=True)
    except VcsError as exc:
        # What a command did not turn into a Failure itself: still no traceback for input.
        for line in exc.lines():
            click.echo(f"vcs: {line}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
