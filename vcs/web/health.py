"""/healthz: the process is up and the database answers. /readyz: it is fit to serve and the
scheduler is running somewhere."""

from __future__ import annotations

import functools
import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vcs.context import Context
from vcs.scheduler import heartbeat
from vcs.storage import migrate

logger = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    database = request.app.state.context.database

    def ping() -> None:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except SQLAlchemyError as exc:
        # Anyone may ask /healthz; the driver's message names the host and database, so it goes
        # to the log, and the answer only says that the database did not answer.
        logger.warning("healthz: the database does not answer: %s", str(exc).splitlines()[0])
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


@functools.cache
def _head_revision() -> str:
    # The newest migration this code knows; reading the migration scripts once is enough.
    return migrate.head_revision()


def readiness(context: Context) -> tuple[dict[str, str], list[str]]:
    """Each check's state, and the names of the checks that fail readiness.

    database: ok or unreachable; schema: ok, or behind (or ahead of) this code's migrations;
    scheduler: ok, stale or missing (see heartbeat.state). A check that cannot be made because
    an earlier one failed is "unknown".
    """
    checks = {"database": "unknown", "schema": "unknown", "scheduler": "unknown"}
    try:
        revision = migrate.current_revision(context.database.engine)
        checks["database"] = "ok"
        if revision != _head_revision():
            checks["schema"] = "not-current"
        else:
            checks["schema"] = "ok"
            checks["scheduler"] = heartbeat.state(context)
    except SQLAlchemyError as exc:
        logger.warning("readyz: the database does not answer: %s", str(exc).splitlines()[0])
        if checks["database"] == "unknown":
            checks["database"] = "unreachable"
    required = ["database", "schema"]
    if context.settings.scheduler.required_for_readiness:
        required.append("scheduler")
    # Only the cause: an "unknown" check is never the first to fail.
    return checks, [name for name in required if checks[name] not in ("ok", "unknown")]


async def readyz(request: Request) -> Response:
    checks, failed = await run_in_threadpool(readiness, request.app.state.context)
    if failed:
        # Names of checks and states only: nothing about hosts, databases or the scheduler's pid.
        body = {"status": "unavailable", "failed": failed, "checks": checks}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ok", "failed": [], "checks": checks})


routes = [
    Route("/healthz", healthz, methods=["GET", "HEAD"], name="healthz"),
    Route("/readyz", readyz, methods=["GET", "HEAD"], name="readyz"),
]
