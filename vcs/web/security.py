"""Security for every response: headers (CSP and friends), the staff session cookie and CSRF.

One pure ASGI middleware does all three, so it also covers cached pages, feeds and errors
without touching the routes that make them:

- every response gets the security headers (a header a route set itself, like the stricter
  `Referrer-Policy: no-referrer` of personal feeds, is kept);
- requests under /staff get their staff session decoded from the signed cookie (see
  `staff_session()`), and answers that may not be cached;
- an unsafe request (POST, PUT, PATCH, DELETE) to a CSRF-protected path needs a token signed for
  its session, in the form field `csrf_token` or the `X-CSRF-Token` header, or it gets 403.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vcs.config import Settings
from vcs.context import Context

SESSION_COOKIE = "vcs_staff"
STAFF_PREFIX = "/staff"
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
# A form bigger than this is refused before it is read into memory for the token check.
MAX_CHECKED_BODY = 32 * 1024 * 1024


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


def content_security_policy(settings: Settings) -> str:
    """No inline script or style anywhere; players only from this site and `web.frame_sources`."""
    frames = " ".join(["'self'", *settings.web.frame_sources.split()])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            f"frame-src {frames}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "object-src 'none'",
        ]
    )


def security_headers(settings: Settings) -> list[tuple[str, str]]:
    headers = [
        ("Content-Security-Policy", content_security_policy(settings)),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("X-Frame-Options", "DENY"),
    ]
    if urlsplit(settings.base_url).scheme == "https":
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    return headers


class SecurityMiddleware:
    """Security headers on every response; the staff session and CSRF checks (module doc)."""

    def __init__(self, app: ASGIApp, context: Context) -> None:
        self.app = app
        self.context = context
        self.headers = security_headers(context.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.context.settings
        path: str = scope["path"]
        staff = is_staff_path(path)
        if staff:
            cookie = Request(scope).cookies.get(SESSION_COOKIE)
            scope["vcs.staff_session"] = decode_session(cookie, settings, self.context.clock.now())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers.setdefault(name, value)
                if staff:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        if csrf_required(scope["method"], path):
            body = await _read_body(receive)
            if body is None:
                await Response("Request too large", 413)(scope, receive, send_with_headers)
                return
            if not await self._csrf_ok(scope, body):
                response = forbidden(Request(scope), csrf=True)
                await response(scope, _replay(b"", receive), send_with_headers)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send_with_headers)

    async def _csrf_ok(self, scope: Scope, body: bytes) -> bool:
        request = Request(scope, _replay(body, _never))
        token = request.headers.get(CSRF_HEADER)
        content_type = request.headers.get("content-type", "")
        if token is None and content_type.startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            async with request.form() as form:
                value = form.get(CSRF_FIELD)
                token = value if isinstance(value, str) else None
        return csrf_valid(token, scope.get("vcs.staff_session"), self.context.settings)


def forbidden(request: Request, csrf: bool = False) -> Response:
    """403 as a page in the visitor's language, saying what to do next."""
    from vcs.web.templating import render

    return render(request, "staff/forbidden.html", status_code=403, csrf=csrf)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_CHECKED_BODY:
            return None
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
