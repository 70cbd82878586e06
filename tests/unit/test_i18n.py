"""Message catalogues: every text in the templates and code has its Latvian translation."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from vcs.i18n import gettext_for, template_callables
from vcs.paths import LOCALE_DIR, PROJECT_DIR

KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}


def used_messages() -> set[str]:
    found: set[str] = set()
    method_map = [
        ("vcs/**.py", "python"),
        ("templates/**.html", "jinja2"),
        ("templates/**.txt", "jinja2"),
    ]
    options = {"templates/**": {"extensions": "jinja2.ext.i18n"}}
    for _file, _line, message, _comments, _context in extract_from_dir(
        PROJECT_DIR, method_map, options_map=options, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_message_has_a_latvian_translation() -> None:
    with (LOCALE_DIR / "lv" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalogue = read_po(fh, locale="lv")
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in catalogue
        if m.id and m.string and not m.fuzzy
    }
    missing = sorted(used_messages() - translated)
    assert used_messages(), "no messages were extracted at all"
    assert not missing, f"untranslated in lv (run `make messages`, then translate): {missing}"


def test_latvian_and_english_gettext() -> None:
    assert gettext_for("lv")("Upcoming") == "Gaidāmās"
    assert gettext_for("en")("Upcoming") == "Upcoming"


def test_placeholders_are_filled_after_translation() -> None:
    gettext = template_callables("en")["gettext"]
    assert gettext("%(n)s sessions", n=3) == "3 sessions"
