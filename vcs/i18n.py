"""Latvian and English messages from the Babel catalogues in vcs/locale."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from vcs.paths import LOCALE_DIR

LANGUAGES = ("lv", "en")
LANGUAGE_NAMES = {"lv": "Latviešu", "en": "English"}


@functools.cache
def translations(lang: str) -> NullTranslations:
    """The catalogue for `lang`, compiled from its .po file once per process."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def N_(message: str) -> str:
    """Mark a text kept in a constant for translation; it is translated where it is shown."""
    return message


def gettext_for(lang: str) -> Callable[..., str]:
    """A gettext that also fills %(name)s placeholders from keyword arguments."""
    catalogue = translations(lang)

    def gettext(message: str, **values: Any) -> str:
        text = catalogue.gettext(message)
        return text % values if values else text

    return gettext


def ngettext_for(lang: str) -> Callable[..., str]:
    """ngettext(singular, plural, n, **values): the form for `n` (Latvian has three: 1, 21, …;
    2–20, 22, …; 0), with %(num)s and the other placeholders filled."""
    catalogue = translations(lang)

    def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
        return catalogue.ngettext(singular, plural, n) % {"num": n, **values}

    return ngettext


def template_callables(lang: str) -> dict[str, Callable[..., str]]:
    """gettext, ngettext and _ for a Jinja template rendered in `lang`."""
    catalogue = translations(lang)
    gettext = gettext_for(lang)

    def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
        values.setdefault("num", n)
        return catalogue.ngettext(singular, plural, n) % values

    return {"gettext": gettext, "_": gettext, "ngettext": ngettext}


def localized(obj: object, field: str, lang: str) -> str:
    """obj.<field>_<lang>, falling back to Latvian when the English text is empty."""
    value = getattr(obj, f"{field}_{lang}", "") or getattr(obj, f"{field}_lv", "")
    return str(value)
