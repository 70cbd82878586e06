"""Errors a person can fix: a code, parameters and an English message marked for translation.

The domain raises them with the message in English source form (``N_("...")`` with
``%(name)s`` placeholders); each edge translates once: the CLI prints English on one ``vcs:``
line, the staff area and public forms show the visitor's language. Code compares the ``code``,
never the wording.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vcs.i18n import N_, gettext_for

# Between the items of a `Joined` parameter: "series #1 and series #3", "'Cēsis' or 'Cēsu novads'".
AND = N_(" and ")
OR = N_(" or ")


@dataclass(frozen=True)
class Problem:
    """One thing that is wrong: a stable code, an English template and where it is."""

    code: str
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)
    # Where the problem is, outermost first: a file, a line, a series, a field. A label that is
    # a word (a field name such as "title.lv") is looked up in the catalogue, so it reads as
    # words in Latvian; a `Phrase` is translated with its parameters ("series #%(number)s");
    # identifiers (file names, slugs) are not in the catalogue and pass unchanged.
    where: tuple[str | Phrase, ...] = ()
    # The form field it belongs to, so a page can show it beside that field.
    field: str = ""

    def text(self, lang: str = "en") -> str:
        """The message in `lang` with its placeholders filled, without the place."""
        gettext = gettext_for(lang)
        values = {key: _shown(value, gettext) for key, value in self.params.items()}
        return gettext(self.message, **values) if values else gettext(self.message)

    def line(self, lang: str = "en") -> str:
        """Where it is, then what is wrong: `file.toml: series kurzeme: rrule: ...`."""
        gettext = gettext_for(lang)
        places = [
            gettext(part) if isinstance(part, str) else str(_shown(part, gettext))
            for part in self.where
            if part
        ]
        return ": ".join([*places, self.text(lang)])

    def at(self, *where: str | Phrase) -> Problem:
        """The same problem, placed inside `where` (prefixed to what it already names)."""
        return Problem(self.code, self.message, self.params, (*where, *self.where), self.field)


@dataclass(frozen=True)
class Phrase:
    """A translatable word or phrase passed as a parameter of another message."""

    message: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Joined:
    """Several values in a row, joined by "and" (or `word`) in the message's language."""

    items: tuple[Any, ...]
    word: str = AND


def translated(value: Any, lang: str) -> str:
    """A parameter or a place as a page in `lang` shows it (a `Phrase` translated)."""
    return str(_shown(value, gettext_for(lang)))


def _shown(value: Any, gettext: Callable[..., str]) -> Any:
    """A parameter or a place as the message shows it: phrases translated, joined values
    joined; other parameters as they are."""
    if isinstance(value, Phrase):
        values = {key: _shown(item, gettext) for key, item in value.params.items()}
        return gettext(value.message, **values) if values else gettext(value.message)
    if isinstance(value, Joined):
        return gettext(value.word).join(str(_shown(item, gettext)) for item in value.items)
    return value


class VcsError(Exception):
    """One or more problems a person can fix; nothing was changed when it is raised."""

    # Errors that list every problem of a file or a form say this first, and the CLI then
    # prints each problem on a line of its own ("nothing was saved:").
    heading: str = ""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        if not self.problems:
            raise ValueError("a VcsError needs at least one problem")
        super().__init__("\n".join(problem.line() for problem in self.problems))

    @classmethod
    def one(
        cls, code: str, message: str, *, where: tuple[str, ...] = (), field: str = "", **params: Any
    ) -> VcsError:
        """An error with a single problem."""
        return cls([Problem(code, message, params, where, field)])

    def at(self, *where: str | Phrase) -> VcsError:
        """The same problems placed inside `where` (a command, a file), as a plain VcsError."""
        return VcsError(problem.at(*where) for problem in self.problems)

    @property
    def code(self) -> str:
        """The first problem's code (most errors carry one problem)."""
        return self.problems[0].code

    def lines(self, lang: str = "en") -> list[str]:
        """Every problem on its own line, in `lang`."""
        return [problem.line(lang) for problem in self.problems]

    def by_field(self, lang: str = "en") -> dict[str, list[str]]:
        """Problems that belong to a form field, keyed by it, for showing beside the field."""
        found: dict[str, list[str]] = {}
        for problem in self.problems:
            if problem.field:
                found.setdefault(problem.field, []).append(problem.text(lang))
        return found
