"""The ASGI app for `vcs web --workers N` (uvicorn imports it once in every worker)."""

from vcs.web.app import create_app

app = create_app()
