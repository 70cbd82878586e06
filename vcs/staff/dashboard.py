"""What the staff dashboard shows: what needs attention first (livestream problems, failed
deliveries, jobs that failed), this week's sessions and digest, and the scheduler's routine
runs summarised per job rather than listed one by one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, func, select
from sqlalchemy.orm import joinedload

from vcs import digest as digests
from vcs.context import Context
from vcs.livestream.report import status_report
from vcs.mail import outbox
from vcs.staff.labels import ACTIONS
from vcs.states import SessionStatus
from vcs.storage.models import AuditEntry, Delivery, Digest, JobRun, Session

NEXT_SESSIONS = 15
# How far back failed jobs, failed deliveries and the runs per job are counted.
LOOK_BACK = dt.timedelta(days=7)
FAILED_RUNS = 10
FAILED_OUTCOMES = ("failed", "interrupted")


@dataclass
class JobSummary:
    """One job's runs in the last week: how many, the latest, and how many failed."""

    job: str
    runs: int
    failed: int
    last: JobRun


@dataclass
class Overview:
    # This week's sessions (Monday to Sunday, local time), members-only series included.
    sessions: list[Session]
    # Session id -> its row of the livestream status report (provider, status, last error).
    broadcasts: dict[int, dict[str, Any]]
    provider_problems: list[dict[str, Any]]
    # Coming sessions whose broadcast has an error (this week or later).
    stream_problems: list[Session]
    failed_runs: list[JobRun]
    jobs: list[JobSummary]
    # Deliveries that failed for good in the last week, by kind of mail.
    failed_deliveries: dict[str, int] = field(default_factory=dict)
    week_start: dt.datetime | None = None
    # The first session after this week, for a week without any.
    next_session: Session | None = None
    # This week's digest (None: not drafted yet) and how its deliveries stand.
    week_digest: Digest | None = None
    figures: digests.Figures | None = None

    @property
    def failed_delivery_count(self) -> int:
        return sum(self.failed_deliveries.values())

    @property
    def needs_attention(self) -> bool:
        return bool(
            self.provider_problems
            or self.stream_problems
            or self.failed_deliveries
            or self.failed_runs
        )


def _week_start(context: Context, now: dt.datetime) -> dt.datetime:
    """Monday 00.00 of this week, local time, as UTC."""
    tz = context.settings.tz
    today = now.astimezone(tz).date()
    monday = today - dt.timedelta(days=today.weekday())
    return dt.datetime.combine(monday, dt.time(), tz).astimezone(dt.UTC)


def overview(context: Context) -> Overview:
    """Everything on the dashboard."""
    now = context.clock.now()
    since = now - LOOK_BACK
    week_start = _week_start(context, now)
    week_end = week_start + dt.timedelta(days=7)
    report = status_report(context)
    with context.database.session() as db:
        this_week = db.scalars(
            select(Session)
            .where(Session.start >= week_start, Session.start < week_end)
            .options(joinedload(Session.series), joinedload(Session.livestream))
            .order_by(Session.start, Session.id)
        ).all()
        coming = db.scalars(
            select(Session)
            .where(Session.end >= now, Session.status == SessionStatus.SCHEDULED)
            .options(joinedload(Session.series), joinedload(Session.livestream))
            .order_by(Session.start, Session.id)
            .limit(NEXT_SESSIONS)
        ).all()
        broadcasts = {row["session"]: row for row in report["broadcasts"]}
        # Beyond the provision window the report is silent; a broadcast made anyway still counts.
        for session in [*this_week, *coming]:
            if session.id not in broadcasts and session.livestream is not None:
                row = session.livestream
                broadcasts[session.id] = {
                    "status": row.status,
                    "last_error": row.last_error,
                    "error_count": row.error_count,
                }
        stream_problems = [s for s in coming if (broadcasts.get(s.id) or {}).get("last_error")]
        failed_runs = db.scalars(
            select(JobRun)
            .where(JobRun.started_at >= since, JobRun.outcome.in_(FAILED_OUTCOMES))
            .order_by(JobRun.started_at.desc(), JobRun.id.desc())
            .limit(FAILED_RUNS)
        ).all()
        jobs = _job_summaries(db, since)
        failed_deliveries = {
            kind: int(n)
            for kind, n in db.execute(
                select(Delivery.kind, func.count())
                .where(Delivery.status == outbox.FAILED_PERMANENT, Delivery.created_at >= since)
                .group_by(Delivery.kind)
                .order_by(Delivery.kind)
            )
        }
        anchor = digests.week_anchor(context.settings, now)
        digest_week = dt.datetime.combine(anchor, dt.time(), context.settings.tz)
        week_digest = db.scalars(
            select(Digest)
            .where(
                Digest.period_start >= digest_week,
                Digest.period_start < digest_week + dt.timedelta(days=7),
            )
            .order_by(Digest.id)
        ).first()
        figures = digests.figures(db, [week_digest.id])[week_digest.id] if week_digest else None
        return Overview(
            sessions=list(this_week),
            broadcasts=broadcasts,
            provider_problems=[p for p in report["providers"] if p["state"] != "ok"],
            stream_problems=stream_problems,
            failed_runs=list(failed_runs),
            jobs=jobs,
            failed_deliveries=failed_deliveries,
            week_start=week_start,
            next_session=next((s for s in coming if s.start >= week_end), None),
            week_digest=week_digest,
            figures=figures,
        )


def _job_summaries(db: Any, since: dt.datetime) -> list[JobSummary]:
    """Per job: its runs since `since`, how many failed, and its latest run (one query each)."""
    counted = db.execute(
        select(
            JobRun.job,
            func.count(),
            func.sum(JobRun.outcome.in_(FAILED_OUTCOMES).cast(Integer)),
            func.max(JobRun.id),
        )
        .where(JobRun.started_at >= since)
        .group_by(JobRun.job)
        .order_by(JobRun.job)
    ).all()
    last = {
        run.id: run
        for run in db.scalars(select(JobRun).where(JobRun.id.in_([row[3] for row in counted])))
    }
    return [
        JobSummary(job, int(runs), int(failed or 0), last[last_id])
        for job, runs, failed, last_id in counted
    ]


@dataclass(frozen=True)
class HistoryLine:
    """One change of a session as its page lists it; `action` is a msgid to translate."""

    at: dt.datetime
    actor: str
    action: str


def session_history(context: Context, session_id: int, limit: int = 10) -> list[HistoryLine]:
    """The latest changes of one session, newest first, each action in words."""
    with context.database.session() as db:
        entries = db.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "session", AuditEntry.entity_id == str(session_id))
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        ).all()
        return [HistoryLine(e.at, e.actor, ACTIONS.get(e.action, e.action)) for e in entries]


@dataclass
class AuditPage:
    entries: list[AuditEntry]
    page: int
    pages: int


def audit_page(context: Context, page: int, per_page: int = 50) -> AuditPage:
    """One page of the audit log, newest first."""
    with context.database.session() as db:
        total = db.scalar(select(func.count()).select_from(AuditEntry)) or 0
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        entries = db.scalars(
            select(AuditEntry)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
    return AuditPage(list(entries), page, pages)
