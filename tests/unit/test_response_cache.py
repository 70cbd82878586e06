"""The per-process response cache: one build per key and version, keys built independently,
and the previous bytes for requests that arrive while a rebuild is running."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

from vcs.web.cache import Built, ResponseCache

MODIFIED = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
WAIT = 10  # seconds; only a bound for a broken cache, never reached when it works


def built(body: bytes) -> Built:
    return body, MODIFIED, "x"


class Blocked:
    """A build that waits until released, so a test can act while it runs."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.started = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def __call__(self) -> Built:
        self.started.set()
        try:
            assert self.release.wait(WAIT)
            return built(self.body)
        finally:
            self.finished.set()


def start(
    cache: ResponseCache, key: tuple[str, str], version: tuple[object, ...], build: Blocked
) -> tuple[threading.Thread, list[object]]:
    found: list[object] = []
    thread = threading.Thread(target=lambda: found.append(cache.get(key, version, build)))
    thread.start()
    assert build.started.wait(WAIT)
    return thread, found


def test_a_request_during_a_rebuild_gets_the_previous_bytes_and_then_the_new() -> None:
    cache = ResponseCache()
    key = ("api:", "")
    assert cache.get(key, (1,), lambda: built(b"old")).body == b"old"  # type: ignore[union-attr]
    rebuild = Blocked(b"new")
    thread, found = start(cache, key, (2,), rebuild)

    def fail() -> Built:
        raise AssertionError("a second build of the same key and version")

    during = asyncio.run(cache.aget(key, (2,), fail))
    assert during is not None and during.body == b"old"
    assert cache.stale_answers == 1
    rebuild.release.set()
    thread.join(WAIT)
    after = asyncio.run(cache.aget(key, (2,), fail))
    assert after is not None and after.body == b"new"
    assert found[0] is after
    assert cache.builds == 2


def test_a_key_never_built_waits_for_its_first_build() -> None:
    cache = ResponseCache()
    first = Blocked(b"first")
    thread, _ = start(cache, ("home", "lv"), (1,), first)
    threading.Timer(0.2, first.release.set).start()
    # No previous bytes to give: this request waits for the build (and does not build again).
    answer = asyncio.run(cache.aget(("home", "lv"), (1,), lambda: built(b"second")))
    thread.join(WAIT)
    assert answer is not None and answer.body == b"first"
    assert cache.builds == 1


def test_a_slow_build_of_one_key_does_not_hold_up_another() -> None:
    cache = ResponseCache()
    feed = Blocked(b"feed")
    thread, _ = start(cache, ("all", "lv"), (1,), feed)
    try:
        # Built at once, while the feed's build still runs (a shared lock would wait WAIT s
        # and then fail in Blocked).
        def api_build() -> Built:
            assert not feed.finished.is_set()
            return built(b"[]")

        api = cache.get(("api:", ""), (1,), api_build)
        assert api is not None and api.body == b"[]"
    finally:
        feed.release.set()
        thread.join(WAIT)
