"""/healthz: the process is up and the database answers."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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


routes = [Route("/healthz", healthz, methods=["GET", "HEAD"], name="healthz")]
