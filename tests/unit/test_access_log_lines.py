"""The access log line written without a LogRecord (`logs.fast_info`) is the line logging
would write, and lines kept for the end of an event-loop turn keep their place in the stream."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Iterator

import pytest

from vcs import logs

MESSAGE = "%s %s %d %.1f ms (%s)"
# A path with every kind of character the formatters escape.
ARGS = ("GET", "/nav\r\nx\x85\u2028\u202e\x1b[2K", 404, 1.25, "unmatched")


@contextlib.contextmanager
def root_stream(formatter: logging.Formatter) -> Iterator[tuple[logs.LineHandler, io.StringIO]]:
    """The root logger set up as `configure_logging` does, writing to a string (inside the
    test: pytest adds its own capturing handler to the root for each test phase)."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    handler = logs.LineHandler(stream)
    handler.setFormatter(formatter)
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield handler, stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


@pytest.mark.parametrize("formatter", [logs.HumanFormatter, logs.JsonFormatter])
def test_the_fast_line_is_the_line_logging_writes(formatter: type[logging.Formatter]) -> None:
    access = logging.getLogger("vcs.web.access")
    token = logs.request_id.set("0123456789abcdef0123456789abcdef")
    try:
        with root_stream(formatter()) as (handler, stream):
            assert logs._only_handler(access) is handler
            logs.fast_info(access, MESSAGE, ARGS)
        record = access.makeRecord(access.name, logging.INFO, "", 0, MESSAGE, ARGS, None)
        expected = formatter().format(record)
    finally:
        logs.request_id.reset(token)
    written = stream.getvalue()
    assert written.count("\n") == 1
    # The same second: the time stamps are compared without their milliseconds.
    assert written.rstrip("\n")[23:] == expected[23:]
    assert "0123456789abcdef0123456789abcdef" in written


def test_another_handler_on_the_way_gets_a_record() -> None:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    vcs_logger = logging.getLogger("vcs")
    keep = Keep()
    vcs_logger.addHandler(keep)
    try:
        with root_stream(logs.HumanFormatter()) as (_handler, stream):
            logs.fast_info(logging.getLogger("vcs.web.access"), MESSAGE, ARGS)
    finally:
        vcs_logger.removeHandler(keep)
    assert [record.getMessage() for record in seen] == [MESSAGE % ARGS]
    assert "GET /nav\\r\\n" in stream.getvalue()


def test_lines_of_a_turn_are_written_at_its_end_and_before_any_later_record() -> None:
    access = logging.getLogger("vcs.web.access")

    async def serve() -> list[int]:
        counts = []
        logs.fast_info(access, MESSAGE, ("GET", "/first", 200, 1.0, "home"))
        logs.fast_info(access, MESSAGE, ("GET", "/second", 200, 1.0, "home"))
        counts.append(stream.getvalue().count("\n"))
        await asyncio.sleep(0)
        counts.append(stream.getvalue().count("\n"))
        logs.fast_info(access, MESSAGE, ("GET", "/third", 200, 1.0, "home"))
        logging.getLogger("vcs.web.errors").error("after the third")
        counts.append(stream.getvalue().count("\n"))
        return counts

    with root_stream(logs.HumanFormatter()) as (_handler, stream):
        assert asyncio.run(serve()) == [0, 2, 4]
    lines = stream.getvalue().splitlines()
    assert ["/first" in lines[0], "/second" in lines[1], "/third" in lines[2]] == [True] * 3
    assert lines[3].endswith("vcs.web.errors: after the third")
