"""Benchmark of the livestream page: one upcoming session's `/sessions/{id}`, served hot.

What it measures, on a throw-away installation (SQLite in a temporary folder, no scheduler):
the demo network (`vcs demo`: its series, sessions, members and a digest draft), in which it
picks an upcoming public session of a hybrid series with a funding statement, gives it a topic
and speakers the way staff do, and a provisioned livestream row (a YouTube broadcast, created).
The page of that session is what a viewer opens before it starts: series, title, topic, speakers,
date and time, place, organiser, funding statement, the countdown, OpenGraph tags and JSON-LD.

Before the load it checks that vcs answers the page from its page cache: two responses carry the
same strong ETag and bytes, the second is much faster than the first, If-None-Match gives 304,
and the bytes nginx serves (saved under the same path, as text/html) are identical. Then
`vcs web --workers 1` and nginx (one worker) are loaded in turn with `wrk -t2 -c64 -d10s
--latency` on loopback (bench/load.py, shared with bench/feeds.py). It prints requests per second,
p99 latency, the CPUs the server, wrk and every other process kept busy, the peak RSS of the vcs
worker and the ratio vcs/nginx. Issue 5 sets no goal for this page: nothing passes or fails on
the ratio; the 0.5x goal of the feeds (issue 4) is printed for reference only. `--rounds N`
alternates N runs per server and compares the best of each.

Run it from the project root with `make bench-page` (installs nginx and wrk with apt-get when they
are missing and you are root), or `.venv/bin/python -m bench.session_page` when they are
installed. It exits 0 when everything ran and non-zero when something failed. `--keep` keeps the
temporary folder (database, logs, nginx.conf, the saved page) for a look afterwards.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session as Db

from bench import load
from bench.feeds import GOAL_RATIO
from bench.load import mib, say
from vcs.context import Context
from vcs.demo import SPEAKERS, TOPICS, load_demo
from vcs.planning.sessions import update_details
from vcs.storage.models import Series, Session

# Far enough ahead that the countdown counts days, and away from the moment its number of days
# changes: the countdown is part of the page's cache version, so a change during the load would
# rebuild the page (and the ETag check after the load would fail).
MIN_AHEAD = dt.timedelta(days=3)
DAY = dt.timedelta(days=1)
COUNTDOWN_MARGIN = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Chosen:
    session_id: int
    series_slug: str
    start: dt.datetime
    timezone: str
    place: str
    funded: bool
    speakers: list[str]
    livestream: str
    series: int
    sessions: int


def choose(db: Db, now: dt.datetime) -> Session:
    """An upcoming public session; one of a hybrid series with a funding statement if there is."""
    candidates = db.scalars(
        select(Session)
        .join(Series)
        .where(
            Series.visibility == "public",
            Session.status == "scheduled",
            Session.start >= now + MIN_AHEAD,
        )
        .order_by(Session.start, Session.id)
    ).all()
    steady = [
        s for s in candidates if COUNTDOWN_MARGIN <= (s.start - now) % DAY <= DAY - COUNTDOWN_MARGIN
    ]
    if not steady:
        raise load.BenchError(f"the demo has no public session {MIN_AHEAD.days} days ahead")
    for session in steady:
        place = session.place or session.series.place
        if session.series.funding_text_lv and place.get("kind") == "hybrid":
            return session
    return steady[0]


def populate(context: Context, now: dt.datetime) -> Chosen:
    """The demo network, and one session dressed as fully as a page can show."""
    for _line in load_demo(context):
        pass
    with context.database.session() as db:
        session = choose(db, now)
        number = session.id
        topic_lv, topic_en = TOPICS[number % len(TOPICS)]
        speakers = [SPEAKERS[i % len(SPEAKERS)] for i in (number, number + 1)]
        if not session.topic_lv:
            update_details(db, session, "bench", topic_lv=topic_lv, topic_en=topic_en)
        if not session.speakers:
            update_details(db, session, "bench", speakers=speakers)
        session.livestream = load.provisioned_livestream(f"{session.id:05d}", session.revision)
        place = session.place or session.series.place
        return Chosen(
            session_id=session.id,
            series_slug=session.series.slug,
            start=session.start,
            timezone=session.series.timezone,
            place=f"{place.get('kind', 'online')} {place.get('venue', '')}".strip(),
            funded=bool(session.series.funding_text_lv),
            speakers=[s["name"] for s in session.speakers],
            livestream=f"{session.livestream.provider} ({session.livestream.status})",
            series=db.scalar(select(func.count(Series.id))) or 0,
            sessions=db.scalar(select(func.count(Session.id))) or 0,
        )


def check_page(body: bytes, chosen: Chosen) -> None:
    """The bytes under load are the whole page of the chosen session, not an error page."""
    text = body.decode()
    for marker in ("application/ld+json", 'property="og:title"', *chosen.speakers):
        if marker not in text:
            raise load.BenchError(f"the page of session {chosen.session_id} lacks {marker!r}")


def measure(folder: Path, rounds: int) -> int:
    nginx, wrk = load.tool("nginx"), load.tool("wrk")
    environ, settings, now, chosen = load.install(folder, populate)
    local = chosen.start.astimezone(settings.tz)
    say(f"vcs session page benchmark, {now:%Y-%m-%d %H:%M} UTC")
    load.say_machine(nginx, wrk)
    say(f"data: the demo network, {chosen.series} series, {chosen.sessions} sessions")
    say(
        f"page: session {chosen.session_id} of {chosen.series_slug}, {local:%Y-%m-%d %H:%M} "
        f"{chosen.timezone} ({(chosen.start - now).days} days ahead: upcoming, countdown); "
        f"place {chosen.place}; {len(chosen.speakers)} speakers; "
        f"funding statement {'yes' if chosen.funded else 'no'}; livestream {chosen.livestream}"
    )

    target = load.Target(f"/sessions/{chosen.session_id}", "text/html; charset=utf-8", "page")
    comparison = load.compare(folder, environ, target, (nginx, wrk), rounds)
    check_page(comparison.first.body, chosen)
    summary = load.summarise(comparison, rounds)
    say("goal: none; issue 5 sets no pass/fail goal for this page (figures for the note only)")
    above = "above" if summary.ratio >= GOAL_RATIO else "below"
    say(
        f"for reference only: the feeds goal (issue 18) is ratio >= {GOAL_RATIO} with one worker; "
        f"this page is {above} it"
    )
    load.warn_if_busy(summary)
    say()
    say("reference numbers (quote these):")
    say(
        f"  page: {target.path}, {len(comparison.first.body):,} bytes of HTML, "
        f"first (uncached) response {comparison.first.seconds * 1000:.0f} ms"
    )
    say(
        f"  server CPUs busy: vcs {summary.vcs.server_cpus:.2f}, "
        f"nginx {summary.ref.server_cpus:.2f}; vcs worker peak RSS "
        f"{mib(comparison.rss_after_mib)} after the load"
    )
    say(f"{summary.quote()}; no goal (feeds: >= {GOAL_RATIO}, for reference only)")
    return 0


def main() -> None:
    args = load.parse(load.command_line("python -m bench.session_page", __doc__ or ""))
    load.run(measure, args.keep, args.rounds)


if __name__ == "__main__":
    main()
