"""`vcs series export`: series written back as a series file, staff edits as overrides.

The file is the one `vcs series import` reads (docs/series-files.md), so exporting and importing
again changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import tomli_w
from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from vcs.errors import VcsError
from vcs.i18n import N_
from vcs.planning import overrides, recurrence
from vcs.states import SessionStatus
from vcs.storage.models import Series, Session

HEADER = (
    "# Written by `vcs series export`; `vcs series import` reads it back.\n"
    "# The format is described in docs/series-files.md.\n\n"
)


def export_series(db: Db, slug: str | None = None) -> str:
    """Every series (or the one `slug`) as the text of a series file."""
    query = select(Series).order_by(Series.slug)
    if slug is not None:
        query = query.where(Series.slug == slug)
    found = list(db.scalars(query))
    if not found:
        raise VcsError.one(
            "series.export.unknown", N_("no series %(slug)r"), where=("series",), slug=slug
        )
    return HEADER + tomli_w.dumps({"series": [series_entry(db, one) for one in found]})


def series_entry(db: Db, series: Series) -> dict[str, Any]:
    """One [[series]] table, with the defaults a file may leave out left out."""
    entry: dict[str, Any] = {
        "slug": series.slug,
        "title": _bilingual(series.title_lv, series.title_en),
    }
    if series.description_lv or series.description_en:
        entry["description"] = _bilingual(series.description_lv, series.description_en)
    entry |= {
        "rrule": series.rrule,
        "start": f"{series.start_local:%Y-%m-%dT%H:%M}",
        "timezone": series.timezone,
        "duration": overrides.iso_duration(series.duration_minutes),
    }
    if series.exdates:
        entry["exdates"] = list(series.exdates)
    entry["scope"] = series.scope
    if series.region is not None:
        entry["region"] = series.region.slug
    entry["place"] = dict(series.place)
    organiser = {
        "name": series.organiser_name,
        "email": series.organiser_email,
        "phone": series.organiser_phone,
    }
    if any(organiser.values()):
        entry["organiser"] = {key: value for key, value in organiser.items() if value}
    if series.tags:
        entry["tags"] = list(series.tags)
    entry["visibility"] = series.visibility
    entry["livestream"] = {"provider": series.livestream_provider, **series.livestream_settings}
    if series.join_url:
        entry["join_url"] = series.join_url
    if series.registration:
        entry["registration"] = dict(series.registration)
    if series.funding_text_lv or series.funding_text_en:
        entry["funding"] = {"text": _bilingual(series.funding_text_lv, series.funding_text_en)}
        if series.funding_project:
            entry["funding"]["project"] = series.funding_project
    if not series.active:
        entry["active"] = False
    said = _with_staff_edits(db, series)
    if said:
        entry["sessions"] = said
    return entry


def _with_staff_edits(db: Db, series: Series) -> list[dict[str, Any]]:
    """The series' overrides, with each session staff edited said as its own override."""
    said = {overrides.key(value): value for value in series.overrides}
    tz = ZoneInfo(series.timezone)
    rule = recurrence.parse_rule(series.rrule, series.start_local, tz)
    skip = frozenset(dt.datetime.fromisoformat(value) for value in series.exdates)
    edited = db.scalars(
        select(Session)
        .where(Session.series_id == series.id, Session.edited.is_(True))
        .order_by(Session.start, Session.id)
    )
    for session in edited:
        slot = session.original_start
        in_rule = slot is not None and bool(
            recurrence.expand(
                rule, series.start_local, tz, slot, slot + dt.timedelta(seconds=1), skip
            )
        )
        override = _override_of(session, series, slot or session.start, in_rule, tz)
        key = overrides.key(override)
        # A session of the rule exactly as the series says it needs no override, unless the
        # file said something else about its date.
        if not in_rule or len(override) > 1 or key in said:
            said[key] = override
    return [_tidy(value) for value in overrides.ordered(list(said.values()))]


def _tidy(override: dict[str, Any]) -> dict[str, Any]:
    """An override as a person would write it: a speaker's empty role or organisation left out."""
    if "speakers" not in override:
        return override
    speakers = [{key: value for key, value in one.items() if value} for one in override["speakers"]]
    return override | {"speakers": speakers}


def _override_of(
    session: Session, series: Series, slot: dt.datetime, in_rule: bool, tz: ZoneInfo
) -> dict[str, Any]:
    """What staff made of one session, as a [[series.sessions]] table."""
    local = slot.astimezone(tz)
    override: dict[str, Any] = {"date": local.date().isoformat()}
    if not in_rule:
        # A one-off session, or one whose date the rule no longer gives: an extra date. (Its
        # start is its key, so a move of it after it was made is not said.)
        override |= {"extra": True, "start": f"{local:%H:%M}"}
    elif session.start != slot:
        moved = session.start.astimezone(tz)
        same_day = moved.date() == local.date()
        override["start"] = f"{moved:%H:%M}" if same_day else f"{moved:%Y-%m-%dT%H:%M}"
    minutes = int((session.end - session.start).total_seconds() // 60)
    if minutes != series.duration_minutes:
        override["duration"] = overrides.iso_duration(minutes)
    if session.status == SessionStatus.CANCELLED:
        override |= {"cancelled": True, "reason": session.cancel_reason}
    for name in overrides.TEXTS:
        lv, en = getattr(session, f"{name}_lv"), getattr(session, f"{name}_en")
        if lv or en:
            override[name] = {"lv": lv, "en": en} if en else {"lv": lv}
    if session.speakers:
        override["speakers"] = list(session.speakers)
    if session.place is not None:
        override["place"] = dict(session.place)
    if session.registration is not None:
        override["registration"] = dict(session.registration)
    return override


def _bilingual(lv: str, en: str) -> dict[str, str]:
    return {"lv": lv, "en": en} if en else {"lv": lv}
