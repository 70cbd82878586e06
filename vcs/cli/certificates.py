"""Certificates of participation: `vcs certificates release|revoke|export`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from vcs.cli.base import Failure, RowId, one_line_errors, open_context


@click.group()
def certificates() -> None:
    """Certificates of participation and a funded series' project records."""


@certificates.command("release")
@click.argument("session_id", type=RowId("session"))
@one_line_errors
def certificates_release(session_id: int) -> None:
    """Make the certificates of session SESSION_ID's attendees and queue their e-mails (each
    once: releasing again queues only new attendees)."""
    from vcs.certificates import issue

    context = open_context()
    with context.database.session() as db:
        done = issue.release(db, context.settings, context.clock, session_id, "cli")
    click.echo(
        f"session {session_id}: {done.issued} certificates made, {done.queued} e-mails queued"
    )
    if done.too_short:
        click.echo(f"{done.too_short} attendees were not there long enough for a certificate")
    if done.nameless:
        click.echo(f"{done.nameless} attendees have no name: give one and release again")


@certificates.command("revoke")
@click.argument("code")
@click.option("--reason", default="", help="Why, for the audit log and the staff page.")
@one_line_errors
def certificates_revoke(code: str, reason: str) -> None:
    """Revoke certificate CODE: its verification page then says it was revoked."""
    from vcs.certificates import issue

    context = open_context()
    with context.database.session() as db:
        found = issue.revoke(db, context.clock, code, "cli", reason)
        click.echo(f"certificate {found.code} revoked")


def _day(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise Failure(f"{option}: {value!r} is not a date like 2027-01-31") from None


@certificates.command("export")
@click.argument("series_slug", metavar="SERIES")
@click.option("--from", "start", required=True, help="First day (2027-01-01).")
@click.option("--to", "end", required=True, help="Last day, included (2027-06-30).")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pdf", "pdf_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["lv", "en"]), default="lv", help="The PDF's language.")
@one_line_errors
def certificates_export(
    series_slug: str,
    start: str,
    end: str,
    csv_file: Path | None,
    pdf_file: Path | None,
    lang: str,
) -> None:
    """Write a funded series' records for a period (sessions, attendees, academic hours) as a
    CSV file for Excel, attendance sheets as a PDF, or both."""
    from vcs import audit
    from vcs.certificates import records

    if csv_file is None and pdf_file is None:
        raise Failure("say where to write: --csv FILE, --pdf FILE or both")
    context = open_context()
    with context.database.session() as db:
        found = records.collect(
            db, context.settings, series_slug, _day(start, "--from"), _day(end, "--to")
        )
        outputs = []
        if csv_file is not None:
            outputs.append((csv_file, records.as_csv(found)))
        if pdf_file is not None:
            outputs.append((pdf_file, records.as_pdf(found, lang)))
        for path, data in outputs:
            try:
                path.write_bytes(data)
            except OSError as exc:
                raise Failure(f"{path}: {exc.strerror or exc}") from None
        audit.record(
            db,
            "cli",
            "export",
            "records",
            series_slug,
            after={"from": found.start.isoformat(), "to": found.end.isoformat()},
        )
    click.echo(
        f"{series_slug}: {len(found.sheets)} sessions, {found.attendances} attendances"
        + "".join(f"; wrote {path}" for path, _data in outputs)
    )
