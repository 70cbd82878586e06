"""The Latvian catalogue covers every user-facing string, extracted the way `make messages` does."""

from __future__ import annotations

import os

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from vcs.paths import LOCALE_DIR, PROJECT_DIR

# babel.cfg, as `make messages` reads it (-k _ -k N_ -k gettext -k ngettext:1,2).
METHOD_MAP = [
    ("vcs/**.py", "python"),
    ("templates/**.html", "jinja2"),
    ("templates/**.txt", "jinja2"),
]
OPTIONS = {
    "templates/**.html": {"extensions": "jinja2.ext.i18n"},
    "templates/**.txt": {"extensions": "jinja2.ext.i18n"},
}
KEYWORDS = {**DEFAULT_KEYWORDS, "_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}


def extracted() -> dict[str, str]:
    """Every msgid in the code and templates, with the first place it was found."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PROJECT_DIR), METHOD_MAP, OPTIONS, KEYWORDS, directory_filter=_wanted
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def _wanted(path: str) -> bool:
    # Only vcs/ and templates/ hold our text; skip the virtualenv and node_modules quickly.
    relative = os.path.relpath(path, PROJECT_DIR)
    return relative == "." or relative.split(os.sep)[0] in ("vcs", "templates")


def test_every_user_facing_string_has_a_latvian_translation() -> None:
    with (LOCALE_DIR / "lv" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalogue = read_po(fh, locale="lv")
    strings = extracted()
    assert len(strings) > 500  # the extraction itself worked
    missing = sorted(
        f"{where}: {msgid!r}"
        for msgid, where in strings.items()
        if msgid not in catalogue or not _translated(catalogue[msgid].string)
    )
    assert missing == []


def _translated(string: str | tuple[str, ...]) -> bool:
    if isinstance(string, tuple):
        return all(string)
    return bool(string)
