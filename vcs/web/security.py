"""Security for every response: headers (CSP and friends), request limits, the staff session
cookie and CSRF.

One pure ASGI middleware does all of it, so it also covers cached pages, feeds and errors
without touching the routes that make them:

- every response gets the security headers (a header a route set itself, like the stricter
  `Referrer-Policy: no-referrer` of personal feeds, is kept), the 500 page of an unexpected
  error included: such an error is logged here, with the request id, and answered here;
- a request with NUL in its path, its query or its form (no address or field of ours holds one,
  and PostgreSQL refuses it in a query) gets 400; only a logged-in staff member's file upload
  may hold one (its import checks the file);
- a request body is read here, before any route parses it, and only up to `web.max_body_kib`
  (`web.max_staff_body_kib` for a logged-in staff member: the member CSV upload); a bigger one
  gets 413, so no reverse proxy is needed to keep large bodies out;
- requests under /staff get their staff session decoded from the signed cookie (see
  `staff_session()`), and answers that may not be cached;
- an unsafe request (POST, PUT, PATCH, DELETE) to a CSRF-protected path needs a token signed for
  its session, in the form field `csrf_token` or the `X-CSRF-Token` header, or it gets 403.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
import secrets
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vcs.config import Settings
from vcs.context import Context
from vcs.web.observability import loggable_path

SESSION_COOKIE = "vcs_staff"
STAFF_PREFIX = "/staff"
EMBED_PREFIX = "/embed/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# Unsafe requests under these paths need a CSRF token. A public form that wants the same
# protection adds its path here and `csrf_token` to its form.
CSRF_PROTECTED = (STAFF_PREFIX,)
# ... except these, even if a prefix above covers them. RFC 8058 one-click unsubscribe: mail
# providers POST to the List-Unsubscribe address without cookies, and the signed token in the
# address is the authority.
CSRF_EXEMPT = (re.compile(r"/unsubscribe/[^/]+"),)
FORM_TYPE = "application/x-www-form-urlencoded"

errors_log = logging.getLogger("vcs.web.errors")


@dataclass(frozen=True)
class StaffSession:
    """What the staff cookie carries: a CSRF secret, and after log-in who and since when."""

    csrf: str
    user_id: int | None = None
    epoch: int = 0
    # Seconds since the epoch, by the context's clock, when the staff member logged in.
    issued: int = 0

    @classmethod
    def anonymous(cls) -> StaffSession:
        return cls(csrf=secrets.token_urlsafe(24))

    def logged_in(self, user_id: int, epoch: int, now: dt.datetime) -> StaffSession:
        """A fresh session for a log-in: a new CSRF secret, so a planted cookie is worthless."""
        return StaffSession(secrets.token_urlsafe(24), user_id, epoch, int(now.timestamp()))


def _sessions(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.signing_key, salt="vcs.staff-session")


def _tokens(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.signing_key, salt="vcs.csrf")


def decode_session(cookie: str | None, settings: Settings, now: dt.datetime) -> StaffSession | None:
    """The session in a cookie; None when it is missing or not signed with our key.

    An expired log-in keeps its CSRF secret (forms open in other tabs stay valid) but loses its
    user.
    """
    if not cookie:
        return None
    try:
        data = _sessions(settings).loads(cookie)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str):
        return None
    session = StaffSession(csrf=data["c"])
    user_id, epoch, issued = data.get("u"), data.get("e"), data.get("t")
    if isinstance(user_id, int) and isinstance(epoch, int) and isinstance(issued, int):
        age = now.timestamp() - issued
        if -300 <= age <= settings.staff.session_hours * 3600:
            session = replace(session, user_id=user_id, epoch=epoch, issued=issued)
    return session


def encode_session(session: StaffSession, settings: Settings) -> str:
    data: dict[str, Any] = {"c": session.csrf}
    if session.user_id is not None:
        data.update(u=session.user_id, e=session.epoch, t=session.issued)
    return str(_sessions(settings).dumps(data))


def set_session_cookie(response: Response, session: StaffSession, settings: Settings) -> None:
    """HttpOnly, SameSite=Lax, Secure behind https, only sent to /staff; it ends with the log-in."""
    response.set_cookie(
        SESSION_COOKIE,
        encode_session(session, settings),
        max_age=settings.staff.session_hours * 3600,
        path=STAFF_PREFIX,
        httponly=True,
        samesite="lax",
        secure=settings.base_url.startswith("https://"),
    )


def staff_session(request: Request) -> StaffSession | None:
    """The session the middleware read from the request's cookie (None: no valid cookie)."""
    session: StaffSession | None = request.scope.get("vcs.staff_session")
    return session


