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

import asyncio
import contextlib
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TextIO

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
    """`logger.info(message, *args)`, cheaply: for the access log, written for every request.

    When nothing but the handler `configure_logging` installed would see the record (no other
    handler or filter on the way, the formatter one of ours), the line is formatted here,
    exactly as the formatter would, and handed to the handler to write with the others of this
    event-loop turn (`LineHandler.write_soon`): no LogRecord, no lock per line, one write per
    turn. Otherwise (a test's handler, a filter) a record goes through logging as usual, still
    without logging's stack walk to find the caller: the line names its logger anyway.
    """
    handler = _only_handler(logger)
    if handler is not None:
        formatter = handler.formatter
        assert isinstance(formatter, HumanFormatter | JsonFormatter)
        handler.write_soon(formatter.line(time.time(), "INFO", logger.name, message % args))
        return
    record = logger.makeRecord(logger.name, logging.INFO, "", 0, message, args, None)
    logger.handle(record)


def _only_handler(logger: logging.Logger) -> LineHandler | None:
    """The handler of `configure_logging`, if an info record of `logger` would reach it alone
    and be written by one of our formatters unchanged."""
    if logger.filters:
        return None
    current = logger
    while current.parent is not None:
        if current.handlers or not current.propagate:
            return None
        current = current.parent
    handlers = current.handlers
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    if (
        type(handler) is not LineHandler
        or handler.filters
        or handler.level > logging.INFO
        or type(handler.formatter) not in (HumanFormatter, JsonFormatter)
    ):
        return None
    return handler


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


def _tail() -> str:
    """The ids of the current context as a human line's tail (" [req=…]"), or ""."""
    tail = []
    current_request = request_id.get()
    if current_request is not None:
        tail.append(f"req={current_request}")
    current_job = job.get()
    if current_job is not None:
        name, run_id = current_job
        tail.append(f"job={name}" if run_id is None else f"job={name}#{run_id}")
    return f" [{' '.join(tail)}]" if tail else ""


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        exception = self.formatException(record.exc_info) if record.exc_info else None
        return self.line(
            record.created, record.levelname, record.name, record.getMessage(), exception
        )

    def line(
        self, created: float, level: str, name: str, message: str, exception: str | None = None
    ) -> str:
        """The record's line from its parts (`fast_info` writes one without a record)."""
        second = int(created)
        if self._second[0] != second:
            # The same text as formatTime(record, datefmt), made once per second.
            text = time.strftime("%Y-%m-%dT%H:%M:%S%z", self.converter(created))
            self._second = (second, text)
        entry = {
            "time": self._second[1],
            "level": level.lower(),
            "logger": name,
            "message": message,
            **ids(),
        }
        if exception is not None:
            entry["exception"] = exception
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
        return self._stamp(record.created, record.msecs)

    def _stamp(self, created: float, msecs: float) -> str:
        second = int(created)
        if self._second[0] != second:
            text = time.strftime(self.default_time_format, self.converter(created))
            self._second = (second, text)
        return self.default_msec_format % (self._second[1], msecs)  # type: ignore[operator]

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
        tail = _tail()
        if not tail:
            return line
        # After the first line, so a traceback still ends the record.
        first, newline, rest = line.partition("\n")
        return f"{first}{tail}{newline}{rest}"

    def line(self, created: float, level: str, name: str, message: str) -> str:
        """What `format` gives for a record of these parts without a traceback (`fast_info`)."""
        # LogRecord's own msecs (gh-89047).
        msecs = int((created - int(created)) * 1000) + 0.0
        return f"{self._stamp(created, msecs)} {level:<7} {name}: {one_line(message)}{_tail()}"


# Lines kept for the end of an event-loop turn at most: a turn that never ends soon (a long
# stretch of work without an await) writes them at this many.
MAX_PENDING_LINES = 256


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that also takes ready lines (`fast_info`) and writes those of one
    event-loop turn together, at the end of the turn.

    Records go out as with StreamHandler, after any lines still waiting, so the stream keeps
    the order things were logged in. Lines written outside an event loop go out at once.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        # The loop whose turn will write the pending lines (None: nothing scheduled).
        self._flush_on: asyncio.AbstractEventLoop | None = None

    def write_soon(self, line: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self.acquire()
        try:
            self._pending.append(line + self.terminator)
            if loop is None or len(self._pending) >= MAX_PENDING_LINES:
                self.flush()
                return
            if self._flush_on is loop:
                return
            self._flush_on = loop
        finally:
            self.release()
        loop.call_soon(self._end_of_turn)

    def _end_of_turn(self) -> None:
        try:
            self.flush()
        except Exception:
            # As logging does with a record it cannot write: say so on stderr, go on serving.
            self.handleError(logging.makeLogRecord({"msg": "access log lines"}))

    def _write_pending(self) -> None:
        # With the lock held.
        self._flush_on = None
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            self.stream.write(text)

    def flush(self) -> None:
        self.acquire()
        try:
            self._write_pending()
            super().flush()
        finally:
            self.release()

    def emit(self, record: logging.LogRecord) -> None:
        # handle() holds the lock.
        if self._pending:
            try:
                self._write_pending()
            except Exception:
                self.handleError(record)
        super().emit(record)


def configure_logging(settings: Settings) -> None:
    handler = LineHandler(sys.stderr)
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
