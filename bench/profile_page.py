"""Where a cached page's time goes: the ASGI app driven by a loop in this process, no server.

On a throw-away installation (bench/session_page.py's `populate`) it builds the app as `vcs web`
does (logging configured, written to /dev/null), sends N requests for a path straight to the
ASGI callable, prints the CPU microseconds per request, the same for a bare Starlette app
returning the same bytes, and with `--profile` the cProfile table of the vcs run.

    .venv/bin/python -m bench.profile_page [--path /] [--requests 5000] [--profile]

Per-request CPU here leaves out the HTTP server (uvicorn's share is the same for both apps), so
the two figures say how much of the page's cost is vcs's own.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import pstats
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message

from bench import load
from bench.session_page import populate


def scope_for(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }


async def drive(app: ASGIApp, path: str, count: int) -> bytes:
    """`count` GET requests to `app`; the last body."""
    body = b""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal body
        if message["type"] == "http.response.body":
            body = message.get("body", b"")

    for _ in range(count):
        await app(scope_for(path), receive, send)
    return body


def cpu_per_request(app: ASGIApp, path: str, count: int) -> float:
    """Microseconds of CPU per request, best of three runs."""
    asyncio.run(drive(app, path, 200))
    best = float("inf")
    for _ in range(3):
        began = time.process_time()
        asyncio.run(drive(app, path, count))
        best = min(best, (time.process_time() - began) / count * 1e6)
    return best


def bare_app(body: bytes) -> Starlette:
    async def page(request: Request) -> Response:
        return Response(body, media_type="text/html; charset=utf-8")

    return Starlette(routes=[Route("/{path:path}", page)])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--path", help="default: the chosen session's page")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vcs-bench-profile-"))
    try:
        environ, _settings, _now, chosen = load.install(folder, populate)
        os.environ.update(environ)
        from vcs.config import load_settings
        from vcs.context import Context
        from vcs.logs import configure_logging
        from vcs.web.app import create_app

        settings = load_settings(os.environ)
        configure_logging(settings)
        with open(os.devnull, "w") as devnull:
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler):
                    handler.setStream(devnull)
            context = Context.from_settings(settings)
            app = create_app(context)
            path = args.path or f"/sessions/{chosen.session_id}"
            body = asyncio.run(drive(app, path, 2))
            mine = cpu_per_request(app, path, args.requests)
            bare = cpu_per_request(bare_app(body), path, args.requests)
            load.say(f"{path}: {len(body):,} bytes")
            load.say(f"  vcs app:            {mine:8.1f} us CPU per request")
            load.say(f"  bare Starlette app: {bare:8.1f} us CPU per request")
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                asyncio.run(drive(app, path, args.requests))
                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
            context.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
