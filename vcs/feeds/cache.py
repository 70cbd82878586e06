"""Feed bytes built once per change and kept, with their ETag and a gzip copy."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from vcs.storage.changes import current_stamp


@dataclass(frozen=True)
class CachedFeed:
    version: tuple[object, ...]
    body: bytes
    gzipped: bytes
    etag: str
    last_modified: dt.datetime
    filename: str


def data_version(engine: Engine, today: dt.date) -> tuple[object, ...]:
    """Changes whenever anything a feed shows may have changed: one primary-key read.

    The date is part of it because a feed's window moves with the days.
    """
    with engine.connect() as connection:
        return (today, current_stamp(connection))


class FeedCache:
    """Per-process cache of feed bytes by (feed key, language)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], CachedFeed] = {}
        self._lock = threading.Lock()
        self.builds = 0

    def get(
        self,
        key: tuple[str, str],
        version: tuple[object, ...],
        build: Callable[[], tuple[bytes, dt.datetime, str] | None],
    ) -> CachedFeed | None:
        """The cached feed if its version is current, else `build()` it once and keep it."""
        entry = self._entries.get(key)
        if entry is not None and entry.version == version:
            return entry
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.version == version:
                return entry
            built = build()
            if built is None:
                return None
            body, modified, filename = built
            self.builds += 1
            entry = CachedFeed(
                version=version,
                body=body,
                gzipped=gzip.compress(body, compresslevel=6, mtime=0),
                etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
                last_modified=modified.replace(microsecond=0),
                filename=filename,
            )
            self._entries[key] = entry
            return entry
