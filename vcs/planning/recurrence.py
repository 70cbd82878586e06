"""RFC 5545 recurrence rules: checked strictly, expanded in the series' local time."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule as du

from vcs.errors import Problem, VcsError
from vcs.i18n import N_

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
INTEGER = re.compile(r"^[+-]?\d+$")
FIRST_OCCURRENCE_YEARS = 5


class RecurrenceError(VcsError):
    """A rule that cannot be used: one problem, code `rrule.<what>`, in words staff understand."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__([Problem(f"rrule.{code}", message, params)])


@dataclass(frozen=True)
class Rule:
    """A checked RRULE. `until` is naive local time in the series' zone, inclusive; an UNTIL
    given in UTC is also kept as `until_instant`, because around a clock change a naive local
    time cannot say which side of it an instant falls on."""

    freq: str
    interval: int = 1
    count: int | None = None
    until: dt.datetime | None = None
    until_instant: dt.datetime | None = None
    byday: tuple[tuple[int | None, int], ...] = ()
    bymonthday: tuple[int, ...] = ()
    bymonth: tuple[int, ...] = ()
    bysetpos: tuple[int, ...] = ()
    wkst: int = 0


def parse_rule(text: str, start: dt.datetime, tz: ZoneInfo) -> Rule:
    """Check an RRULE against RFC 5545 and our limits; `start` is the naive local first start."""
    parts = _parts(text)
    freq = parts.get("FREQ")
    if freq is None:
        raise RecurrenceError("freq-missing", N_("FREQ is missing"))
    if freq in TOO_FINE:
        raise RecurrenceError(
            "freq-too-fine",
            N_("FREQ=%(freq)s is finer than DAILY; sessions repeat at most daily"),
            freq=freq,
        )
    if freq not in FREQUENCIES:
        raise RecurrenceError(
            "freq-unknown", N_("FREQ=%(freq)s is not DAILY, WEEKLY, MONTHLY or YEARLY"), freq=freq
        )
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError(
            "count-and-until", N_("COUNT and UNTIL cannot both be given (RFC 5545)")
        )
    byday = tuple(_byday(token, freq, parts) for token in _list(parts.get("BYDAY")))
    if len({ordinal is None for ordinal, _day in byday}) > 1:
        # dateutil would read MO,1TU as "a Monday that is the first Tuesday" and find nothing.
        raise RecurrenceError(
            "byday-mixed",
            N_("BYDAY=%(byday)s mixes plain and numbered weekdays; use one kind per series"),
            byday=parts["BYDAY"],
        )
    if freq == "WEEKLY" and "BYMONTHDAY" in parts:
        raise RecurrenceError(
            "bymonthday-weekly",
            N_("BYMONTHDAY cannot be used with FREQ=WEEKLY (RFC 5545 3.3.10)"),
        )
    until, until_instant = (None, None)
    if "UNTIL" in parts:
        until, until_instant = _until(parts["UNTIL"], tz)
    rule = Rule(
        freq=freq,
        interval=_positive(parts, "INTERVAL", default=1),
        count=_positive(parts, "COUNT") if "COUNT" in parts else None,
        until=until,
        until_instant=until_instant,
        byday=byday,
        bymonthday=tuple(_ranged(v, "BYMONTHDAY", 31) for v in _list(parts.get("BYMONTHDAY"))),
        bymonth=tuple(
            _ranged(v, "BYMONTH", 12, negative=False) for v in _list(parts.get("BYMONTH"))
        ),
        bysetpos=tuple(_ranged(v, "BYSETPOS", 366) for v in _list(parts.get("BYSETPOS"))),
        wkst=_weekday(parts.get("WKST", "MO"), "WKST"),
    )
    if rule.bysetpos and not (rule.byday or rule.bymonthday or rule.bymonth):
        raise RecurrenceError(
            "bysetpos-alone", N_("BYSETPOS needs another BYxxx part to select from")
        )
    if rule.until is not None and (
        rule.until < start
        if rule.until_instant is None
        else rule.until_instant < to_local(start, tz).astimezone(dt.UTC)
    ):
        shown = rule.until_instant.astimezone(tz) if rule.until_instant else rule.until
        raise RecurrenceError(
            "until-before-start",
            N_("UNTIL (%(until)s) is before the first start (%(start)s)"),
            until=f"{shown:%Y-%m-%d %H:%M}",
            start=f"{start:%Y-%m-%d %H:%M}",
        )
    # RFC 5545 leaves a DTSTART that the rule does not produce undefined, and calendar apps
    # disagree about it, so the first start must be the rule's first occurrence.
    # Looking a few years ahead is enough, and keeps an impossible rule (30 February) from
    # searching to the year 9999.
    horizon = start + dt.timedelta(days=FIRST_OCCURRENCE_YEARS * 366)
    first = _dateutil_rule(rule, start).between(start, horizon, inc=True, count=1)
    if not first:
        raise RecurrenceError(
            "no-occurrence",
            N_(
                "the first start %(start)s is not an occurrence of the rule, and the rule gives "
                "no session in the %(years)s years after it"
            ),
            start=f"{start:%Y-%m-%d %H:%M}",
            years=FIRST_OCCURRENCE_YEARS,
        )
    if first[0] != start:
        raise RecurrenceError(
            "start-not-occurrence",
            N_(
                "the first start %(start)s is not an occurrence of the rule; its first "
                "occurrence is %(first)s"
            ),
            start=f"{start:%Y-%m-%d %H:%M}",
            first=f"{first[0]:%Y-%m-%d %H:%M}",
        )
    return rule


