"""One date of a series said differently: the `[[series.sessions]]` tables of a series file.

A series keeps them as the file says them (`Series.overrides`, checked by
`vcs.planning.series`); this module says which session each one is about and what that session
should then look like. Materialize applies that to sessions staff did not edit; export writes
staff edits back in the same form.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from vcs.planning import recurrence
from vcs.states import SessionStatus

# The keys of one override, in the order a file writes them.
KEYS = (
    "date", "extra", "start", "duration", "cancelled", "reason", "title", "topic", "description",
    "speakers", "place", "registration",
)  # fmt: skip
DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")
# The texts an override may set, as Session columns `<name>_lv` and `<name>_en`.
TEXTS = ("title", "topic", "description")


@dataclass(frozen=True)
class Look:
    """What a session made from the rule (or an extra date) should look like."""

    start: dt.datetime
    end: dt.datetime
    status: str = SessionStatus.SCHEDULED
    cancel_reason: str = ""
    texts: dict[str, str] = field(default_factory=dict)
    speakers: list[Any] = field(default_factory=list)
    place: dict[str, Any] | None = None
    # The session's own registration settings (vcs/planning/registrations.py); None: the series'.
    registration: dict[str, Any] | None = None

    def columns(self) -> dict[str, Any]:
        """The Session columns this look sets."""
        values: dict[str, Any] = {
            "start": self.start,
            "end": self.end,
            "status": self.status,
            "cancel_reason": self.cancel_reason,
            "speakers": self.speakers,
            "place": self.place,
            "registration": self.registration,
        }
        for name in TEXTS:
            for lang in ("lv", "en"):
                values[f"{name}_{lang}"] = self.texts.get(f"{name}_{lang}", "")
        return values


def local_time(value: str) -> dt.time:
    """An override's `start` when it is a time of day ("13:00")."""
    return dt.time.fromisoformat(value)


def instant(date: str, time: str, tz: ZoneInfo) -> dt.datetime:
    """A local date and time of day in `tz`, as aware UTC."""
    local = dt.datetime.combine(dt.date.fromisoformat(date), local_time(time))
    return recurrence.to_local(local, tz).astimezone(dt.UTC)


def local_date(value: dt.datetime, tz: ZoneInfo) -> str:
    """The local date (2027-02-09) of a UTC instant."""
    return value.astimezone(tz).date().isoformat()


def extra_start(override: dict[str, Any], tz: ZoneInfo) -> dt.datetime:
    """The UTC start of an extra date: its key, like the start the rule gives another session."""
    return instant(override["date"], override["start"], tz)


def minutes(duration: str) -> int:
    """Minutes of a duration as a checked file gives it (P1DT2H30M)."""
    match = DURATION.match(duration)
    if match is None:
        raise ValueError(f"not a duration: {duration!r}")
    days, hours, mins = (int(group or 0) for group in match.groups())
    return (days * 24 + hours) * 60 + mins


def iso_duration(total: int) -> str:
    """Minutes as an ISO 8601 duration the way a series file writes it: PT1H30M, P1DT2H."""
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    text = "P" + (f"{days}D" if days else "")
    if hours or mins:
        text += "T" + (f"{hours}H" if hours else "") + (f"{mins}M" if mins else "")
    return text


def look(
    override: dict[str, Any] | None, slot: dt.datetime, duration: dt.timedelta, tz: ZoneInfo
) -> Look:
    """How the session at `slot` (the start the rule or an extra date gives) should look."""
    if not override:
        return Look(start=slot, end=slot + duration)
    start = slot
    if "start" in override and not override.get("extra"):
        value = override["start"]
        if "T" in value:
            start = recurrence.to_local(dt.datetime.fromisoformat(value), tz).astimezone(dt.UTC)
        else:
            start = instant(override["date"], value, tz)
    if "duration" in override:
        duration = dt.timedelta(minutes=minutes(override["duration"]))
    texts = {
        f"{name}_{lang}": override[name].get(lang, "")
        for name in TEXTS
        if name in override
        for lang in ("lv", "en")
    }
    cancelled = bool(override.get("cancelled"))
    return Look(
        start=start,
        end=start + duration,
        status=SessionStatus.CANCELLED if cancelled else SessionStatus.SCHEDULED,
        cancel_reason=override.get("reason", "") if cancelled else "",
        texts=texts,
        speakers=list(override.get("speakers", [])),
        place=dict(override["place"]) if "place" in override else None,
        registration=dict(override["registration"]) if "registration" in override else None,
    )


def key(override: dict[str, Any]) -> tuple[str, str]:
    """What an override is about: a date of the rule, or an extra date and its time."""
    return (override["date"], override["start"] if override.get("extra") else "")


def ordered(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Overrides by date (an extra after the rule's session of its day, by time)."""
    return sorted(values, key=key)
