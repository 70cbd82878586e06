"""Sessions: the concrete occurrences of series, and the queries pages and jobs ask of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import joinedload

from vcs.storage.models import Series, Session


def upcoming(db: Db, now: dt.datetime, limit: int = 20) -> Sequence[Session]:
    """Public sessions that have not ended yet, soonest first (cancelled ones included)."""
    query = (
        select(Session)
        .join(Session.series)
        .options(joinedload(Session.series))
        .where(Session.end >= now, Series.visibility == "public")
        .order_by(Session.start)
        .limit(limit)
    )
    return db.scalars(query).all()


def past_with_recordings(db: Db, now: dt.datetime, limit: int = 10) -> Sequence[Session]:
    """Public sessions that have ended and have a recording, newest first."""
    query = (
        select(Session)
        .join(Session.series)
        .options(joinedload(Session.series))
        .where(
            Session.end < now,
            Series.visibility == "public",
            Session.status == "scheduled",
            Session.recording_url != "",
        )
        .order_by(Session.start.desc())
        .limit(limit)
    )
    return db.scalars(query).all()
