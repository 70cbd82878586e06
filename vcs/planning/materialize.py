"""Turn series into sessions up to the rolling horizon; safe to run any number of times."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from vcs import audit
from vcs.planning import overrides, recurrence
from vcs.states import SessionStatus
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
    db: Db,
    series: Series,
    now: dt.datetime,
    horizon: dt.timedelta,
    host: str,
    actor: str = audit.SCHEDULER,
) -> MaterializeReport:
    """Bring the future sessions of `series` in line with its rule and its overrides.

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
    said: dict[dt.datetime, dict[str, Any]] = {}
    starts: list[dt.datetime] = []
    if series.active:
        rule = recurrence.parse_rule(series.rrule, series.start_local, tz)
        exdates = frozenset(dt.datetime.fromisoformat(value) for value in series.exdates)
        starts = recurrence.expand(rule, series.start_local, tz, now, until, exdates)
        # An override names its session by its local date; an extra date (RFC 5545 RDATE) is a
        # start of its own, kept like one the rule gives.
        by_date = {overrides.local_date(start, tz): start for start in starts}
        for override in series.overrides:
            if override.get("extra"):
                slot = overrides.extra_start(override, tz)
                if now <= slot < until:
                    starts.append(slot)
                    said[slot] = override
            elif override["date"] in by_date:
                said[by_date[override["date"]]] = override
        starts.sort()
    wanted = set(starts)

    for start in starts:
        session = existing.get(start)
        if start >= now + horizon and session is None:
            continue
        look = overrides.look(said.get(start), start, duration, tz)
        if session is None and start in said and said[start].get("extra"):
            session = _adopt(db, series, start)
            if session is not None:
                continue
        if session is None:
            session = Session(
                series_id=series.id,
                original_start=start,
                uid=f"{uuid.uuid4()}@{host}",
                **look.columns(),
            )
            db.add(session)
            report.created += 1
        elif not session.edited:
            _bring_in_line(db, session, look, actor, report)

    for original_start, session in existing.items():
        if original_start in wanted or session.edited or session.status == SessionStatus.CANCELLED:
            continue
        if session.start <= now:
            continue
        if session.announced_at is None and session.livestream is None:
            db.delete(session)
            report.removed += 1
            continue
        session.status = SessionStatus.CANCELLED
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


def _adopt(db: Db, series: Series, start: dt.datetime) -> Session | None:
    """A one-off session staff added at the start of a file's extra date, now keyed by it.

    `vcs series export` writes staff's extra sessions as extra dates; importing that file again
    must not add a second session beside each.
    """
    session = db.scalars(
        select(Session).where(
            Session.series_id == series.id,
            Session.original_start.is_(None),
            Session.start == start,
        )
    ).first()
    if session is not None:
        session.original_start = start
    return session


def _bring_in_line(
    db: Db, session: Session, look: overrides.Look, actor: str, report: MaterializeReport
) -> None:
    """Give a session staff did not edit the look its rule and overrides say; count the change."""
    wanted = look.columns()
    changed = {key: value for key, value in wanted.items() if getattr(session, key) != value}
    if not changed:
        return
    before = {key: _plain(getattr(session, key)) for key in changed}
    for key, value in changed.items():
        setattr(session, key, value)
    session.revision += 1
    after = {key: _plain(value) for key, value in changed.items()}
    if "status" in changed and look.status == SessionStatus.SCHEDULED:
        # The scheduler cancelled it when the rule dropped the slot; the file cancelled it when
        # an override said so.
        if before.get("cancel_reason") == RULE_CHANGED:
            who, why = audit.SCHEDULER, "the series rule gives this session again"
        else:
            who, why = actor, "the series file no longer cancels this session"
        audit.record(db, who, "reinstate", "session", session.id, after={"reason": why})
        report.reinstated += 1
    elif "status" in changed:
        audit.record(db, actor, "cancel", "session", session.id, before=before, after=after)
        report.cancelled += 1
    else:
        if set(changed) != {"end"}:
            audit.record(db, actor, "update", "session", session.id, before=before, after=after)
        report.updated += 1


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value
