"""The series form's recurrence builder: its controls ⇄ RRULE text, and a rule in words.

The server twin of static/recurrence.js, which does the same live in the browser; the two must
agree. The builder shows a part of RFC 5545: FREQ=DAILY, WEEKLY, MONTHLY or YEARLY; INTERVAL;
an end by COUNT or by an UNTIL date; weekdays for a weekly rule; for a monthly rule either a day
of the month (BYMONTHDAY=15) or one numbered weekday (BYDAY=2TH, -1FR). Any other rule (BYSETPOS,
BYMONTH, several numbered weekdays, an UNTIL with a time, a count beyond the builder's bounds...)
is one the builder cannot show: `builder_of` says None, and the form keeps it in the raw field.

Controls left empty (no weekday ticked, no day of the month) leave the part out of the rule, so
the first start supplies it, as RFC 5545 takes missing parts from DTSTART.

The form carries both the builder and the raw rule, and remembers the rule it showed
(`rrule_shown`): a raw rule that differs from it was typed by hand and wins; otherwise the
builder's controls say what the rule is (`choose_rule`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vcs.errors import Problem
from vcs.i18n import N_, gettext_for, ngettext_for
from vcs.planning import recurrence

FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
WEEKDAYS = recurrence.WEEKDAYS
POSITIONS = ("1", "2", "3", "4", "-1")
ENDS = ("never", "count", "until")
# What the builder's number fields accept; a rule beyond them is not the builder's to show.
LIMITS = {"interval": 1000, "count": 1000, "monthday": 31}
UNTIL_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
NUMBERED_WEEKDAY = re.compile(r"^([+-]?\d{1,2})(MO|TU|WE|TH|FR|SA|SU)$")
WHOLE_NUMBER = N_("Give a whole number from %(low)s to %(high)s.")
UNTIL_FORMAT = N_("Give the last date like 2027-06-30.")


@dataclass(frozen=True)
class Builder:
    """The builder's controls as the form sends and shows them: text, as typed."""

    freq: str = "WEEKLY"
    interval: str = "1"
    byday: tuple[str, ...] = ()
    monthly: str = "day"  # "day": BYMONTHDAY=monthday; "weekday": BYDAY=<setpos><setpos_day>
    monthday: str = ""
    # Empty: as on the first start (its weekday, and which one of the month it is).
    setpos: str = ""
    setpos_day: str = ""
    end: str = "never"  # one of ENDS
    count: str = ""
    until: str = ""  # YYYY-MM-DD

    @classmethod
    def of_form(cls, values: Mapping[str, Any]) -> Builder:
        """The controls from the form's values (absent ones at their defaults)."""
        fields = {
            field.name: str(values[field.name])
            for field in dataclasses.fields(cls)
            if field.name != "byday" and field.name in values
        }
        return cls(**fields, byday=tuple(str(day) for day in values.get("byday", ())))

    def fields(self) -> dict[str, Any]:
        """The controls as form values, the weekdays as a list."""
        values = dataclasses.asdict(self)
        values["byday"] = list(self.byday)
        return values


def builder_of(text: str) -> Builder | None:
    """The builder's controls for a rule, or None when the builder cannot show it."""
    try:
        parts = dict(part.split("=", 1) for part in recurrence.canonical(text).split(";"))
    except (recurrence.RecurrenceError, ValueError):
        return None
    freq = parts.pop("FREQ", "")
    if freq not in FREQUENCIES or parts.pop("WKST", "MO") != "MO":
        return None
    interval = _whole(parts.pop("INTERVAL", "1"), LIMITS["interval"])
    if interval is None:
        return None
    builder = Builder(freq=freq, interval=interval)
    if "COUNT" in parts:
        count = _whole(parts.pop("COUNT"), LIMITS["count"])
        if count is None:
            return None
        builder = dataclasses.replace(builder, end="count", count=count)
    elif "UNTIL" in parts:
        until = UNTIL_DATE.match(parts.pop("UNTIL"))
        if until is None:
            return None
        builder = dataclasses.replace(builder, end="until", until="-".join(until.groups()))
    byday = parts.pop("BYDAY", "")
    monthday = parts.pop("BYMONTHDAY", "")
    if parts:  # BYMONTH, BYSETPOS: beyond the builder
        return None
    days = tuple(byday.split(",")) if byday else ()
    if freq == "WEEKLY" and not monthday and all(day in WEEKDAYS for day in days):
        # The builder's boxes have no order: TH,MO is the same choice as MO,TH.
        return dataclasses.replace(builder, byday=tuple(d for d in WEEKDAYS if d in days))
    if freq == "MONTHLY" and not (days and monthday):
        if monthday:
            day = _whole(monthday, LIMITS["monthday"])
            return None if day is None else dataclasses.replace(builder, monthday=day)
        if not days:
            return builder
        match = NUMBERED_WEEKDAY.match(days[0])
        if len(days) == 1 and match and str(int(match.group(1))) in POSITIONS:
            position, weekday = str(int(match.group(1))), match.group(2)
            return dataclasses.replace(
                builder, monthly="weekday", setpos=position, setpos_day=weekday
            )
        return None
    if freq in ("DAILY", "YEARLY") and not days and not monthday:
        return builder
    return None


