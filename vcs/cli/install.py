"""Setting an installation up and keeping it: `vcs init`, `demo`, `backup`, `restore`."""

from __future__ import annotations

from pathlib import Path

import click

from vcs.cli.base import (
    make_context,
    one_line_errors,
)
from vcs.config import load_settings


@click.command()
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


@click.command()
@one_line_errors
def demo() -> None:
    """`init`, then a demo network: series, sessions, members and a digest draft."""
    from vcs.bootstrap import initialise
    from vcs.demo import load_demo

    context = make_context()
    initialise(context)
    for line in load_demo(context):
        click.echo(line)


@click.command()
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
        raise exc.at("backup") from None


@click.command()
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
        raise exc.at("restore") from None
    click.echo(str(report))
    if report.revision != migrate.head_revision():
        click.echo("the backup has an older schema: run `vcs init` to migrate it")
