"""The one place dates and times are formatted for people, in Latvian or English."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as babel_format
from babel.dates import format_timedelta

Style = Literal["full", "date", "time", "day", "short", "month"]
# "list": a date standing alone, in a list or a heading ("ceturtdiena, 2026. gada 10. decembris");
# "sentence": a date inside running text, which Latvian says in the locative ("notiks ceturtdien,
# 2026. gada 10. decembrī"). English says both the same way.
Form = Literal["list", "sentence"]

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
# The locative ("when?") of Latvian weekdays (Monday first) and months; CLDR has only the
# nominative and genitive.
LV_WEEKDAYS_LOCATIVE = (
    "pirmdien",
    "otrdien",
    "trešdien",
    "ceturtdien",
    "piektdien",
    "sestdien",
    "svētdien",
)
LV_MONTHS_LOCATIVE = (
    "janvārī",
    "februārī",
    "martā",
    "aprīlī",
    "maijā",
    "jūnijā",
    "jūlijā",
    "augustā",
    "septembrī",
    "oktobrī",
    "novembrī",
    "decembrī",
)
# The years a date from a person, a file or an address may name. Far enough inside datetime's
# own limits (1-9999) that a time zone shift, a session's length or a day added to an end date
# never overflows; far enough outside this network's life that nobody needs more.
FIRST_YEAR = 1900
LAST_YEAR = 2999


def in_range(value: dt.date) -> bool:
    """Whether `value` (a date or date-time) lies within FIRST_YEAR..LAST_YEAR."""
    return FIRST_YEAR <= value.year <= LAST_YEAR


def format_datetime(
    value: dt.datetime, lang: str, tz: ZoneInfo, style: Style = "full", form: Form = "list"
) -> str:
    """Format an aware datetime in `tz`: "ceturtdiena, 2026. gada 10. decembris, 10.00" in a
    list, "ceturtdien, 2026. gada 10. decembrī, 10.00" with form="sentence"."""
    if value.tzinfo is None:
        raise ValueError("format_datetime needs an aware datetime")
    lang = lang if lang in PATTERNS else "lv"
    local = value.astimezone(tz)
    pattern = PATTERNS[lang][style]
    if lang == "lv" and form == "sentence":
        weekday = LV_WEEKDAYS_LOCATIVE[local.weekday()]
        month = LV_MONTHS_LOCATIVE[local.month - 1]
        # Quoted text is literal in a CLDR pattern.
        pattern = pattern.replace("EEEE", f"'{weekday}'").replace("MMMM", f"'{month}'")
    return babel_format(local, pattern, locale=LOCALES[lang])


def in_sentence(value: dt.datetime, lang: str, tz: ZoneInfo, style: Style = "full") -> str:
    """A date for running text: "notiks %s" → "notiks ceturtdien, 2026. gada 10. decembrī"."""
    return format_datetime(value, lang, tz, style, "sentence")


def parse_typed(value: str, tz: ZoneInfo) -> dt.datetime:
    """A date or date-time as people type it, local to `tz` unless it names an offset:
    "11.03.2027 10:00", "11.03.2027 10.00", "11.03.2027", "2027-03-11T10:00", "2027-03-11 10:00",
    "2027-03-11", "2027-03-11T10:00+02:00". A date alone means its midnight. Raises ValueError
    (with the value) for anything else; callers check the year with in_range()."""
    text = " ".join(value.split())
    parsed: dt.datetime | None = None
    match = _TYPED.fullmatch(text)
    if match:
        day, month, year, hour, minute = match.group("d", "m", "y", "hh", "mm")
        try:
            parsed = dt.datetime(  # noqa: DTZ001 - made aware below
                int(year), int(month), int(day), int(hour or 0), int(minute or 0)
            )
        except ValueError:
            parsed = None
    else:
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            parsed = None
    if parsed is None:
        raise ValueError(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def is_date_only(value: str) -> bool:
    """Whether a typed value (see parse_typed) names a day without a time."""
    text = " ".join(value.split())
    match = _TYPED.fullmatch(text)
    if match:
        return match.group("hh") is None
    return len(text) == 10


# Latvian and most of Europe: day.month.year, then the time with a colon or a full stop.
_TYPED = re.compile(
    r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})\.?"
    r"(?:[ T](?P<hh>\d{1,2})[:.](?P<mm>\d{2}))?"
)


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


# "P1D", "PT12H", "P2DT6H30M": how series files and settings say a time before a session
# (registration closes, reminders): days, hours and minutes of ISO 8601, nothing else.
LEAD_TIME = re.compile(r"^P(?:(\d{1,3})D)?(?:T(?:(\d{1,4})H)?(?:(\d{1,5})M)?)?$")


def lead_time(value: object) -> dt.timedelta | None:
    """`value` ("P1D", "PT0M") as a length of time; None when it is no such duration."""
    match = LEAD_TIME.match(value) if isinstance(value, str) else None
    if not match or value in ("P", "PT") or str(value).endswith("T"):
        return None
    days, hours, minutes = (int(group or 0) for group in match.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes)
