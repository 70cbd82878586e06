"""Who took part in a session: `vcs attendance import|list` (docs/attendance.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from vcs.cli.base import Failure, RowId, columns, one_line_errors, open_context


@click.group()
def attendance() -> None:
    """Attendance of a session: the meeting tool's report, the list (see docs/attendance.md)."""


@attendance.command("import")
@click.argument("session_id", type=RowId("session"))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the report and show the review; save nothing.")
@one_line_errors
def attendance_import(session_id: int, file: Path, dry_run: bool) -> None:
    """Record who took part from FILE, the participant report of Zoom, Teams or
    Jitsi/BigBlueButton (CSV), all or nothing."""
    from vcs.attendance.reports import TOOL_NAMES
    from vcs.attendance.review import UNDER, import_report

    context = open_context()
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise Failure(f"nothing was saved:\n{file}: {exc.strerror or exc}") from None
    review = import_report(context, session_id, data, str(file), f"cli:{file.name}", dry_run)
    click.echo(f"{file}: a {TOOL_NAMES[review.tool]} report")
    for person in review.people:
        lines = ", ".join(str(line) for line in person.lines)
        matched = "member" if person.member_id else "not a member"
        matched += ", registered" if person.registration_id else ", not registered"
        what = (
            f"under the minimum ({person.minutes} min)"
            if person.outcome == UNDER
            else (f"{person.minutes} min, {person.outcome}")
        )
        click.echo(f"line {lines}: {person.email}: {matched}: {what}")
    for line in review.without_email:
        click.echo(f"line {line.line}: {line.name}: no e-mail address, not saved")
    if dry_run:
        click.echo(f"dry run, nothing was saved: {review.summary()}")
    else:
        click.echo(f"saved: {review.summary()}")


@attendance.command("list")
@click.argument("session_id", type=RowId("session"))
@click.option("--json", "as_json", is_flag=True, help="One JSON array (docs/attendance.md).")
@one_line_errors
def attendance_list(session_id: int, as_json: bool) -> None:
    """Everyone recorded as having taken part in the session, by name."""
    from vcs.attendance import records
    from vcs.planning import sessions

    context = open_context()
    with context.database.session() as db:
        sessions.get(db, session_id)
        rows = [records.as_json(row) for row in records.attendees(db, session_id)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = [
        [
            row["name"],
            row["email"],
            row["attendance"],
            "" if row["minutes"] is None else f"{row['minutes']} min",
            row["source"],
        ]
        for row in rows
    ]
    click.echo(columns(table), nl=False)
    click.echo(f"{len(rows)} attended")