def csrf_token(session: StaffSession, settings: Settings) -> str:
    """The token staff forms carry: the session's CSRF secret, signed."""
    return str(_tokens(settings).dumps(session.csrf))


def csrf_valid(token: str | None, session: StaffSession | None, settings: Settings) -> bool:
    if not token or session is None:
        return False
    try:
        secret = _tokens(settings).loads(token)
    except BadSignature:
        return False
    return isinstance(secret, str) and hmac.compare_digest(secret, session.csrf)


def csrf_required(method: str, path: str) -> bool:
    if method in SAFE_METHODS:
        return False
    if any(pattern.fullmatch(path) for pattern in CSRF_EXEMPT):
        return False
    return any(path == prefix or path.startswith(prefix + "/") for prefix in CSRF_PROTECTED)


def is_staff_path(path: str) -> bool:
    return path == STAFF_PREFIX or path.startswith(STAFF_PREFIX + "/")


def content_security_policy(settings: Settings, frame_ancestors: str = "'none'") -> str:
    """No inline script or style anywhere; players only from this site and `web.frame_sources`;
    framed by nobody, or by `frame_ancestors` (the widgets under /embed/)."""
    frames = " ".join(["'self'", *settings.web.frame_sources.split()])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            f"frame-src {frames}",
            f"frame-ancestors {frame_ancestors}",
            "base-uri 'none'",
            "form-action 'self'",
            "object-src 'none'",
        ]
    )


def is_embed_path(path: str) -> bool:
    """The widgets other sites may frame (vcs.web.embed)."""
    return path.startswith(EMBED_PREFIX)


