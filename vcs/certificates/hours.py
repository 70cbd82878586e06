"""Academic hours: how certificates, the member's list and the project records count time.

An academic hour is 45 minutes. Whole hours are said with the plural Latvian needs ("1
akadēmiskā stunda", "2 akadēmiskās stundas", "0 akadēmisko stundu"); other lengths to one
decimal with the language's decimal sign ("1,3 akadēmiskās stundas").
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_decimal

from vcs.dates import LOCALES
from vcs.i18n import gettext_for, ngettext_for

ACADEMIC_HOUR_MINUTES = 45


def academic(minutes: int) -> Decimal:
    """`minutes` in academic hours, to one decimal (half up)."""
    return (Decimal(minutes) / ACADEMIC_HOUR_MINUTES).quantize(Decimal("0.1"), ROUND_HALF_UP)


def number(minutes: int, lang: str) -> str:
    """The academic hours as a number in `lang`: "2", "1,3" (lv), "1.3" (en)."""
    value = academic(minutes)
    if value == value.to_integral_value():
        return str(int(value))
    return format_decimal(value, format="0.0", locale=LOCALES.get(lang, "lv_LV"))


def in_words(minutes: int, lang: str) -> str:
    """ "2 akadēmiskās stundas", "1,3 akadēmiskās stundas", "2 academic hours"."""
    value = academic(minutes)
    if value == value.to_integral_value():
        ngettext = ngettext_for(lang)
        return ngettext("%(num)s academic hour", "%(num)s academic hours", int(value))
    _ = gettext_for(lang)
    return _("%(hours)s academic hours", hours=number(minutes, lang))