def rule_of(builder: Builder, start: str = "") -> tuple[str, list[Problem]]:
    """The rule the controls describe (canonical spelling), and problems with the controls.

    A control with a problem is left out of the rule (an empty count is a problem, never
    COUNT=1), so the page can still show a rule beside the problems. `start` (the form's first
    start, 2026-12-10T10:00) fills a weekday of the month left at "as on the first start".
    """
    problems: list[Problem] = []

    def whole(field: str, text: str) -> int | None:
        high = LIMITS[field]
        value = _whole(text, high)
        if value is None:
            problems.append(
                Problem("rrule.form-number", WHOLE_NUMBER, {"low": 1, "high": high}, field=field)
            )
        return None if value is None else int(value)

    freq = builder.freq if builder.freq in FREQUENCIES else "WEEKLY"
    parts = [f"FREQ={freq}"]
    interval = whole("interval", builder.interval)
    if interval and interval > 1:
        parts.append(f"INTERVAL={interval}")
    if builder.end == "count":
        count = whole("count", builder.count)
        if count:
            parts.append(f"COUNT={count}")
    elif builder.end == "until":
        try:
            until = dt.date.fromisoformat(builder.until)
        except ValueError:
            problems.append(Problem("rrule.form-until", UNTIL_FORMAT, field="until"))
        else:
            # Not strftime: %Y does not pad years before 1000 to four digits.
            parts.append(f"UNTIL={until.isoformat().replace('-', '')}")
    if freq == "WEEKLY":
        days = [day for day in WEEKDAYS if day in builder.byday]
        if days:
            parts.append("BYDAY=" + ",".join(days))
    elif freq == "MONTHLY":
        if builder.monthly == "weekday":
            position, day = weekday_of_month(start)
            position = builder.setpos if builder.setpos in POSITIONS else position
            day = builder.setpos_day if builder.setpos_day in WEEKDAYS else day
            if position and day:
                parts.append(f"BYDAY={position}{day}")
        elif builder.monthday:
            monthday = whole("monthday", builder.monthday)
            if monthday:
                parts.append(f"BYMONTHDAY={monthday}")
    return recurrence.canonical(";".join(parts)), problems


def weekday_of_month(start: str) -> tuple[str, str]:
    """Which weekday of its month the first start is, as the builder's ("2", "TH"); the fifth
    is the last ("-1"). ("", "") when `start` is not a date."""
    try:
        day = dt.date.fromisoformat(start[:10])
    except ValueError:
        return "", ""
    position = (day.day - 1) // 7 + 1
    return ("-1" if position == 5 else str(position)), WEEKDAYS[day.weekday()]


def _whole(text: str, high: int) -> str | None:
    """`text` as a whole number from 1 to `high`, spelt without leading zeros; None if not one."""
    # ASCII and short first: "²" is a digit to isdigit() but not to int(), and int() refuses
    # thousands of digits.
    if not (text.isascii() and text.isdigit() and len(text) < 10) or not 1 <= int(text) <= high:
        return None
    return str(int(text))


# --- the form -------------------------------------------------------------------------------


def choose_rule(values: dict[str, Any]) -> list[Problem]:
    """Settle values["rrule"] from the raw field or the builder (module doc); the builder's
    problems, each naming its control as `field`."""
    hand_edited = values["rrule"] not in ("", values["rrule_shown"])
    if values["freq"] and not hand_edited:
        values["rrule"], problems = rule_of(Builder.of_form(values), str(values.get("start", "")))
        return problems
    return []


def show_builder(values: dict[str, Any]) -> bool:
    """Set the builder's controls in `values` from values["rrule"] (spelt canonically);
    False when the builder cannot show that rule."""
    builder = builder_of(values["rrule"]) if values["rrule"] else Builder()
    if builder is None:
        return False
    values.update(builder.fields())
    with contextlib.suppress(recurrence.RecurrenceError):
        values["rrule"] = recurrence.canonical(values["rrule"])
    return True


# --- in words -------------------------------------------------------------------------------


def rule_in_words(text: str, lang: str) -> str:
    """A rule as people say it ("katru mēnesi: otrā ceturtdiena"); the RRULE when it cannot be."""
    builder = builder_of(text)
    if builder is None:
        return text
    _ = gettext_for(lang)
    ngettext = ngettext_for(lang)
    n = builder.interval
    count = int(n) if n.isdigit() else 0
    every = {
        "DAILY": (_("every day"), ngettext("every %(num)s day", "every %(num)s days", count)),
        "WEEKLY": (_("every week"), ngettext("every %(num)s week", "every %(num)s weeks", count)),
        "MONTHLY": (
            _("every month"),
            ngettext("every %(num)s month", "every %(num)s months", count),
        ),
        "YEARLY": (_("every year"), ngettext("every %(num)s year", "every %(num)s years", count)),
    }[builder.freq][n != "1"]
    names = weekday_names(lang)
    detail = ""
    if builder.freq == "WEEKLY" and builder.byday:
        detail = ", ".join(names[day] for day in builder.byday)
    elif builder.freq == "MONTHLY" and builder.monthly == "weekday":
        detail = f"{position_names(lang)[builder.setpos]} {names[builder.setpos_day]}"
    elif builder.freq == "MONTHLY" and builder.monthday:
        detail = _("day %(n)s", n=builder.monthday)
    words = f"{every}: {detail}" if detail else every
    if builder.end == "count":
        words += "; " + _("sessions in all: %(n)s", n=builder.count)
    elif builder.end == "until":
        words += "; " + _("until %(date)s", date=builder.until)
    return words


def weekday_names(lang: str) -> dict[str, str]:
    """The weekdays' names by RRULE code, in `lang`."""
    _ = gettext_for(lang)
    return {
        "MO": _("Monday"),
        "TU": _("Tuesday"),
        "WE": _("Wednesday"),
        "TH": _("Thursday"),
        "FR": _("Friday"),
        "SA": _("Saturday"),
        "SU": _("Sunday"),
    }


def position_names(lang: str) -> dict[str, str]:
    """The builder's positions of a weekday in a month ("2" → "second"), in `lang`."""
    _ = gettext_for(lang)
    return {"1": _("first"), "2": _("second"), "3": _("third"), "4": _("fourth"), "-1": _("last")}
