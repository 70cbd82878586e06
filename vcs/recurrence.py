"""RFC 5545 recurrence rules: checked strictly, expanded in the series' local time."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule as du

FREQUENCIES: dict[str, Any] = {
    "DAILY": du.DAILY,
    "WEEKLY": du.WEEKLY,
    "MONTHLY": du.MONTHLY,
    "YEARLY": du.YEARLY,
}
TOO_FINE = ("HOURLY", "MINUTELY", "SECONDLY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST")
BYDAY_TOKEN = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
UNTIL_FORMATS = {8: "%Y%m%d", 15: "%Y%m%dT%H%M%S", 16: "%Y%m%dT%H%M%SZ"}


class RecurrenceError(ValueError):
    """A rule that cannot be used; `problem` says why in words staff understand."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class Rule:
    """A checked RRULE. `until` is naive local time in the series' zone, inclusive."""

    freq: str
    interval: int = 1
    count: int | None = None
    until: dt.datetime | None = None
    byday: tuple[tuple[int | None, int], ...] = ()
    bymonthday: tuple[int, ...] = ()
    bymonth: tuple[int, ...] = ()
    bysetpos: tuple[int, ...] = ()
    wkst: int = 0


def parse_rule(text: str, start: dt.datetime, tz: ZoneInfo) -> Rule:
    """Check an RRULE against RFC 5545 and our limits; `start` is the naive local first start."""
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text:
        raise RecurrenceError("the rule is empty (e.g. FREQ=MONTHLY;BYDAY=2TH)")
    parts: dict[str, str] = {}
    for piece in text.split(";"):
        name, sep, value = piece.partition("=")
        name = name.strip().upper()
        if not sep or not value.strip():
            raise RecurrenceError(f"{piece!r} is not NAME=VALUE")
        if name not in PARTS:
            raise RecurrenceError(f"{name} is not supported (use {', '.join(PARTS)})")
        if name in parts:
            raise RecurrenceError(f"{name} is given twice")
        parts[name] = value.strip().upper()
    freq = parts.get("FREQ")
    if freq is None:
        raise RecurrenceError("FREQ is missing")
    if freq in TOO_FINE:
        raise RecurrenceError(f"FREQ={freq} is finer than DAILY; sessions repeat at most daily")
    if freq not in FREQUENCIES:
        raise RecurrenceError(f"FREQ={freq} is not DAILY, WEEKLY, MONTHLY or YEARLY")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("COUNT and UNTIL cannot both be given (RFC 5545)")
    byday = tuple(_byday(token, freq, parts) for token in _list(parts.get("BYDAY")))
    rule = Rule(
        freq=freq,
        interval=_positive(parts, "INTERVAL", default=1),
        count=_positive(parts, "COUNT") if "COUNT" in parts else None,
        until=_until(parts["UNTIL"], tz) if "UNTIL" in parts else None,
        byday=byday,
        bymonthday=tuple(_ranged(v, "BYMONTHDAY", 31) for v in _list(parts.get("BYMONTHDAY"))),
        bymonth=tuple(
            _ranged(v, "BYMONTH", 12, negative=False) for v in _list(parts.get("BYMONTH"))
        ),
        bysetpos=tuple(_ranged(v, "BYSETPOS", 366) for v in _list(parts.get("BYSETPOS"))),
        wkst=_weekday(parts.get("WKST", "MO"), "WKST"),
    )
    if rule.bysetpos and not (rule.byday or rule.bymonthday or rule.bymonth):
        raise RecurrenceError("BYSETPOS needs another BYxxx part to select from")
    if rule.until is not None and rule.until < start:
        until, first_start = f"{rule.until:%Y-%m-%d %H:%M}", f"{start:%Y-%m-%d %H:%M}"
        raise RecurrenceError(f"UNTIL ({until}) is before the first start ({first_start})")
    # RFC 5545 leaves a DTSTART that the rule does not produce undefined, and calendar apps
    # disagree about it, so the first start must be the rule's first occurrence.
    first = _dateutil_rule(rule, start).after(start, inc=True)
    if first != start:
        hint = f"; its first occurrence is {first:%Y-%m-%d %H:%M}" if first else ""
        raise RecurrenceError(
            f"the first start {start:%Y-%m-%d %H:%M} is not an occurrence of the rule{hint}"
        )
    return rule


def canonical(text: str) -> str:
    """An RRULE in one spelling: upper case, no RRULE: prefix, parts in a fixed order."""
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    parts = dict(piece.strip().upper().split("=", 1) for piece in text.split(";"))
    return ";".join(f"{name}={parts[name]}" for name in PARTS if name in parts)


