"""Series and single sessions: `vcs series ...`, `vcs sessions ...`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from vcs.cli.base import (
    RowId,
    one_line_errors,
    open_context,
)


@click.group()
def series() -> None:
    """Recurring series: import them from a file, list them."""


@series.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@one_line_errors
def series_import(file: Path) -> None:
    """Create or update the series in FILE (see docs/series-files.md); all or nothing."""
    from vcs.planning.series import import_series, read_series_file

    context = open_context()
    specs = read_series_file(file, context.settings.timezone)
    for result in import_series(context, specs, actor=f"cli:{file.name}"):
        click.echo(f"{result.slug}: {result.outcome}; sessions: {result.sessions}")


@series.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@one_line_errors
def series_list(as_json: bool) -> None:
    """List every series."""
    from vcs.planning.series import list_series, series_json

    context = open_context()
    with context.database.session() as db:
        rows = [series_json(s) for s in list_series(db)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        scope = row["region"] or "national"
        click.echo(f"{row['slug']:<40} {row['rrule']:<28} {row['start']}  {scope}")


@click.group()
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
    from vcs.livestream.plan import stream
    from vcs.planning import sessions as domain
    from vcs.planning.wording import session_json

    context = open_context()
    tz = context.settings.tz
    with context.database.session() as db:
        found = domain.between(
            db,
            domain.parse_local(start, tz) if start else None,
            domain.parse_until(end, tz) if end else None,
            series=series_slug,
            public_only=False,
        )
        now, base = context.clock.now(), context.settings.base_url
        rows = [session_json(s, base, now, stream(s)) for s in found]
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
    from vcs.planning import sessions as domain

    context = open_context()
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
    from vcs.planning import sessions as domain

    context = open_context()
    with context.database.session() as db:
        session = domain.get(db, session_id)
        domain.cancel(db, session, reason, "cli")
        click.echo(f"session {session.id} cancelled")


@sessions.command("reinstate")
@click.argument("session_id", type=RowId("session"))
@one_line_errors
def sessions_reinstate(session_id: int) -> None:
    """Undo the cancellation of session SESSION_ID."""
    from vcs.planning import sessions as domain

    context = open_context()
    with context.database.session() as db:
        session = domain.get(db, session_id)
        domain.reinstate(db, session, "cli")
        click.echo(f"session {session.id} reinstated")
