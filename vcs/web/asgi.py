"""The ASGI app for `vcs web --workers N` (uvicorn imports it once in every worker)."""

from vcs.config import load_settings
from vcs.context import Context
from vcs.logs import configure_logging
from vcs.web.app import create_app

settings = load_settings()
configure_logging(settings)
app = create_app(Context.from_settings(settings))
