"""Series and single sessions: `vcs series ...`, `vcs sessions ...`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from vcs.cli.base import (
    RowId,
    columns,
    one_line_errors,
    open_context,
)
from vcs.cli.serving import warn_about_base_url
from vcs.context import Context
from vcs.states import SessionStatus


@click.group()
def series() -> None:
    """Recurring series: import them from a file, export them, list them."""


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
    _provision_soon(context)


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
    click.echo(
        columns(
            [[row["slug"], row["rrule"], row["start"], row["region"] or "national"] for row in rows]
        ),
        nl=False,
    )


@series.command("export")
@click.argument("slug", required=False)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@one_line_errors
def series_export(slug: str | None, output: Path | None) -> None:
    """Write every series (or SLUG) as a series file; staff edits of sessions as overrides."""
    from vcs.planning.series_export import export_series

    context = open_context()
    with context.database.session() as db:
        written = export_series(db, slug)
    if output is None:
        click.echo(written, nl=False)
    else:
        output.write_text(written, encoding="utf-8")


@click.group()
def sessions() -> None:
    """Single sessions: list, move, cancel, reinstate, edit."""


@sessions.command("list")
@click.option("--from", "start", help="Only sessions ending after this date (11.03.2027).")
@click.option("--to", "end", help="Only sessions starting on or before this date (11.03.2027).")
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
    if as_json:
        warn_about_base_url(context.settings)  # the JSON carries each session's page address
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
    table = []
    for row in rows:
        status = "" if row["status"] == SessionStatus.SCHEDULED else f"[{row['status']}]"
        cells = [f"{row['id']:>5}", row["start"][:16], row["series"], row["title"]["lv"], status]
        table.append(cells)
    click.echo(columns(table), nl=False)


@sessions.command("move")
@click.argument("session_id", type=RowId("session"))
@click.option(
    "--start", required=True, help="New start (11.03.2027 10:00), local time of the series."
)
@click.option("--end", help="New end (11.03.2027 11:30; default: keep the length).")
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
        moved_to = session.start.astimezone(tz).isoformat()
    _provision_soon(context, session_id)
    click.echo(f"session {session_id} moved to {moved_to}")


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
    _provision_soon(context, session_id)
    click.echo(f"session {session_id} reinstated")


@sessions.command("edit")
@click.argument("session_id", type=RowId("session"))
@click.option(
    "--place-kind",
    type=click.Choice(["online", "venue", "hybrid"]),
    help="Where it happens: online, in a room (venue), or both (hybrid).",
)
@click.option("--venue", help="The room: 'Kuldīgas jauniešu centrs'.")
@click.option("--address", help="Where the room is: 'Pils iela 5, Kuldīga'.")
@click.option("--municipality", help="The municipality's slug (config/network.toml).")
@click.option("--watch-url", help="The public livestream link ('' for the provider's).")
@click.option("--join-url", help="The members-only meeting room ('' for the series' one).")
@click.option("--recording-url", help="The recording ('' for none).")
@click.option("--topic", help="The topic in Latvian.")
@click.option("--topic-en", help="The topic in English.")
@one_line_errors
def sessions_edit(
    session_id: int,
    place_kind: str | None,
    venue: str | None,
    address: str | None,
    municipality: str | None,
    watch_url: str | None,
    join_url: str | None,
    recording_url: str | None,
    topic: str | None,
    topic_en: str | None,
) -> None:
    """Change the place, links or topic of session SESSION_ID; members who got the
    announcement hear of a new place or link."""
    from vcs.planning import sessions as domain
    from vcs.planning import wording

    context = open_context()
    with context.database.session() as db:
        session = domain.get(db, session_id)
        values: dict[str, object] = {
            key: value
            for key, value in (
                ("watch_url", watch_url),
                ("join_url", join_url),
                ("recording_url", recording_url),
                ("topic_lv", topic),
                ("topic_en", topic_en),
            )
            if value is not None
        }
        given = {"kind": place_kind, "venue": venue, "address": address}
        given["municipality"] = municipality
        if any(value is not None for value in given.values()):
            place = domain.edit_place(wording.place(session), **given)
            # The series' place stays the session's until another one is given.
            if session.place is not None or place != wording.place(session):
                values["place"] = place
        if not values and not any(value is not None for value in given.values()):
            raise click.UsageError("say what to change (see vcs sessions edit --help)")
        before = session.revision
        domain.update_details(db, session, "cli", **values)
        changed = session.revision != before
    if changed:
        _provision_soon(context, session_id)
    click.echo(f"session {session_id} " + ("changed" if changed else "unchanged"))


def _provision_soon(context: Context, session_id: int | None = None) -> None:
    """A session (or any) that starts before the next provision run gets its livestream now;
    what was saved stands whatever the provider says."""
    from vcs.livestream.jobs import provision_soon

    provision_soon(context, session_id)
