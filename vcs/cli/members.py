"""The member directory: `vcs members import|export|reactivate`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from vcs.cli.base import (
    Failure,
    one_line_errors,
    open_context,
)
from vcs.errors import VcsError


@click.group()
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

    from vcs.membership.members_csv import import_members

    context = open_context()
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

        report = import_members(
            context, data, str(file), f"cli:{file.name}", dry_run=dry_run, progress=progress
        )
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
    help="Everyone the outbox marked bounced since DATE (23.11.2026 or 23.11.2026 09:30, local).",
)
@one_line_errors
def members_reactivate(emails: tuple[str, ...], bounced_since: str | None) -> None:
    """Return wrongly bounced members (EMAIL..., or --bounced-since) to active; audited."""
    from vcs import dates
    from vcs.i18n import N_
    from vcs.mail import outbox as mail_outbox
    from vcs.membership.members import MemberError, find_by_emails, normalise_email

    if not emails and not bounced_since:
        raise Failure("name members by e-mail address, or give --bounced-since DATE")
    context = open_context()
    since = None
    if bounced_since:
        try:
            since = dates.parse_typed(bounced_since, context.settings.tz)
        except ValueError:
            raise VcsError.one(
                "members.bad-date",
                N_("--bounced-since: not a date like 23.11.2026 or 23.11.2026 09:30: %(value)s"),
                value=bounced_since,
            ) from None
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

    from vcs.membership.members_csv import export_members
    from vcs.storage.models import Member

    context = open_context()
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
