"""Staff accounts for /staff: `vcs staff add|list|password|disable`."""

from __future__ import annotations

import sys

import click

from vcs.cli.base import (
    Failure,
    one_line_errors,
    open_context,
)


@click.group()
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

    context = open_context()
    password = _staff_password(password_stdin)
    with context.database.session() as db:
        user = accounts.create(db, email, password, role, actor="cli", name=name)
        click.echo(f"staff account {user.email} added ({user.role})")


@staff.command("list")
@one_line_errors
def staff_list() -> None:
    """List the staff accounts with role, state and last log-in."""
    from vcs.staff import accounts

    context = open_context()
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

    context = open_context()
    with context.database.session() as db:
        if accounts.find(db, email) is None:
            raise Failure(f"no staff account {accounts.normalise_email(email)}")
    # Asked outside any transaction: a person may take a while to type it.
    password = _staff_password(password_stdin)
    with context.database.session() as db:
        user = accounts.find(db, email)
        assert user is not None
        accounts.set_password(db, user, password, actor="cli")
        click.echo(f"new password set for {user.email}")


@staff.command("disable")
@click.argument("email")
@one_line_errors
def staff_disable(email: str) -> None:
    """Stop EMAIL from logging in; a log-in in progress ends at once."""
    from vcs.staff import accounts

    context = open_context()
    with context.database.session() as db:
        user = accounts.disable(db, email, actor="cli")
        click.echo(f"staff account {user.email} disabled")
