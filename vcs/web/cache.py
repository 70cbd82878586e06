"""Response bytes (feeds, pages) built once per change and kept, with their ETag and a gzip
copy, and the conditional answers (304, HEAD, gzip) served from them."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import Response

from vcs.storage.changes import StampWatch


@dataclass(frozen=True)
class CachedBody:
    version: tuple[object, ...]
    body: bytes
    gzipped: bytes
    etag: str
    # RFC 9110 8.8.3: representations with different content codings need different strong tags.
    gzip_etag: str
    last_modified: dt.datetime
    filename: str


def data_version(watch: StampWatch, today: dt.date) -> tuple[object, ...]:
    """Changes whenever anything a feed or page shows may have changed (see StampWatch).

    The date is part of it because a feed's window moves with the days.
    """
    return (today, watch.value())


class ResponseCache:
    """Per-process cache of response bytes by (key, language)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], CachedBody] = {}
        self._lock = threading.Lock()
        self.builds = 0

    def get(
        self,
        key: tuple[str, str],
        version: tuple[object, ...],
        build: Callable[[], tuple[bytes, dt.datetime, str] | None],
    ) -> CachedBody | None:
        """The cached body if its version is current, else `build()` it once and keep it."""
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
            digest = hashlib.sha256(body).hexdigest()[:32]
            entry = CachedBody(
                version=version,
                body=body,
                gzipped=gzip.compress(body, compresslevel=6, mtime=0),
                etag=f'"{digest}"',
                gzip_etag=f'"{digest}-gz"',
                last_modified=modified.replace(microsecond=0),
                filename=filename,
            )
            self._entries[key] = entry
            return entry


def respond(
    request: Request,
    cached: CachedBody,
    media_type: str,
    cache_control: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """200 with the cached bytes (gzipped when asked), 304 when the client has them, or HEAD."""
    gzipped = accepts_gzip(request.headers.get("accept-encoding", ""))
    all_headers = {
        # A 304 carries the tag a 200 to this request would have carried (RFC 9110 15.4.5).
        "ETag": cached.gzip_etag if gzipped else cached.etag,
        "Last-Modified": format_datetime(cached.last_modified.astimezone(dt.UTC), usegmt=True),
        "Cache-Control": cache_control,
        "Vary": "Accept-Encoding",
        **(headers or {}),
    }
    if not_modified(request, cached):
        return Response(status_code=304, headers=all_headers)
    body = cached.body
    if gzipped:
        body = cached.gzipped
        all_headers["Content-Encoding"] = "gzip"
    all_headers["Content-Length"] = str(len(body))
    if request.method == "HEAD":
        return Response(status_code=200, headers=all_headers, media_type=media_type)
    return Response(body, headers=all_headers, media_type=media_type)


def not_modified(request: Request, cached: CachedBody) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present; else If-Modified-Since.

    Either representation's tag matches: a client that holds the plain bytes and now asks for
    gzip (or the other way round) has the same content, so it gets its 304.
    """
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or cached.etag in tags or cached.gzip_etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            return False
        return cached.last_modified <= since
    return False


def accepts_gzip(header: str) -> bool:
    """Whether Accept-Encoding allows gzip: named (or *) with a q-value above 0.

    RFC 9110 12.5.3: "gzip;q=0" refuses it, so a bare substring test is not enough.
    """
    allowed: dict[str, bool] = {}
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name:
            allowed[name.strip().lower()] = quality > 0
    return allowed.get("gzip", allowed.get("x-gzip", allowed.get("*", False)))
