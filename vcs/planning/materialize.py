"""Turn series into sessions up to the rolling horizon; safe to run any number of times."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from vcs import audit
from vcs.planning import recurrence
from vcs.storage.models import Series, Session

RULE_CHANGED = "rule-changed"


@dataclass
class MaterializeReport:
    created: int = 0
    updated: int = 0
    removed: int = 0
    cancelled: int = 0
    reinstated: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, other: MaterializeReport) -> None:
        self.created += other.created
        self.updated += other.updated
        self.removed += other.removed
        self.cancelled += other.cancelled
        self.reinstated += other.reinstated
        self.failures += other.failures

    def __str__(self) -> str:
        text = (
            f"{self.created} created, {self.updated} updated, {self.removed} removed, "
            f"{self.cancelled} cancelled, {self.reinstated} reinstated"
        )
        return text + "".join(f"; FAILED {failure}" for failure in self.failures)


def materialize_all(
    db: Db, now: dt.datetime, horizon: dt.timedelta, host: str
) -> MaterializeReport:
    """Materialize every series; a broken one is reported and does not hold up the others."""
    report = MaterializeReport()
    for series in db.scalars(select(Series).order_by(Series.id)):
        try:
            with db.begin_nested():
                report.add(materialize_series(db, series, now, horizon, host))
        except (recurrence.RecurrenceError, ValueError, KeyError) as exc:
            report.failures.append(f"series {series.slug}: {exc}")
    return report


def materialize_series(
    db: Db, series: Series, now: dt.datetime, horizon: dt.timedelta, host: str
) -> MaterializeReport:
    """Bring the future sessions of `series` in line with its rule.

    Keyed by (series, original start), so a second run changes nothing. Sessions staff edited
    stay as they are. A future session the rule no longer gives is deleted if nobody could have
    seen it yet, and otherwise cancelled with the reason, so calendars and inboxes learn of it.
    """
    report = MaterializeReport()
    tz = ZoneInfo(series.timezone)
    duration = dt.timedelta(minutes=series.duration_minutes)
    # Keyed by the start the rule gave, not the current one: a session moved into the past still
    # holds its slot.
    existing: dict[dt.datetime, Session] = {
        s.original_start: s
        for s in db.scalars(
            select(Session).where(Session.series_id == series.id, Session.original_start >= now)
        )
        if s.original_start is not None
    }
    # Also look past the horizon as far as sessions exist, so a shorter horizon removes nothing.
    until = max([now + horizon, *(start + dt.timedelta(seconds=1) for start in existing)])
    starts: list[dt.datetime] = []
    if series.active:
        rule = recurrence.parse_rule(series.rrule, series.start_local, tz)
        exdates = frozenset(dt.datetime.fromisoformat(value) for value in series.exdates)
        starts = recurrence.expand(rule, series.start_local, tz, now, until, exdates)
    wanted = set(starts)

    for start in starts:
        session = existing.get(start)
        if start >= now + horizon and session is None:
            continue
        if session is None:
            session = Session(
                series_id=series.id,
                original_start=start,
                uid=f"{uuid.uuid4()}@{host}",
                start=start,
                end=start + duration,
            )
            db.add(session)
            report.created += 1
        elif session.edited:
            continue
        elif session.status == "cancelled":
            session.status = "scheduled"
            session.cancel_reason = ""
            session.end = session.start + duration
            session.revision += 1
            audit.record(
                db,
                audit.SCHEDULER,
                "reinstate",
                "session",
                session.id,
                after={"reason": "the series rule gives this session again"},
            )
            report.reinstated += 1
        elif session.end - session.start != duration:
            session.end = session.start + duration
            session.revision += 1
            report.updated += 1

    for original_start, session in existing.items():
        if original_start in wanted or session.edited or session.status == "cancelled":
            continue
        if session.start <= now:
            continue
        if session.announced_at is None and session.livestream is None:
            db.delete(session)
            report.removed += 1
            continue
        session.status = "cancelled"
        session.cancel_reason = RULE_CHANGED
        session.revision += 1
        audit.record(
            db,
            audit.SCHEDULER,
            "cancel",
            "session",
            session.id,
            after={"reason": "the series rule no longer gives this session; it had been announced"},
        )
        report.cancelled += 1
    db.flush()
    return report