def security_headers(settings: Settings, embed: bool = False) -> list[tuple[str, str]]:
    """The headers of every response; `embed`: of a widget, which the origins in
    `embed.allowed_origins` may frame (frame-ancestors, and no X-Frame-Options, which knows no
    list of origins and would win in older browsers)."""
    ancestors = " ".join(["'self'", *settings.embed.allowed_origins.split()])
    headers = [
        (
            "Content-Security-Policy",
            content_security_policy(settings, ancestors if embed else "'none'"),
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ]
    if not embed:
        headers.append(("X-Frame-Options", "DENY"))
    if urlsplit(settings.base_url).scheme == "https":
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    return headers


class SecurityMiddleware:
    """Security headers on every response; request limits, the staff session and CSRF checks,
    the 500 page (module doc)."""

    def __init__(self, app: ASGIApp, context: Context) -> None:
        self.app = app
        self.context = context
        # As raw pairs, encoded once: they are added to every response.
        self.headers = raw_headers(security_headers(context.settings))
        self.embed_headers = raw_headers(security_headers(context.settings, embed=True))
        self.max_body = context.settings.web.max_body_kib * 1024
        self.max_staff_body = context.settings.web.max_staff_body_kib * 1024

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        staff = is_staff_path(scope["path"])
        own_headers = self.embed_headers if is_embed_path(scope["path"]) else self.headers
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                add_missing_headers(message, own_headers)
                if staff:
                    MutableHeaders(scope=message)["Cache-Control"] = "no-store"
            await send(message)

        try:
            await self._checked(scope, receive, send_with_headers, staff)
        except HTTPException as exc:
            # Raised by the checks themselves (a malformed multipart form in the CSRF check).
            if started:
                raise
            await _error(scope, exc.status_code)(scope, _never, send_with_headers)
        except Exception:
            if started:
                raise
            # Logged here, inside the request's context, so the line carries its request id;
            # the visitor gets the 500 page with every header, not the server's bare one.
            errors_log.exception(
                "unexpected error answering %s %s", scope["method"], loggable_path(scope)
            )
            await _error(scope, 500)(scope, _never, send_with_headers)

    async def _checked(self, scope: Scope, receive: Receive, send: Send, staff: bool) -> None:
        if has_nul(scope):
            await _error(scope, 400)(scope, receive, send)
            return
        if staff:
            cookie = Request(scope).cookies.get(SESSION_COOKIE)
            scope["vcs.staff_session"] = decode_session(
                cookie, self.context.settings, self.context.clock.now()
            )
        if scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            staff_member = _logged_in(scope)
            limit = self.max_staff_body if staff_member else self.max_body
            body = await _read_body(headers, receive, limit)
            if isinstance(body, int):
                await _error(scope, body)(scope, _never, send)
                return
            if _nul_in_form(headers.get("content-type", ""), body, files=staff_member):
                await _error(scope, 400)(scope, _never, send)
                return
            if csrf_required(scope["method"], scope["path"]) and not await self._csrf_ok(
                scope, body
            ):
                response = forbidden(Request(scope), csrf=True)
                await response(scope, _replay(b"", receive), send)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _csrf_ok(self, scope: Scope, body: bytes) -> bool:
        request = Request(scope, _replay(body, _never))
        token = request.headers.get(CSRF_HEADER)
        content_type = request.headers.get("content-type", "")
        if token is None and content_type.startswith((FORM_TYPE, "multipart/form-data")):
            async with request.form() as form:
                value = form.get(CSRF_FIELD)
                token = value if isinstance(value, str) else None
        return csrf_valid(token, scope.get("vcs.staff_session"), self.context.settings)


def raw_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """`headers` as the (lower-case name, value) byte pairs ASGI sends."""
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def add_missing_headers(message: Message, headers: list[tuple[bytes, bytes]]) -> None:
    """Each of `headers` (`raw_headers`) that the response does not set itself, added in one
    pass over the raw list (this runs for every response, cached pages included)."""
    raw = list(message.get("headers", ()))
    present = {name.lower() for name, _value in raw}
    raw.extend(pair for pair in headers if pair[0] not in present)
    message["headers"] = raw


def has_nul(scope: Scope) -> bool:
    """Whether the path or the query holds NUL (%00), which no address of ours has."""
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query


def _logged_in(scope: Scope) -> bool:
    """Whether the request carries a staff member's log-in (signed; checked again by the route)."""
    session: StaffSession | None = scope.get("vcs.staff_session")
    return session is not None and session.user_id is not None


def _nul_in_form(content_type: str, body: bytes, files: bool) -> bool:
    """Whether a body holds NUL: raw or as %00 in a urlencoded form, raw in any other body but a
    logged-in staff member's multipart upload (`files`), whose file may hold anything and is
    checked by its import."""
    if content_type.startswith(FORM_TYPE):
        return b"%00" in body or b"\x00" in body
    if files and content_type.startswith("multipart/form-data"):
        return False
    return b"\x00" in body


def _error(scope: Scope, status: int) -> Response:
    """The error page for `status`; plain text if even that cannot be made."""
    from vcs.web.templating import error_response

    try:
        return error_response(Request(scope), status)
    except Exception:
        errors_log.exception("the error page for %d could not be made", status)
        return PlainTextResponse(f"{status}\n", status_code=status)


def forbidden(request: Request, csrf: bool = False) -> Response:
    """403 as a page in the visitor's language, saying what to do next."""
    from vcs.web.templating import render

    return render(request, "staff/forbidden.html", status_code=403, csrf=csrf)


async def _read_body(headers: Headers, receive: Receive, limit: int) -> bytes | int:
    """The whole body, or the status to refuse it with: 413 when it is bigger than `limit`
    (told by Content-Length before a byte is read, else found while reading), 400 when the
    Content-Length is not a number."""
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.isdigit() or not declared.isascii():
            return 400
        # By its length first: int() itself refuses thousands of digits.
        if len(declared) > 18 or int(declared) > limit:
            return 413
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return 413
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, then: Receive) -> Receive:
    """A receive() that hands the already-read body to the app, then listens to the server's."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then()

    return receive


async def _never() -> Message:
    return {"type": "http.disconnect"}
