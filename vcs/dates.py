"""The one place dates and times are formatted for people, in Latvian or English."""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as babel_format
from babel.dates import format_timedelta

Style = Literal["full", "date", "time", "day", "short", "month"]

# Latvian writes "2026. gada 10. decembris" and the time with a full stop: "10.00".
PATTERNS: dict[str, dict[Style, str]] = {
    "lv": {
        "full": "EEEE, y. 'gada' d. MMMM, HH.mm",
        "date": "EEEE, y. 'gada' d. MMMM",
        "day": "EEEE, d. MMMM",
        "short": "d. MMMM, HH.mm",
        "time": "HH.mm",
        "month": "y. 'gada' LLLL",
    },
    "en": {
        "full": "EEEE, d MMMM y, HH:mm",
        "date": "EEEE, d MMMM y",
        "day": "EEEE, d MMMM",
        "short": "d MMMM, HH:mm",
        "time": "HH:mm",
        "month": "LLLL y",
    },
}
LOCALES = {"lv": "lv_LV", "en": "en_GB"}
# The years a date from a person, a file or an address may name. Far enough inside datetime's
# own limits (1-9999) that a time zone shift, a session's length or a day added to an end date
# never overflows; far enough outside this network's life that nobody needs more.
FIRST_YEAR = 1900
LAST_YEAR = 2999


def in_range(value: dt.date) -> bool:
    """Whether `value` (a date or date-time) lies within FIRST_YEAR..LAST_YEAR."""
    return FIRST_YEAR <= value.year <= LAST_YEAR


def format_datetime(value: dt.datetime, lang: str, tz: ZoneInfo, style: Style = "full") -> str:
    """Format an aware datetime in `tz`: "ceturtdiena, 2026. gada 10. decembris, 10.00"."""
    if value.tzinfo is None:
        raise ValueError("format_datetime needs an aware datetime")
    lang = lang if lang in PATTERNS else "lv"
    return babel_format(value.astimezone(tz), PATTERNS[lang][style], locale=LOCALES[lang])


def format_time_range(start: dt.datetime, end: dt.datetime, lang: str, tz: ZoneInfo) -> str:
    """The start and end of one session: "10.00–11.30"."""
    return f"{format_datetime(start, lang, tz, 'time')}–{format_datetime(end, lang, tz, 'time')}"


def countdown(start: dt.datetime, now: dt.datetime) -> tuple[int, str]:
    """How far off `start` is, as (count, unit): days from two days on, hours from two hours on,
    else minutes (at least one). static/vcs.js picks the unit by the same rule."""
    seconds = (start - now).total_seconds()
    if seconds >= 2 * 86400:
        return int(seconds // 86400), "day"
    if seconds >= 2 * 3600:
        return int(seconds // 3600), "hour"
    return max(1, math.ceil(seconds / 60)), "minute"


def format_countdown(start: dt.datetime, now: dt.datetime, lang: str) -> str:
    """ "pēc 3 dienām" / "in 3 days": when a session starts, counted from now."""
    count, unit = countdown(start, now)
    lang = lang if lang in PATTERNS else "lv"
    delta = dt.timedelta(**{f"{unit}s": count})
    # A threshold equal to the count keeps Babel on our unit (no "2 weeks" for 14 days).
    return format_timedelta(delta, threshold=count, add_direction=True, locale=LOCALES[lang])
