"""What staff need to see about livestreams: provider health, quota, and each broadcast."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from vcs.context import Context
from vcs.livestream.plan import watch_url
from vcs.planning import sessions
from vcs.planning.wording import streamed
from vcs.providers.quota import quota_day
from vcs.providers.registry import DEFAULT_FACTORIES, daily_quota
from vcs.storage.models import ProviderHealth, QuotaUsage, Session


def status_report(context: Context) -> dict[str, Any]:
    """Providers first (a revoked credential blocks all of its sessions), then the sessions."""
    now = context.clock.now()
    horizon = now + dt.timedelta(days=context.settings.livestream.provision_days)
    with context.database.session() as db:
        providers = []
        for name in sorted(DEFAULT_FACTORIES):
            health = db.get(ProviderHealth, name)
            usage = db.get(QuotaUsage, (name, quota_day(now)))
            quota = daily_quota(name, context)
            providers.append(
                {
                    "provider": name,
                    "state": health.state if health else "ok",
                    "message": health.message if health else "",
                    "fix_command": health.fix_command if health else "",
                    "since": _iso(health.since if health else None),
                    "until": _iso(health.until if health else None),
                    "daily_quota": quota,
                    "units_today": (usage.units if usage else 0) if quota is not None else None,
                }
            )
        found = db.scalars(
            select(Session)
            .where(Session.end > now, Session.start <= horizon)
            .options(joinedload(Session.series), joinedload(Session.livestream))
            .order_by(Session.start, Session.id)
        ).unique()
        broadcasts = []
        for session in found:
            if not streamed(session):
                continue
            row = session.livestream
            broadcasts.append(
                {
                    "session": session.id,
                    "start": session.start.astimezone(sessions.timezone(session)).isoformat(),
                    "series": session.series.slug,
                    "provider": row.provider if row else session.series.livestream_provider,
                    "status": row.status if row else "not yet",
                    "external_id": row.external_id if row else "",
                    "watch_url": watch_url(session),
                    "error_count": row.error_count if row else 0,
                    "last_error": row.last_error if row else "",
                    "next_attempt_at": _iso(row.next_attempt_at if row else None),
                }
            )
    return {"providers": providers, "broadcasts": broadcasts}


def _iso(value: dt.datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat() if value else None
