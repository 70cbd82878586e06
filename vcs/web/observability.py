"""Request ids, request metrics and an access log line for every request; the /metrics route.

`ObservabilityMiddleware` is the outermost of our middleware, so it also sees what the security
middleware refuses:

- each request gets an id: the client's (or the reverse proxy's) `X-Request-ID` when it is a
  short token, else a new one. It is on the response, in the scope (`vcs.request_id`) and in the
  context variable every log line reads (vcs.logs);
- each request is counted and timed under the *name* of the route that answered it (never the
  raw path, so the number of label values stays bounded), and logged in one line.

/metrics is for the monitoring system, not the internet: it answers clients whose address is in
`web.metrics_allow` and that came without a proxy's forwarding headers, or any client that sends
`Authorization: Bearer <web.metrics_token>`.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import time
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vcs import logs, metrics
from vcs.config import Settings

access_log = logging.getLogger("vcs.web.access")

REQUEST_ID_HEADER = "X-Request-ID"
# A request id from outside is taken only if it looks like one: short, no spaces or markup.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
# What a proxy adds; a request that has one did not come straight from the allowed address.
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
# Routes are grouped for dashboards by the module that serves them.
KINDS = {
    "vcs.web.feeds": "feed",
    "vcs.web.public": "page",
    "vcs.web.digests": "page",
    "vcs.web.subscriptions": "page",
    "vcs.web.api": "api",
    "vcs.web.health": "health",
    "vcs.web.observability": "metrics",
}


def new_request_id() -> str:
    """32 random hex digits (as uuid4().hex looks, without building a UUID per request)."""
    return os.urandom(16).hex()


def incoming_request_id(headers: Headers) -> str | None:
    value = headers.get(REQUEST_ID_HEADER)
    return value if value is not None and SANE_REQUEST_ID.fullmatch(value) else None


_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")


def scope_request_id(scope: Scope) -> str | None:
    """`incoming_request_id()` read straight from the raw headers (every request does this)."""
    for name, value in scope["headers"]:
        if name == _REQUEST_ID_KEY:
            text = value.decode("latin-1")
            return text if SANE_REQUEST_ID.fullmatch(text) else None
    return None


class RouteNames:
    """Route labels by endpoint: the route's name, or its path template when names repeat."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.labels: dict[int, tuple[str, str]] = {}
        named = [(r, r.name or r.path) for r in routes if isinstance(r, Route | Mount)]
        counts: dict[str, int] = {}
        for _route, name in named:
            counts[name] = counts.get(name, 0) + 1
        for route, name in named:
            endpoint = route.endpoint if isinstance(route, Route) else route.app
            label = name if counts[name] == 1 else route.path
            self.labels[id(endpoint)] = (label, _kind(route, endpoint))

    def label(self, scope: Scope) -> tuple[str, str]:
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return "unmatched", "other"
        return self.labels.get(id(endpoint), ("other", "other"))


def _kind(route: Route | Mount, endpoint: Any) -> str:
    if isinstance(route, Mount):
        return "static" if route.name == "static" else "other"
    if route.path.startswith("/staff"):
        return "staff"
    return KINDS.get(getattr(endpoint, "__module__", ""), "other")


class ObservabilityMiddleware:
    """Request id, request metrics and the access log line (module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: RouteNames | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = scope_request_id(scope) or new_request_id()
        scope["vcs.request_id"] = request_id
        token = logs.request_id.set(request_id)
        started = time.perf_counter()
        status = 500
        id_header = (_REQUEST_ID_KEY, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # No route sets this header; appending skips MutableHeaders' search.
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route, kind = self._route_names(scope).label(scope)
            metrics.request_done(route, kind, scope["method"], status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                logs.fast_info(
                    access_log,
                    "%s %s %d %.1f ms (%s)",
                    (scope["method"], loggable_path(scope), status, seconds * 1000, route),
                )
            logs.request_id.reset(token)

    def _route_names(self, scope: Scope) -> RouteNames:
        if self._routes is None:
            app = scope.get("app")
            self._routes = RouteNames(list(getattr(app, "routes", [])))
        return self._routes


def loggable_path(scope: Scope) -> str:
    """The path, without the secret of a personal address (feed, preferences, unsubscribe)."""
    path = str(scope["path"])
    params = scope.get("path_params") or {}
    if "token" in params:
        return path.replace(str(params["token"]), "…")
    return path


# --- /metrics ---------------------------------------------------------------------------------


def metrics_allowed(request: Request, settings: Settings) -> bool:
    """The bearer token, or an allowed address with no proxy in between (module doc)."""
    token = settings.web.metrics_token
    if token:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token):
            return True
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    if request.client is None:
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(address in network for network in allowed_networks(settings))


def allowed_networks(settings: Settings) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """`web.metrics_allow` as networks (config checks that each entry parses)."""
    return [
        ipaddress.ip_network(entry, strict=False) for entry in settings.web.metrics_allow.split()
    ]


def metrics_page(request: Request) -> Response:
    """Prometheus text format: this process's counters and the installation's gauges."""
    context = request.app.state.context
    if not metrics_allowed(request, context.settings):
        return PlainTextResponse("Forbidden\n", status_code=403)
    body, content_type = metrics.exposition(context.database)
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


routes = [Route("/metrics", metrics_page, methods=["GET"], name="metrics")]
