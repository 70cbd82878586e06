"""Log lines carry the ids of what they belong to: a web request's id (the same as its
X-Request-ID response header), or a scheduler job's name and run id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from apscheduler.triggers.interval import IntervalTrigger
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from vcs.context import Context
from vcs.logs import HumanFormatter, JsonFormatter
from vcs.scheduler.registry import JobSpec
from vcs.scheduler.runs import run_job
from vcs.web.app import create_app
from vcs.web.observability import ObservabilityMiddleware


@contextmanager
def log_lines(formatter: logging.Formatter) -> Iterator[list[str]]:
    """What the vcs loggers write meanwhile, formatted as it is written (in its context)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("vcs")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    lines: list[str] = []
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        lines.extend(stream.getvalue().splitlines())


def test_a_request_log_line_carries_the_request_id_of_the_response_header(
    context: Context,
) -> None:
    client = TestClient(create_app(context))
    with log_lines(JsonFormatter()) as lines:
        response = client.get("/calendar.ics")
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 32
    entries = [json.loads(line) for line in lines]
    access = [e for e in entries if e["logger"] == "vcs.web.access"]
    assert len(access) == 1
    assert access[0]["request_id"] == request_id
    assert access[0]["message"].startswith("GET /calendar.ics 200 ")
    assert access[0]["message"].endswith("(calendar_ics)")


def test_a_sane_incoming_request_id_is_kept_and_any_other_replaced(context: Context) -> None:
    client = TestClient(create_app(context))
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a.42"
    for bad in ("has spaces in it", "<script>", "x" * 200):
        replaced = client.get("/healthz", headers={"X-Request-ID": bad})
        assert replaced.headers["X-Request-ID"] != bad
        assert len(replaced.headers["X-Request-ID"]) == 32
    # Refused and missing pages get one too.
    assert client.get("/no-such-page").headers["X-Request-ID"]


def test_lines_logged_inside_a_route_carry_its_request_id() -> None:
    def endpoint(request: Request) -> PlainTextResponse:
        # A sync endpoint runs in the thread pool; the id goes along with it.
        logging.getLogger("vcs.test").warning("inside the route")
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[Route("/work", endpoint)], middleware=[Middleware(ObservabilityMiddleware)]
    )
    with log_lines(JsonFormatter()) as lines:
        response = TestClient(app).get("/work", headers={"X-Request-ID": "req-1"})
    inside = [json.loads(line) for line in lines if "inside the route" in line]
    assert inside[0]["request_id"] == "req-1" == response.headers["X-Request-ID"]


def test_a_job_log_lines_carry_the_job_name_and_run_id(context: Context) -> None:
    def work(_context: Context) -> str:
        logging.getLogger("vcs.test").info("half way")
        return "done 3"

    spec = JobSpec("log-ids", work, "", lambda s: IntervalTrigger(hours=1))
    with log_lines(JsonFormatter()) as lines:
        run = run_job(context, spec)
    entries = [json.loads(line) for line in lines]
    assert [e["message"] for e in entries] == [
        f"job log-ids started (run {run.id})",
        "half way",
        "job log-ids done: done 3",
    ]
    assert all(e["job"] == "log-ids" and e["job_run"] == run.id for e in entries)
    assert not any("request_id" in e for e in entries)

    with log_lines(HumanFormatter()) as human:
        again = run_job(context, spec)
    assert human[1].endswith(f"vcs.test: half way [job=log-ids#{again.id}]")
    # Outside a job (and a request), lines have no tail.
    with log_lines(HumanFormatter()) as plain:
        logging.getLogger("vcs.test").info("idle")
    assert plain[0].endswith("vcs.test: idle")


def test_a_failing_job_logs_its_traceback_after_the_ids(context: Context) -> None:
    def broken(_context: Context) -> str:
        raise RuntimeError("no relay")

    spec = JobSpec("log-broken", broken, "", lambda s: IntervalTrigger(hours=1))
    with log_lines(HumanFormatter()) as lines:
        run = run_job(context, spec)
    failed = next(i for i, line in enumerate(lines) if "job log-broken failed" in line)
    assert lines[failed].endswith(f"[job=log-broken#{run.id}]")
    assert lines[failed + 1] == "Traceback (most recent call last):"
    assert lines[-1] == "RuntimeError: no relay"
