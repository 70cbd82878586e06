"""Counters in the database that every web worker and every concurrent request share.

`counter()` returns the row of one (scope, key), locked until the transaction ends: a second
request for the same key waits for the first to commit and then sees its count, so a limit
checked against it holds under concurrency. On PostgreSQL the upsert takes the row lock; on
SQLite the upsert takes the database's write lock, which serialises writers anyway.

A counter's window opens at its first event and lasts `window`; the first event after that opens
the next one. Counters untouched for a while are pruned by whoever counts next.
"""

from __future__ import annotations

import datetime as dt
import ipaddress

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as Db

from vcs.storage.models import RateCounter

# Longer than any window in use (a day); a counter older than this holds nothing worth keeping.
KEEP = dt.timedelta(days=2)
PRUNE_BATCH = 200


def counter(db: Db, scope: str, key: str, now: dt.datetime, window: dt.timedelta) -> RateCounter:
    """The locked counter of (scope, key), emptied when its window has passed."""
    key = key[:320]
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = RateCounter.__table__
    # ON CONFLICT DO UPDATE (not DO NOTHING): the no-op update locks an existing row at once,
    # with no gap in which a pruner could delete it between our insert and our read.
    db.execute(
        insert(RateCounter)
        .values(scope=scope, key=key, window_start=now, count=0, last_at=None, ref="")
        .on_conflict_do_update(index_elements=["scope", "key"], set_={"count": table.c.count})
    )
    row = db.scalars(
        select(RateCounter)
        .where(RateCounter.scope == scope, RateCounter.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if now - row.window_start >= window:
        row.window_start, row.count, row.last_at, row.ref = now, 0, None, ""
    _prune(db, now)
    return row


def _prune(db: Db, now: dt.datetime) -> None:
    # SKIP LOCKED: a counter another request holds is not waited for (it is not stale anyway),
    # so pruning never makes two requests wait for each other.
    stale = (
        select(RateCounter.id)
        .where(RateCounter.window_start < now - KEEP)
        .limit(PRUNE_BATCH)
        .with_for_update(skip_locked=True)
    )
    db.execute(delete(RateCounter).where(RateCounter.id.in_(stale.scalar_subquery())))


def client_key(address: str) -> str:
    """The client a limit applies to: its IPv4 address, or its IPv6 /64 network.

    One IPv6 subscriber usually holds a whole /64, so counting single IPv6 addresses would let
    one client pass any limit by changing the last 64 bits.
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
