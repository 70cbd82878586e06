"""The ASGI app for `vcs web --workers N` (uvicorn imports it once in every worker).

It refuses, like `vcs web`, to serve with the development secret behind an https base_url or on
an address others reach: `web.host` must name the address when uvicorn is started by hand
(`vcs web` sets it for its workers).
"""

import sys

from vcs.config import ConfigError, check_serving, load_settings
from vcs.context import Context
from vcs.logs import configure_logging
from vcs.mail import dkim
from vcs.web.app import create_app

try:
    settings = load_settings()
    dkim.check_settings(settings)
    check_serving(settings, settings.web.host)
except ConfigError as exc:
    print(f"vcs: {exc}", file=sys.stderr)
    raise SystemExit(1) from None
configure_logging(settings)
app = create_app(Context.from_settings(settings))
