"""Livestreams: `vcs livestream status`, `vcs google auth`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from vcs.cli.base import (
    Failure,
    one_line_errors,
    open_context,
)
from vcs.context import Context


@click.group()
def livestream() -> None:
    """Broadcasts of the coming sessions: their state, errors and the providers' health."""


@livestream.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@one_line_errors
def livestream_status(as_json: bool) -> None:
    """Provider health, API units spent today, and every broadcast within the provision window."""
    from vcs.livestream.report import status_report

    context = open_context()
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


@click.group()
def google() -> None:
    """Google credentials for YouTube Live."""


@google.command("auth")
@click.option(
    "--no-browser", is_flag=True, help="Print the sign-in address instead of opening a browser."
)
@click.option(
    "--calendar",
    is_flag=True,
    help="Sign in for the Google Calendar mirror (scope calendar.events) instead of YouTube.",
)
@one_line_errors
def google_auth(no_browser: bool, calendar: bool) -> None:
    """Sign in as the YouTube channel owner once; the refreshable token is kept (mode 0600).

    With --calendar: sign in as the account that may edit the mirrored calendars.
    """
    from vcs.providers import google_auth as auth
    from vcs.providers.health import mark_ok

    context = open_context()
    settings = context.settings
    client_secrets = settings.path(settings.livestream.google_client_secrets)
    if calendar:
        _calendar_auth(context, client_secrets, no_browser)
        return
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


def _calendar_auth(context: Context, client_secrets: Path, no_browser: bool) -> None:
    from vcs.providers import google_auth as auth
    from vcs.providers.google_calendar import NAME
    from vcs.providers.health import mark_ok

    token_file = context.settings.path(context.settings.google_calendar.token_file)
    if not client_secrets.is_file():
        raise Failure(
            f"no Google OAuth client file at {client_secrets}: in Google Cloud Console enable the "
            'Google Calendar API, create an OAuth client of type "Desktop app" and save its JSON '
            "there (or set livestream.google_client_secrets)"
        )
    try:
        auth.authorize(
            client_secrets, token_file, open_browser=not no_browser, scopes=auth.CALENDAR_SCOPES
        )
    except auth.AuthorizationError as exc:
        raise Failure(str(exc)) from None
    with context.database.session() as db:
        mark_ok(db, NAME)
    click.echo(
        f"Google token stored in {token_file} (mode 0600); the Google Calendar mirror is enabled"
    )
