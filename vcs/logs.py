"""Logging: human lines at a terminal, or one JSON object per line for log collectors.

Every line carries the ids of what it belongs to, read from context variables: the request id
(set by vcs.web.observability for each request) and the job name and run id (set by
vcs.scheduler.runs for each job run). JSON lines have them as `request_id`, `job` and `job_run`;
human lines end with `[req=…]` or `[job=name#run]`.

A record is one line (a traceback follows it, indented by Python): a message that holds a line
break or another control character (a request path with %0d%0a in it, a name from a form) is
written with that character escaped (`\\r`, `\\x85`, `\\u2028`), so nobody can forge a second line.
Bidirectional controls are escaped too, since a terminal would reorder the rest of the line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar

from vcs.config import Settings

# The id of the web request being handled (None outside a request).
request_id: ContextVar[str | None] = ContextVar("vcs_request_id", default=None)
# The scheduler job being run: (name, run id), None outside a job run.
job: ContextVar[tuple[str, int | None] | None] = ContextVar("vcs_job", default=None)

# What would end a line or reorder it in a log viewer: C0 and C1 controls (CR, LF, NEL, ...),
# the Unicode line and paragraph separators, the bidirectional embeddings, overrides, isolates.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# The same outside C0, which json.dumps escapes itself.
UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def fast_info(logger: logging.Logger, message: str, args: tuple[object, ...]) -> None:
    """`logger.info(message, *args)` without looking up the caller's file and line.

    For the access log, written for every request: logging's stack walk to find the caller
    costs more than the rest of the record, and the line names its logger anyway.
    """
    record = logger.makeRecord(logger.name, logging.INFO, "", 0, message, args, None)
    logger.handle(record)


def one_line(text: str) -> str:
    """`text` with every character of UNSAFE written as its Python escape."""
    return UNSAFE.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


@contextlib.contextmanager
def job_context(name: str, run_id: int | None) -> Iterator[None]:
    """Log lines written inside this block carry the job's name and run id."""
    token = job.set((name, run_id))
    try:
        yield
    finally:
        job.reset(token)


def ids() -> dict[str, object]:
    """The request and job ids of the current context, as JSON fields (only those set)."""
    fields: dict[str, object] = {}
    current_request = request_id.get()
    if current_request is not None:
        fields["request_id"] = current_request
    current_job = job.get()
    if current_job is not None:
        fields["job"] = current_job[0]
        if current_job[1] is not None:
            fields["job_run"] = current_job[1]
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **ids(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        line = json.dumps(entry, ensure_ascii=False)
        # Only inside strings, where a \\u escape means the same character.
        return UNSAFE_IN_JSON.sub(lambda found: f"\\u{ord(found.group()):04x}", line)


class HumanFormatter(logging.Formatter):
    """`time LEVEL logger: message [req=…]` — the ids in a short tail, only when set."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # The same as logging's, with the seconds part made once per second: a busy web worker
        # writes an access line per request.
        if datefmt is not None or self.default_msec_format is None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if self._second[0] != second:
            text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = (second, text)
        return self.default_msec_format % (self._second[1], record.msecs)

    def formatMessage(self, record: logging.LogRecord) -> str:
        # The message only: the traceback logging appends after it keeps its lines.
        message = record.message
        record.message = one_line(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tail = []
        current_request = request_id.get()
        if current_request is not None:
            tail.append(f"req={current_request}")
        current_job = job.get()
        if current_job is not None:
            name, run_id = current_job
            tail.append(f"job={name}" if run_id is None else f"job={name}#{run_id}")
        if not tail:
            return line
        # After the first line, so a traceback still ends the record.
        first, newline, rest = line.partition("\n")
        return f"{first} [{' '.join(tail)}]{newline}{rest}"


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(HumanFormatter())
    # No formatter of ours shows the thread or the process: logging's own advice for speed is
    # not to collect them for every record (the access log writes one per request).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log.level.upper())
    # APScheduler narrates every tick at info.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