def _list(value: str | None) -> list[str]:
    if value is None:
        return []
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise RecurrenceError(f"empty item in {value!r}")
    return items


def _positive(parts: dict[str, str], name: str, default: int = 0) -> int:
    raw = parts.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise RecurrenceError(f"{name}={raw} must be a whole number of at least 1")
    return int(raw)


def _ranged(raw: str, name: str, limit: int, negative: bool = True) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise RecurrenceError(f"{name}={raw} is not a number") from None
    low = -limit if negative else 1
    if value == 0 or not low <= value <= limit:
        span = f"1..{limit}" + (f" or -{limit}..-1" if negative else "")
        raise RecurrenceError(f"{name}={raw} is out of range ({span})")
    return value


def _weekday(raw: str, name: str) -> int:
    if raw not in WEEKDAYS:
        raise RecurrenceError(f"{name}={raw} is not a weekday (MO, TU, WE, TH, FR, SA, SU)")
    return WEEKDAYS.index(raw)


def _byday(token: str, freq: str, parts: dict[str, str]) -> tuple[int | None, int]:
    match = BYDAY_TOKEN.match(token)
    if not match:
        raise RecurrenceError(f"BYDAY={token} is not a weekday like TH, 2TH or -1FR")
    ordinal = int(match.group(1)) if match.group(1) else None
    if ordinal is not None:
        if freq not in ("MONTHLY", "YEARLY"):
            raise RecurrenceError(f"BYDAY={token}: a numbered weekday needs FREQ=MONTHLY or YEARLY")
        if freq == "YEARLY" and "BYWEEKNO" in parts:
            raise RecurrenceError(f"BYDAY={token}: numbered weekdays cannot go with BYWEEKNO")
        limit = 5 if freq == "MONTHLY" or "BYMONTH" in parts else 53
        if ordinal == 0 or not -limit <= ordinal <= limit:
            raise RecurrenceError(f"BYDAY={token}: the number must be 1..{limit} or -{limit}..-1")
    return ordinal, WEEKDAYS.index(match.group(2))


def _until(raw: str, tz: ZoneInfo) -> dt.datetime:
    fmt = UNTIL_FORMATS.get(len(raw))
    try:
        if fmt is None:
            raise ValueError
        value = dt.datetime.strptime(raw, fmt)  # noqa: DTZ007 - the zone is handled below
    except ValueError:
        raise RecurrenceError(
            f"UNTIL={raw} is not a date (20270630) or a date-time (20270630T000000Z)"
        ) from None
    if raw.endswith("Z"):
        return value.replace(tzinfo=dt.UTC).astimezone(tz).replace(tzinfo=None)
    if len(raw) == 8:
        # A date: the whole day counts, as calendar apps treat it.
        return value.replace(hour=23, minute=59, second=59)
    return value


def to_local(value: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """A naive local time made aware. RFC 5545 3.3.5: a time in the spring gap takes the offset
    from before the gap (fold=0 does that), and a repeated autumn hour means its first instance."""
    return value.replace(tzinfo=tz, fold=0)


def _dateutil_rule(rule: Rule, start: dt.datetime) -> du.rrule:
    return du.rrule(
        FREQUENCIES[rule.freq],
        dtstart=start,
        interval=rule.interval,
        wkst=rule.wkst,
        count=rule.count,
        until=rule.until,
        bysetpos=rule.bysetpos or None,
        bymonth=rule.bymonth or None,
        bymonthday=rule.bymonthday or None,
        byweekday=[du.weekday(day, ordinal) for ordinal, day in rule.byday] or None,
    )


def expand(
    rule: Rule,
    start: dt.datetime,
    tz: ZoneInfo,
    window_start: dt.datetime,
    window_end: dt.datetime,
    exdates: frozenset[dt.datetime] = frozenset(),
) -> list[dt.datetime]:
    """The starts (aware, UTC) of a rule's occurrences in [window_start, window_end).

    Expansion happens in naive local time, so 10.00 stays 10.00 across summer-time changes.
    `exdates` are naive local starts to skip.
    """
    recurrence = _dateutil_rule(rule, start)
    # Local bounds one day wider than the window, then an exact filter in UTC.
    low = window_start.astimezone(tz).replace(tzinfo=None) - dt.timedelta(days=1)
    high = window_end.astimezone(tz).replace(tzinfo=None) + dt.timedelta(days=1)
    starts = []
    for local in recurrence.between(low, high, inc=True):
        if local in exdates:
            continue
        instant = to_local(local, tz).astimezone(dt.UTC)
        if window_start <= instant < window_end:
            starts.append(instant)
    return starts
