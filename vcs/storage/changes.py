"""The change stamp: raised in the same transaction as any write to what pages and feeds show."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event, select, update
from sqlalchemy.orm import Session as Db

from vcs.storage.models import (
    ChangeStamp,
    Livestream,
    Member,
    MemberRegion,
    MemberSeries,
    Municipality,
    Region,
    Series,
    Session,
)

TRACKED = (Session, Series, Livestream, Member, MemberSeries, MemberRegion, Region, Municipality)
STAMP_ID = 1


@event.listens_for(Db, "after_flush")
def _raise_stamp(db: Db, _flush_context: Any) -> None:
    # In after_flush the session still lists what this flush wrote.
    touched = (*db.new, *db.dirty, *db.deleted)
    if any(isinstance(obj, TRACKED) for obj in touched):
        db.connection().execute(
            update(ChangeStamp)
            .where(ChangeStamp.id == STAMP_ID)
            .values(value=ChangeStamp.value + 1)
        )


def current_stamp(connection: Connection) -> int:
    """The stamp as this connection sees it; 0 before the first write."""
    value = connection.execute(select(ChangeStamp.value).where(ChangeStamp.id == STAMP_ID)).scalar()
    return int(value or 0)
