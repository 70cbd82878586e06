"""Response bytes (feeds, pages) built once per change and kept, with their ETag and a gzip
copy, and the conditional answers (304, HEAD, gzip) served from them."""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import format_datetime, parsedate_to_datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from vcs.storage.changes import StampWatch

# Public pages change with the phase and with staff edits: a browser or the proxy in front
# (deploy/nginx-vcs.conf micro-caches them) keeps them for a second and may show the old bytes
# for a few more while it fetches the new ones, so a change is seen within about two seconds.
PUBLIC_PAGE_CACHE_CONTROL = "public, max-age=1, stale-while-revalidate=10"
# The language is ?lang= (in the URL) or the `lang` cookie; nothing else in a request changes
# the bytes. nginx keys its cache on $cookie_lang instead of storing a copy per Cookie header.
PUBLIC_VARY = "Accept-Encoding, Cookie"

# What a build gives: (body, last modified, filename[, stale from]).
Built = tuple[bytes, dt.datetime, str] | tuple[bytes, dt.datetime, str, dt.datetime | None]


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
    # When the bytes go stale with the clock alone (the home page once a session ends).
    expires: dt.datetime | None = None
    # Last-Modified as HTTP says it, made once rather than per response.
    last_modified_http: str = ""
    # The raw headers of a 200, by how it was asked for (see respond()): made once.
    raw_200: dict[tuple[object, ...], list[tuple[bytes, bytes]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def current(self, version: tuple[object, ...], now: dt.datetime | None) -> bool:
        """Whether these bytes are what a build for `version` at `now` would give."""
        if self.version != version:
            return False
        return self.expires is None or now is None or now < self.expires


def data_version(watch: StampWatch, today: dt.date) -> tuple[object, ...]:
    """Changes whenever anything a feed or page shows may have changed (see StampWatch).

    The date is part of it because a feed's window moves with the days.
    """
    return (today, watch.value())


async def adata_version(watch: StampWatch, today: dt.date) -> tuple[object, ...]:
    """`data_version()` for async routes: the database is read in a thread, when at all."""
    stamp = watch.known()
    if stamp is None:
        stamp = await run_in_threadpool(watch.value)
    return (today, stamp)


class ResponseCache:
    """Per-process cache of response bytes by (key, language)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], CachedBody] = {}
        # One lock per key: a feed being built does not hold up a page or /api/sessions.
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        # Keys being built now; while one is, other requests get its previous bytes (below).
        self._building: set[tuple[str, str]] = set()
        self.builds = 0
        self.stale_answers = 0

    def peek(
        self, key: tuple[str, str], version: tuple[object, ...], now: dt.datetime | None = None
    ) -> CachedBody | None:
        """The cached body if it is current, without building: the event loop's fast path."""
        entry = self._entries.get(key)
        return entry if entry is not None and entry.current(version, now) else None

    async def aget(
        self,
        key: tuple[str, str],
        version: tuple[object, ...],
        build: Callable[[], Built | None],
        now: dt.datetime | None = None,
    ) -> CachedBody | None:
        """`get()` for async routes: a hit is answered at once, a build runs in a thread.

        While another request is building the key's new bytes, the previous ones are the
        answer (as a proxy does with stale-while-revalidate, which these responses allow):
        a burst that arrives during a rebuild is not queued behind it. The request that started
        the build, and any request when no build runs, gets the current bytes.
        """
        entry = self.peek(key, version, now)
        if entry is not None:
            return entry
        if key in self._building:
            previous = self._entries.get(key)
            if previous is not None:
                self.stale_answers += 1
                return previous
        return await run_in_threadpool(self.get, key, version, build, now)

    def get(
        self,
        key: tuple[str, str],
        version: tuple[object, ...],
        build: Callable[[], Built | None],
        now: dt.datetime | None = None,
    ) -> CachedBody | None:
        """The cached body if its version is current, else `build()` it once and keep it.

        `build()` gives (body, last modified, filename) and may add a fourth item: the moment
        the bytes go stale even when nothing changes (compared with `now`).
        """
        entry = self.peek(key, version, now)
        if entry is not None:
            return entry
        with self._locks.setdefault(key, threading.Lock()):
            entry = self.peek(key, version, now)
            if entry is not None:
                return entry
            self._building.add(key)
            try:
                entry = self._build(version, build)
                if entry is not None:
                    self._entries[key] = entry
                return entry
            finally:
                self._building.discard(key)

    def _build(
        self, version: tuple[object, ...], build: Callable[[], Built | None]
    ) -> CachedBody | None:
        built = build()
        if built is None:
            return None
        body, modified, filename = built[0], built[1], built[2]
        expires = built[3] if len(built) > 3 else None
        self.builds += 1
        digest = hashlib.sha256(body).hexdigest()[:32]
        return CachedBody(
            version=version,
            body=body,
            gzipped=gzip.compress(body, compresslevel=6, mtime=0),
            etag=f'"{digest}"',
            gzip_etag=f'"{digest}-gz"',
            last_modified=modified.replace(microsecond=0),
            filename=filename,
            expires=expires,
            last_modified_http=format_datetime(
                modified.replace(microsecond=0).astimezone(dt.UTC), usegmt=True
            ),
        )


class RawResponse(Response):
    """A response whose headers are given as the raw (name, value) byte pairs ASGI sends.

    Cached answers are the hot path: this skips the header dictionary, its re-encoding and the
    search for Content-Length and Content-Type that `Response.__init__` does per response.
    """

    def __init__(self, body: bytes, status_code: int, raw_headers: list[tuple[bytes, bytes]]):
        self.body = body
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.background = None


def _latin1(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def respond(
    request: Request,
    cached: CachedBody,
    media_type: str,
    cache_control: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """200 with the cached bytes (gzipped when asked), 304 when the client has them, or HEAD."""
    accept_encoding, conditional = _what_was_asked(request.scope["headers"])
    gzipped = accepts_gzip(accept_encoding)
    body = cached.gzipped if gzipped else cached.body
    key = (gzipped, media_type, cache_control, tuple((headers or {}).items()))
    raw = cached.raw_200.get(key)
    if raw is not None and not conditional:
        # The usual case, a plain GET of a cached page: its headers were made for the first one.
        return RawResponse(b"" if request.method == "HEAD" else body, 200, list(raw))
    all_headers = {
        # A 304 carries the tag a 200 to this request would have carried (RFC 9110 15.4.5).
        "ETag": cached.gzip_etag if gzipped else cached.etag,
        "Last-Modified": cached.last_modified_http
        or format_datetime(cached.last_modified.astimezone(dt.UTC), usegmt=True),
        "Cache-Control": cache_control,
        "Vary": "Accept-Encoding",
        **(headers or {}),
    }
    if not_modified(request, cached):
        return RawResponse(b"", 304, _latin1(all_headers))
    if gzipped:
        all_headers["Content-Encoding"] = "gzip"
    all_headers["Content-Length"] = str(len(body))
    if media_type.startswith("text/") and "charset=" not in media_type.lower():
        media_type += "; charset=utf-8"
    all_headers["Content-Type"] = media_type
    raw = _latin1(all_headers)
    cached.raw_200[key] = raw
    return RawResponse(b"" if request.method == "HEAD" else body, 200, list(raw))


_CONDITIONAL = (b"if-none-match", b"if-modified-since")


def _what_was_asked(raw: list[tuple[bytes, bytes]]) -> tuple[str, bool]:
    """The request's first Accept-Encoding ("" without one) and whether it is conditional, in
    one pass over the raw headers (what `request.headers` would say, without building it)."""
    accept_encoding: str | None = None
    conditional = False
    for name, value in raw:
        if name == b"accept-encoding":
            if accept_encoding is None:
                accept_encoding = value.decode("latin-1")
        elif name in _CONDITIONAL:
            conditional = True
    return accept_encoding or "", conditional


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


@functools.lru_cache(maxsize=256)
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
