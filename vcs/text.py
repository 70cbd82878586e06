"""What text people type may hold, in one place: every door (series files, staff forms, member
files, the subscribe form) cleans text with `clean` or `check` before it is stored.

Two kinds of text:

- single-line (names, titles, subjects, topics, organiser fields, places, tags): a line break
  becomes a space. Such text reaches e-mail headers (To, Subject), iCalendar properties
  (SUMMARY, ORGANIZER;CN=, LOCATION) and log lines, where a line break is at best refused (the
  stdlib's email package raises) and at worst starts a new header or log line. A name typed in a
  spreadsheet cell with Alt+Enter is one name on two lines, so a space is what was meant.
- multi-line (descriptions, Markdown bodies, reasons, funding statements): \\n stays, every other
  line break (\\r\\n, \\r, U+2028, ...) becomes \\n, tabs stay.

In both, NUL and the other C0 and C1 control characters are removed (PostgreSQL cannot store NUL
at all; the others are invisible and mean nothing in a name or a paragraph), and so are the
explicit bidirectional embeddings, overrides and isolates (U+202A-202E, U+2066-2069). Those are
removed rather than refused: right-to-left names need none of them (the Unicode bidi algorithm
orders them by itself), they arrive unseen with text copied from web pages, and left in place an
unterminated override reverses everything after it on the line: the date after a title in a
subject, the address after a name in a To header ("Trojan Source" spoofing). Zero-width spaces,
word joiners and byte order marks, which only hide differences between names that look alike,
are removed too; the zero-width (non-)joiner stays, since emoji sequences and some scripts need
it. Text is stored in Unicode NFC, so "ā" typed on a Mac and on Windows is the same name.

Length limits match the columns in vcs/storage/models.py (PostgreSQL refuses a longer value);
text that is too long after cleaning is refused with a VcsError naming the field and the limit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from vcs.errors import Problem, VcsError
from vcs.i18n import N_


@dataclass(frozen=True)
class Kind:
    """A kind of text: one line or several, and the most characters it may have."""

    limit: int
    multiline: bool = False


# A person's name: Member.name, Series.organiser_name, speakers (String(200)).
NAME = Kind(200)
# Titles, subjects, organisation, position, venue, address (String(300)).
TITLE = Kind(300)
# A session's topic: one line, since calendars show it after the title in SUMMARY.
TOPIC = Kind(500)
# Phone numbers and other short codes (String(64)).
SHORT = Kind(64)
# A funding project number, a tag (String(100)).
LABEL = Kind(100)
# A web address (String(500)).
URL = Kind(500)
# Descriptions, Markdown bodies, the digest's introduction, consent wording.
TEXT = Kind(20_000, multiline=True)
# A cancellation reason, a funding statement: a few sentences.
NOTE = Kind(2_000, multiline=True)

_LINE_BREAK = r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]"
# A line break with the spaces around it, in single-line text: one space.
_BREAK_IN_LINE = re.compile(rf"[ \t]*(?:(?:{_LINE_BREAK})[ \t]*)+|\t+")
_BREAK = re.compile(_LINE_BREAK)
# Removed from all text (see the module doc), before line breaks are dealt with. Surrogates
# cannot arrive through UTF-8 input, but a Python caller could pass one, and no database or mail
# encoder accepts it.
_REMOVED = re.compile(
    "[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f"
    "\u202a-\u202e\u2066-\u2069\u200b\u2060\ufeff\ud800-\udfff]"
)
# What no mail header, iCalendar property or log line may hold: C0 and C1 controls (tab aside,
# which headers fold on) and the Unicode line and paragraph separators.
_NOT_IN_A_HEADER = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NOT_IN_A_URL = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")

TOO_LONG = N_("Too long: at most %(limit)s characters (this has %(length)s).")
URL_SPACES = N_("A web address cannot contain spaces, line breaks or control characters.")


def clean(value: str, kind: Kind) -> str:
    """The text as it is stored: normalised for its kind (module doc), trimmed; never refused."""
    text = _REMOVED.sub("", unicodedata.normalize("NFC", value))
    text = _BREAK.sub("\n", text) if kind.multiline else _BREAK_IN_LINE.sub(" ", text)
    return _trim(text)


def _trim(text: str) -> str:
    # Formatting characters (a zero-width joiner, a soft hyphen) alone at the edges show nothing:
    # a name of only those would look empty yet pass a "missing" check.
    start, end = 0, len(text)
    while start < end and _blank(text[start]):
        start += 1
    while end > start and _blank(text[end - 1]):
        end -= 1
    return text[start:end]


def _blank(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) == "Cf"


def too_long(value: str, kind: Kind, field: str) -> Problem | None:
    """The problem with text longer than its kind allows (count after `clean`), else None."""
    if len(value) <= kind.limit:
        return None
    return Problem(
        "text.too-long", TOO_LONG, {"limit": kind.limit, "length": len(value)}, (field,), field
    )


def check(value: str, kind: Kind, field: str) -> str:
    """`clean(value)`, or VcsError naming `field` when it is longer than the kind allows."""
    text = clean(value, kind)
    problem = too_long(text, kind, field)
    if problem is not None:
        raise VcsError([problem])
    return text


def check_all(values: Mapping[str, str], kinds: Mapping[str, Kind]) -> dict[str, str]:
    """Every value of `values` cleaned by its kind in `kinds`; one VcsError with every problem."""
    cleaned: dict[str, str] = {}
    problems: list[Problem] = []
    for field, value in values.items():
        kind = kinds[field]
        cleaned[field] = clean(value, kind)
        problem = too_long(cleaned[field], kind, field)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise VcsError(problems)
    return cleaned


def url_problem(value: str, field: str) -> Problem | None:
    """What is wrong with a web address as typed (already trimmed), or None."""
    if _NOT_IN_A_URL.search(value):
        return Problem("text.url-spaces", URL_SPACES, {}, (field,), field)
    return too_long(value, URL, field)


def fits_a_header(value: str) -> bool:
    """Whether the text can go into a mail header or a log line as it is (no control characters,
    no line breaks of any kind)."""
    return not _NOT_IN_A_HEADER.search(value)


def one_line(value: str, limit: int = 2_000) -> str:
    """Any text made safe for one log line or an error column: one line, no controls, shortened."""
    text = clean(value, Kind(limit))
    return text if len(text) <= limit else text[: limit - 1] + "…"