def canonical(text: str) -> str:
    """An RRULE in one spelling: upper case, no spaces, parts in a fixed order."""
    parts = _parts(text)
    return ";".join(f"{name}={parts[name]}" for name in PARTS if name in parts)


def _parts(text: str) -> dict[str, str]:
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text.strip():
        raise RecurrenceError("empty", N_("the rule is empty (e.g. FREQ=MONTHLY;BYDAY=2TH)"))
    parts: dict[str, str] = {}
    for piece in text.split(";"):
        name, sep, value = piece.partition("=")
        name = name.strip().upper()
        if not sep or not value.strip():
            raise RecurrenceError("not-name-value", N_("%(piece)r is not NAME=VALUE"), piece=piece)
        if name not in PARTS:
            raise RecurrenceError(
                "part-unsupported",
                N_("%(name)s is not supported (use %(parts)s)"),
                name=name,
                parts=", ".join(PARTS),
            )
        if name in parts:
            raise RecurrenceError("part-twice", N_("%(name)s is given twice"), name=name)
        parts[name] = ",".join(item.strip() for item in value.strip().upper().split(","))
    return parts


def _list(value: str | None) -> list[str]:
    if value is None:
        return []
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise RecurrenceError("empty-item", N_("empty item in %(value)r"), value=value)
    return items


def _positive(parts: dict[str, str], name: str, default: int = 0) -> int:
    raw = parts.get(name)
    if raw is None:
        return default
    # ASCII digits only ("²" is a digit to isdigit(), not to int()), and not thousands of them,
    # which int() refuses.
    digits = raw.lstrip("0")
    if not (raw.isascii() and raw.isdigit()) or not digits:
        raise RecurrenceError(
            "not-positive",
            N_("%(name)s=%(value)s must be a whole number of at least 1"),
            name=name,
            value=raw[:20],
        )
    if len(digits) > 9:
        raise RecurrenceError(
            "too-large", N_("%(name)s=%(value)s… is too large"), name=name, value=raw[:20]
        )
    return int(digits)


def _ranged(raw: str, name: str, limit: int, negative: bool = True) -> int:
    if not INTEGER.match(raw):
        raise RecurrenceError(
            "not-a-number", N_("%(name)s=%(value)s is not a number"), name=name, value=raw
        )
    # Ten digits are out of every range here; int() refuses thousands.
    value = int(raw) if len(raw) < 12 else limit + 1
    low = -limit if negative else 1
    if value == 0 or not low <= value <= limit:
        message = (
            N_("%(name)s=%(value)s is out of range (1..%(limit)s or -%(limit)s..-1)")
            if negative
            else N_("%(name)s=%(value)s is out of range (1..%(limit)s)")
        )
        raise RecurrenceError("out-of-range", message, name=name, value=raw[:20], limit=limit)
    return value


def _weekday(raw: str, name: str) -> int:
    if raw not in WEEKDAYS:
        raise RecurrenceError(
            "not-a-weekday",
            N_("%(name)s=%(value)s is not a weekday (MO, TU, WE, TH, FR, SA, SU)"),
            name=name,
            value=raw,
        )
    return WEEKDAYS.index(raw)


def _byday(token: str, freq: str, parts: dict[str, str]) -> tuple[int | None, int]:
    match = BYDAY_TOKEN.match(token)
    if not match:
        raise RecurrenceError(
            "byday-token", N_("BYDAY=%(token)s is not a weekday like TH, 2TH or -1FR"), token=token
        )
    ordinal = int(match.group(1)) if match.group(1) else None
    if ordinal is not None:
        if freq not in ("MONTHLY", "YEARLY"):
            raise RecurrenceError(
                "byday-numbered-freq",
                N_("BYDAY=%(token)s: a numbered weekday needs FREQ=MONTHLY or YEARLY"),
                token=token,
            )
        if freq == "YEARLY" and "BYWEEKNO" in parts:
            raise RecurrenceError(
                "byday-byweekno",
                N_("BYDAY=%(token)s: numbered weekdays cannot go with BYWEEKNO"),
                token=token,
            )
        limit = 5 if freq == "MONTHLY" or "BYMONTH" in parts else 53
        if ordinal == 0 or not -limit <= ordinal <= limit:
            raise RecurrenceError(
                "byday-number-range",
                N_("BYDAY=%(token)s: the number must be 1..%(limit)s or -%(limit)s..-1"),
                token=token,
                limit=limit,
            )
    return ordinal, WEEKDAYS.index(match.group(2))


def _until(raw: str, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime | None]:
    fmt = UNTIL_FORMATS.get(len(raw))
    try:
        if fmt is None:
            raise ValueError
        value = dt.datetime.strptime(raw, fmt)  # noqa: DTZ007 - the zone is handled below
    except ValueError:
        raise RecurrenceError(
            "until-format",
            N_("UNTIL=%(value)s is not a date (20270630) or a date-time (20270630T000000Z)"),
            value=raw,
        ) from None
    if raw.endswith("Z"):
        instant = value.replace(tzinfo=dt.UTC)
        # The local bound is an hour late so no occurrence near a clock change is lost;
        # expand() then cuts exactly at the instant.
        local = (instant + dt.timedelta(hours=1)).astimezone(tz).replace(tzinfo=None)
        return local, instant
    if len(raw) == 8:
        # A date: the whole day counts, as calendar apps treat it.
        return value.replace(hour=23, minute=59, second=59), None
    return value, None


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
        if rule.until_instant is not None and instant > rule.until_instant:
            continue
        if window_start <= instant < window_end:
            starts.append(instant)
    return starts
