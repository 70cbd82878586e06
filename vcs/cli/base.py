"""What every command shares: one-line errors, id arguments, one way to open the installation."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
from sqlalchemy.exc import OperationalError

from vcs.config import load_settings
from vcs.context import Context
from vcs.errors import VcsError
from vcs.i18n import gettext_for
from vcs.logs import configure_logging
from vcs.mail import dkim

F = TypeVar("F", bound=Callable[..., Any])


class Failure(click.ClickException):
    """An expected failure: printed as one line, exit code 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"vcs: {self.message}", err=True)


def english(error: VcsError) -> str:
    """A VcsError as the CLI says it: one line, or a heading and a line per problem."""
    if error.heading:
        return "\n".join([gettext_for("en")(error.heading) + ":", *error.lines("en")])
    return "; ".join(error.lines("en"))


def one_line_errors(func: F) -> F:
    """Turn a database that cannot be reached into one line, not a traceback (VcsGroup does
    the same for every VcsError)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
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
    """The `vcs` command: refuses NUL in any argument before a sub-command runs, and says any
    VcsError a command raises in English (`vcs: ` and its lines), with exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VcsError as exc:
            raise Failure(english(exc)) from None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # No file name, e-mail address or date holds one; PostgreSQL refuses it in a query and
        # the file system in a path. (A shell cannot pass one; a program calling us can.)
        for arg in args:
            if "\x00" in arg:
                raise Failure(f"an argument contains a NUL character: {arg[:40]!r}")
        return super().parse_args(ctx, args)


def make_context() -> Context:
    settings = load_settings()
    dkim.check_settings(settings)
    configure_logging(settings)
    return Context.from_settings(settings)


def require_current_schema(context: Context) -> None:
    from vcs.storage import migrate

    if not migrate.is_current(context.database.engine):
        raise Failure("the database schema is not current: run `vcs init` first")


def open_context() -> Context:
    """The installation a command works on: settings, logging, and a schema that is current."""
    context = make_context()
    require_current_schema(context)
    return context


def columns(rows: Sequence[Sequence[str]]) -> str:
    """Rows as text columns, each as wide as its longest cell (a long rule never shifts the
    next column), two spaces apart; the last column is not padded. Empty for no rows."""
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines) + "\n"
