"""Reaching members where they are: `vcs bounces fetch`, `vcs google-calendar sync|status`."""

from __future__ import annotations

import click

from vcs.cli.base import Failure, one_line_errors, open_context


@click.group()
def bounces() -> None:
    """Bounces and complaints that arrive later, by mail, in the bounce mailbox (bounces.*)."""


@bounces.command("fetch")
@one_line_errors
def bounces_fetch() -> None:
    """Read the bounce mailbox once: count bounces per member, unsubscribe complainers."""
    from vcs.mail import bounces as intake
    from vcs.mail.imap import MailboxError, open_mailbox

    context = open_context()
    settings = context.settings.bounces
    if not settings.host:
        raise Failure("no bounce mailbox is set (bounces.host); see docs/bounces.md")
    try:
        with open_mailbox(settings) as mailbox:
            report = intake.fetch(context, mailbox)
    except MailboxError as exc:
        raise Failure(str(exc)) from None
    click.echo(str(report))


@click.group("google-calendar")
def google_calendar() -> None:
    """The public Google calendars vcs keeps in line with its sessions (google_calendar.*)."""


@google_calendar.command("sync")
@one_line_errors
def google_calendar_sync() -> None:
    """Bring every configured Google calendar in line with its feed now."""
    from vcs.reach.calendar_mirror import MirrorError, mirror

    context = open_context()
    try:
        report = mirror(context)
    except MirrorError as exc:
        raise Failure(str(exc)) from None
    click.echo(str(report))


@google_calendar.command("status")
@one_line_errors
def google_calendar_status() -> None:
    """The mirror's health, requests spent today, and each calendar's events and failures."""
    from sqlalchemy import func, select

    from vcs.providers.google_calendar import NAME
    from vcs.providers.quota import quota_day
    from vcs.storage.models import CalendarEvent, ProviderHealth, QuotaUsage

    context = open_context()
    settings = context.settings.google_calendar
    now = context.clock.now()
    with context.database.session() as db:
        health = db.get(ProviderHealth, NAME)
        usage = db.get(QuotaUsage, (NAME, quota_day(now)))
        line = f"{NAME}: {health.state if health else 'ok'}"
        line += f", {usage.units if usage else 0} of {settings.daily_requests} requests today"
        if health is not None and health.message:
            line += f" - {health.message}"
        if health is not None and health.fix_command:
            line += f" (fix: {health.fix_command})"
        click.echo(line)
        for audience, calendar_id in settings.calendars.items():
            counts: dict[str, int] = {
                status: count
                for status, count in db.execute(
                    select(CalendarEvent.status, func.count())
                    .where(CalendarEvent.calendar_id == calendar_id)
                    .group_by(CalendarEvent.status)
                )
            }
            failing = db.scalar(
                select(func.count()).where(
                    CalendarEvent.calendar_id == calendar_id, CalendarEvent.error_count > 0
                )
            )
            click.echo(
                f"{audience:<20} {calendar_id}: {counts.get('created', 0)} events, "
                f"{counts.get('cancelled', 0)} cancelled, {failing or 0} failing"
            )
        if not settings.calendars:
            click.echo("no Google calendars set (google_calendar.network, google_calendar.regions)")
