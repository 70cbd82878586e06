"""What the staff dashboard shows: the next sessions with their livestreams, the scheduler's
recent job runs, providers that need a hand, and the last digest's figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from vcs.context import Context
from vcs.livestream.report import status_report
from vcs.storage.models import AuditEntry, Delivery, Digest, JobRun, Session

NEXT_SESSIONS = 15
RECENT_RUNS = 20


@dataclass
class Overview:
    sessions: list[Session]
    # Session id -> its row of the livestream status report (provider, status, last error).
    broadcasts: dict[int, dict[str, Any]]
    provider_problems: list[dict[str, Any]]
    runs: list[JobRun]
    digest: Digest | None = None
    deliveries: dict[str, int] = field(default_factory=dict)


def overview(context: Context) -> Overview:
    """Everything on the dashboard, members-only series included."""
    now = context.clock.now()
    report = status_report(context)
    with context.database.session() as db:
        found = db.scalars(
            select(Session)
            .where(Session.end >= now)
            .options(joinedload(Session.series), joinedload(Session.livestream))
            .order_by(Session.start, Session.id)
            .limit(NEXT_SESSIONS)
        ).all()
        runs = db.scalars(select(JobRun).order_by(JobRun.started_at.desc()).limit(RECENT_RUNS))
        digest = db.scalars(
            select(Digest).where(Digest.sent_at.is_not(None)).order_by(Digest.sent_at.desc())
        ).first()
        deliveries: dict[str, int] = {}
        if digest is not None:
            counted = db.execute(
                select(Delivery.status, func.count())
                .where(Delivery.ref == f"digest:{digest.id}")
                .group_by(Delivery.status)
            ).all()
            deliveries = {status: count for status, count in counted}
        broadcasts = {row["session"]: row for row in report["broadcasts"]}
        # Beyond the provision window the report is silent; a broadcast made anyway still counts.
        for session in found:
            if session.id not in broadcasts and session.livestream is not None:
                row = session.livestream
                broadcasts[session.id] = {
                    "status": row.status,
                    "last_error": row.last_error,
                    "error_count": row.error_count,
                }
        overview = Overview(
            sessions=list(found),
            broadcasts=broadcasts,
            provider_problems=[p for p in report["providers"] if p["state"] != "ok"],
            runs=list(runs),
            digest=digest,
            deliveries=deliveries,
        )
    return overview


def session_history(context: Context, session_id: int, limit: int = 10) -> list[AuditEntry]:
    """The latest audit entries of one session, newest first."""
    with context.database.session() as db:
        entries = db.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "session", AuditEntry.entity_id == str(session_id))
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        ).all()
    return list(entries)


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
