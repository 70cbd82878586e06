"""The reference for the page benchmark: a bare Starlette app returning saved bytes.

`BENCH_BARE_DIR` names a folder of files saved by bench/page.py: `<n>.body` holds the bytes of
one path and `<n>.meta` its path and Content-Type on two lines. The app answers each path with
its bytes and nothing else: no middleware of ours, no database, no logging. Served by uvicorn
exactly as `vcs web --workers 1` is (same loop, same HTTP parser, no access log).
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


def saved(folder: Path) -> dict[str, tuple[bytes, str]]:
    """Path -> (bytes, Content-Type), as bench/page.py saved them."""
    found: dict[str, tuple[bytes, str]] = {}
    for meta in sorted(folder.glob("*.meta")):
        path, media_type = meta.read_text().splitlines()[:2]
        found[path] = (meta.with_suffix(".body").read_bytes(), media_type)
    return found


PAGES = saved(Path(os.environ.get("BENCH_BARE_DIR", ".")))


async def page(request: Request) -> Response:
    hit = PAGES.get(request.url.path)
    if hit is None:
        return PlainTextResponse("not found\n", status_code=404)
    body, media_type = hit
    return Response(body, media_type=media_type)


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n")


app = Starlette(routes=[Route("/healthz", healthz), Route("/{path:path}", page)])
