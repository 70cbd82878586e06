"""VTIMEZONE components with the real transitions of an IANA zone, as Outlook needs them."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

DAY = dt.timedelta(days=1)


def transitions(
    tz: ZoneInfo, first: dt.date, last: dt.date
) -> list[tuple[dt.datetime, dt.timedelta, dt.timedelta, str, bool]]:
    """(instant in UTC, offset before, offset after, name after, is_dst after) for each change."""
    found = []
    moment = dt.datetime(first.year, first.month, first.day, tzinfo=dt.UTC)
    end = dt.datetime(last.year, last.month, last.day, tzinfo=dt.UTC)
    offset = moment.astimezone(tz).utcoffset()
    while moment < end:
        following = moment + DAY
        next_offset = following.astimezone(tz).utcoffset()
        if next_offset != offset:
            low, high = moment, following
            while high - low > dt.timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(tz).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            local = high.astimezone(tz)
            assert offset is not None and next_offset is not None
            found.append((high, offset, next_offset, local.tzname() or "", bool(local.dst())))
            offset = next_offset
        moment = following
    return found


@functools.cache
def vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE for `tzid` valid from the start of `first_year` to the end of `last_year`.

    Each observance starts at the local time in force before the change (RFC 5545 3.6.5), so
    Riga's summer time begins at 03:00, not 04:00.
    """
    tz = ZoneInfo(tzid)
    first, last = dt.date(first_year, 1, 1), dt.date(last_year + 1, 1, 1)
    component = Timezone()
    component.add("TZID", tzid)
    component.add("X-LIC-LOCATION", tzid)
    start = dt.datetime(first_year, 1, 1, tzinfo=dt.UTC).astimezone(tz)
    changes = transitions(tz, first, last)
    groups: dict[tuple[bool, dt.timedelta, dt.timedelta, str], list[dt.datetime]] = {}
    if not changes or changes[0][0] > dt.datetime(first_year, 1, 1, tzinfo=dt.UTC):
        # The offset in force at the start of the range, as an observance of its own.
        offset = start.utcoffset() or dt.timedelta(0)
        key = (bool(start.dst()), offset, offset, start.tzname() or "")
        groups[key] = [start.replace(tzinfo=None)]
    for instant, before, after, name, is_dst in changes:
        onset = (instant + before).replace(tzinfo=None)
        groups.setdefault((is_dst, before, after, name), []).append(onset)
    for (is_dst, before, after, name), onsets in groups.items():
        observance = TimezoneDaylight() if is_dst else TimezoneStandard()
        observance.add("DTSTART", onsets[0])
        for onset in onsets[1:]:
            observance.add("RDATE", onset)
        observance.add("TZNAME", name)
        observance.add("TZOFFSETFROM", before)
        observance.add("TZOFFSETTO", after)
        component.add_component(observance)
    return component
