"""Benchmark of the calendar feeds: a 2,000-session /calendar.ics, built cold and served hot.

What it measures, on a throw-away installation (SQLite in a temporary folder, no scheduler):

1. Cold build. 2,000 sessions in 10 public series (national and regional; some with topics,
   speakers, another venue, a recording, a provisioned livestream; a few moved or cancelled) lie
   inside the feed window. A fresh Python process then builds `/calendar.ics` the way the web app
   does (`network_feed(...)` and `build_calendar(...)`): the wall time of that first build (split
   into the feed's rows query, and the assembly: the sessions not cached read and rendered), the
   peak traced memory of a build (tracemalloc) and the process's max RSS (getrusage), plus the
   byte size and the number of VEVENTs.
2. Serving. `vcs web --workers 1` (the deployment command: one uvicorn worker, its access log
   on) and nginx (one worker process, no gzip, no access log, sendfile) serve the same bytes; each
   is loaded in turn with `wrk -t2 -c64 -d10s --latency` on loopback. It prints requests per
   second, p99 latency, the ratio vcs/nginx and whether the goal of issue 18 is met: the cached
   feed is served at 0.6x nginx or better with one worker. It also prints how many CPUs the
   server, wrk and every other process kept busy during each run: the machine is shared, and a
   run disturbed by other work (a warning says so) compares nothing. `--rounds N` alternates N
   runs per server and compares the best of each. This part is bench/load.py, which
   bench/session_page.py uses for the livestream page.

Before the load it checks that vcs answers from its feed cache: two responses carry the same
strong ETag and bytes, the second is much faster than the first, If-None-Match gives 304, and the
bytes nginx serves are identical.

Run it from the project root with `make bench` (installs nginx and wrk with apt-get when they are
missing and you are root), or `.venv/bin/python -m bench.feeds` when they are installed. It exits
0 when everything ran, whether or not the goal is met, and non-zero when something failed.
`--keep` keeps the temporary folder (database, logs, nginx.conf) for a look afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import resource
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bench import load
from bench.load import (
    ROOT,
    BenchError,
    Target,
    command_line,
    compare,
    install,
    mib,
    parse,
    provisioned_livestream,
    run,
    say,
    say_machine,
    summarise,
    tool,
    warn_if_busy,
)
from vcs.config import load_settings
from vcs.context import Context
from vcs.feeds.calendars import EVENT_TEXTS, build_calendar, network_feed, window
from vcs.network import read_network
from vcs.planning.sessions import update_details
from vcs.storage.models import Region, Series, Session

SESSIONS = 2000
FEED_PATH = "/calendar.ics"
# Issue 18: at wrk -t2 -c64, a load that saturates the server (issue 4 had 0.5 at -t1 -c16).
GOAL_RATIO = 0.6
COLD_BUILD_GOAL_S = 0.3
CHANGED_BUILD_GOAL_S = 0.05
GOAL = f"goal: ratio >= {GOAL_RATIO} with one worker"
RIGA = ZoneInfo("Europe/Riga")


# --- the installation -----------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesSpec:
    slug: str
    title_lv: str
    title_en: str
    region: str | None
    place: dict[str, str]
    minutes: int
    funded: bool = False


SERIES = [
    SeriesSpec(
        "jaunatnes-lietu-videokonferences",
        "Jaunatnes lietu speciālistu videokonferences",
        "Youth work videoconferences",
        None,
        {"kind": "online"},
        90,
    ),
    SeriesSpec(
        "jaunatnes-politikas-forums",
        "Jaunatnes politikas forums",
        "Youth policy forum",
        None,
        {"kind": "online"},
        120,
        funded=True,
    ),
    SeriesSpec(
        "metodiskie-seminari",
        "Metodiskie semināri „Darbs ar jauniešiem”",
        "Methodology seminars",
        None,
        {"kind": "hybrid", "venue": "Latvijas Pašvaldību savienība", "address": "Mazā Pils iela 1"},
        180,
    ),
    SeriesSpec(
        "digitalais-jaunatnes-darbs",
        "Digitālais jaunatnes darbs; rīki, drošība, pieredze",
        "Digital youth work",
        None,
        {"kind": "online"},
        60,
    ),
    SeriesSpec(
        "kurzemes-pieredzes-apmaina",
        "Kurzemes jaunatnes darbinieku pieredzes apmaiņa",
        "Kurzeme experience sharing",
        "kurzeme",
        {"kind": "hybrid", "venue": "Liepājas jauniešu māja", "address": "Peldu iela 5, Liepāja"},
        180,
        funded=True,
    ),
    SeriesSpec(
        "zemgales-tiksanas",
        "Zemgales jaunatnes lietu speciālistu tikšanās",
        "Zemgale meetings",
        "zemgale",
        {"kind": "venue", "venue": "Jelgavas jauniešu centrs", "address": "Akadēmijas iela 1"},
        150,
    ),
    SeriesSpec(
        "vidzemes-pieredzes-apmaina",
        "Vidzemes pieredzes apmaiņas tikšanās",
        "Vidzeme experience sharing",
        "vidzeme",
        {"kind": "hybrid", "venue": "Valmieras jauniešu centrs „Vinda”", "address": "Valmiera"},
        180,
        funded=True,
    ),
    SeriesSpec(
        "vidzemes-darbnicas",
        "Vidzemes darbnīcas jaunatnes darbiniekiem",
        "Vidzeme workshops",
        "vidzeme",
        {"kind": "online"},
        90,
    ),
    SeriesSpec(
        "latgales-forums",
        "Latgales jaunatnes darba forums",
        "Latgale youth work forum",
        "latgale",
        {"kind": "hybrid", "venue": "Daugavpils jauniešu centrs", "address": "Saules iela 7"},
        120,
        funded=True,
    ),
    SeriesSpec(
        "rigas-regiona-sarunas",
        "Rīgas reģiona jaunatnes lietu sarunas",
        "Rīga region talks",
        "riga",
        {"kind": "online"},
        90,
    ),
]

DESCRIPTION_LV = (
    "Tīkla tikšanās: speciālisti no visas Latvijas stāsta par savu pieredzi darbā ar jaunatni, "
    "pārrunā aktuālos jautājumus, normatīvo aktu izmaiņas un labās prakses piemērus; pēc tam "
    "jautājumi un diskusija. Pieslēgties var ikviens, ieraksts būs pieejams vēlāk."
)
DESCRIPTION_EN = (
    "A network meeting: specialists from all over Latvia share their experience of youth work, "
    "discuss current issues, changes in regulations and examples of good practice; then "
    "questions and discussion. Anyone can join; the recording is published later."
)
FUNDING_LV = "Tikšanās notiek ar Eiropas Sociālā fonda Plus atbalstu."
FUNDING_EN = "The meetings are supported by the European Social Fund Plus."
TOPICS = [
    ("Jauniešu līdzdalība pašvaldības lēmumos", "Youth participation in local decisions"),
    ("Mobilais jaunatnes darbs laukos", "Mobile youth work in the countryside"),
    ("NEET jaunieši: kā viņus sasniegt?", "NEET youth: how to reach them?"),
    ("Jauniešu centru finansējums, 2026", "Funding youth centres, 2026"),
    ("Brīvprātīgais darbs un Eiropas Solidaritātes korpuss", "Volunteering and the ESC"),
]
SPEAKERS = [
    {"name": "Anna Bērziņa", "role": "jaunatnes lietu speciāliste", "organisation": "Cēsu novads"},
    {"name": "Jānis Kalniņš", "role": "", "organisation": "IZM Jaunatnes politikas nodaļa"},
    {"name": "Līga Ozola", "role": "pētniece", "organisation": ""},
    {"name": "Mārtiņš Liepiņš", "role": "jauniešu centra vadītājs", "organisation": "Ogre"},
]
OTHER_VENUES = [
    {"kind": "venue", "venue": "Talsu jauniešu māja", "address": "Kareivju iela 7, Talsi"},
    {"kind": "hybrid", "venue": "Rēzeknes jauniešu centrs", "address": "Atbrīvošanas aleja 95"},
    {"kind": "venue", "venue": "Bauskas kultūras centrs", "address": "Rīgas iela 2, Bauska"},
]


@dataclass(frozen=True)
class Population:
    sessions: int
    series: int
    regional_series: int
    with_topic: int
    with_speakers: int
    place_overrides: int
    moved: int
    cancelled: int
    with_recording: int
    livestreams: int
    seconds: float


def populate(context: Context, now: dt.datetime) -> Population:
    """2,000 public sessions inside the feed window, inserted through the ORM in one go."""
    settings = context.settings
    start, end = window(now, settings)
    # A day of margin at both ends, so sessions moved by a day stay inside the window.
    first_day = (start + dt.timedelta(days=2)).astimezone(RIGA).date()
    span_days = (end - start).days - 5
    host = settings.host
    counts = dict.fromkeys(
        ("topic", "speakers", "place", "moved", "cancelled", "recording", "livestream"), 0
    )
    began = time.perf_counter()
    with context.database.session() as db:
        regions = {r.slug: r for r in db.scalars(select(Region))}
        all_series = []
        for spec in SERIES:
            series = Series(
                slug=spec.slug,
                title_lv=spec.title_lv,
                title_en=spec.title_en,
                description_lv=DESCRIPTION_LV,
                description_en=DESCRIPTION_EN,
                rrule="FREQ=WEEKLY;BYDAY=TH",
                start_local=dt.datetime.combine(first_day, dt.time(10)),
                timezone="Europe/Riga",
                duration_minutes=spec.minutes,
                place=spec.place,
                organiser_name="Jaunatnes lietu atbalsta tīkls",
                organiser_email=f"{spec.slug[:20]}@example.lv",
                region=regions[spec.region] if spec.region else None,
                tags=["jaunatnes politika", "pieredze, prakse"],
                livestream_provider="static",
                livestream_settings={"watch_url": f"https://meet.jit.si/{spec.slug}-{{date}}"},
                funding_text_lv=FUNDING_LV if spec.funded else "",
                funding_text_en=FUNDING_EN if spec.funded else "",
                funding_project="4.2.4.1/1/24/I/001" if spec.funded else "",
            )
            db.add(series)
            all_series.append((spec, series))
        for i in range(SESSIONS):
            spec, series = all_series[i % len(all_series)]
            day = first_day + dt.timedelta(days=i * span_days // SESSIONS)
            local = dt.datetime.combine(day, dt.time(10 + 2 * (i % 3)), tzinfo=RIGA)
            original = local.astimezone(dt.UTC)
            session = Session(
                series=series,
                original_start=original,
                uid=f"{uuid.uuid4()}@{host}",
                start=original,
                end=original + dt.timedelta(minutes=spec.minutes),
                revision=0,
            )
            if i % 3 == 0:
                topic_lv, topic_en = TOPICS[i % len(TOPICS)]
                session.topic_lv, session.topic_en = topic_lv, topic_en
                counts["topic"] += 1
            if i % 4 == 1:
                session.speakers = SPEAKERS[: 1 + i % len(SPEAKERS)]
                counts["speakers"] += 1
            if spec.region and i % 9 == 2:
                session.place = OTHER_VENUES[i % len(OTHER_VENUES)]
                counts["place"] += 1
            if i % 41 == 5:
                # Moved by staff by a day: same UID, higher SEQUENCE.
                session.start += dt.timedelta(days=1)
                session.end += dt.timedelta(days=1)
                session.edited = True
                session.revision = 2
                counts["moved"] += 1
            if session.end < now:
                session.live_status = "ended"
                if i % 2 == 0:
                    session.recording_url = f"https://www.youtube.com/watch?v=bench{i:05d}"
                    counts["recording"] += 1
            elif i % 67 == 7:
                # Cancelled ones stay in feeds until their date passes: only future ones here.
                session.status = "cancelled"
                session.cancel_reason = "Lektors saslima; jauns datums sekos."
                session.revision += 1
                counts["cancelled"] += 1
            elif spec.slug == "jaunatnes-lietu-videokonferences":
                session.livestream = provisioned_livestream(f"{i:05d}", session.revision)
                counts["livestream"] += 1
            db.add(session)
    return Population(
        sessions=SESSIONS,
        series=len(SERIES),
        regional_series=sum(1 for spec in SERIES if spec.region),
        with_topic=counts["topic"],
        with_speakers=counts["speakers"],
        place_overrides=counts["place"],
        moved=counts["moved"],
        cancelled=counts["cancelled"],
        with_recording=counts["recording"],
        livestreams=counts["livestream"],
        seconds=time.perf_counter() - began,
    )


# --- the cold build, in a fresh process -----------------------------------------------------


def max_rss_mib() -> float:
    """The process's max RSS so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_build() -> dict[str, Any]:
    """Build /calendar.ics three times in this (fresh) process: cold, traced, warm."""
    settings = load_settings()
    context = Context.from_settings(settings)
    name = read_network(settings.path(settings.network.file)).name["lv"]
    rss_before = max_rss_mib()

    cpu: list[float] = []

    def build() -> tuple[float, float, int, bytes]:
        now = context.clock.now()
        began, began_cpu = time.perf_counter(), time.process_time()
        with context.database.session() as db:
            feed = network_feed(db, now, settings, name, "lv")
            queried = time.perf_counter()
            body = build_calendar(feed, settings, "lv")
        # CPU seconds too: on a shared machine the wall time says more about the neighbours.
        cpu.append(time.process_time() - began_cpu)
        return queried - began, time.perf_counter() - queried, body.count(b"BEGIN:VEVENT"), body

    query_s, ical_s, sessions, body = build()
    rss_cold = max_rss_mib()
    tracemalloc.start()
    build()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    warm_query_s, warm_ical_s, _, _ = build()
    # One staff edit, then the feed again: the changed event is rendered, the rest reused.
    with context.database.session() as db:
        changed = db.scalars(
            select(Session)
            .join(Series)
            .where(Series.visibility == "public", Session.start >= context.clock.now())
            .order_by(Session.start)
            .limit(1)
        ).one()
        update_details(db, changed, "bench", topic_lv=f"Izmaiņa {uuid.uuid4().hex[:8]}")
    rendered = EVENT_TEXTS.rendered
    changed_query_s, changed_ical_s, _, changed_body = build()
    context.close()
    return {
        "sessions": sessions,
        "bytes": len(body),
        "vevents": body.count(b"BEGIN:VEVENT\r\n"),
        "vtimezones": body.count(b"BEGIN:VTIMEZONE\r\n"),
        # The server starts after the change, so it serves what the last build gave.
        "sha256": hashlib.sha256(changed_body).hexdigest(),
        "cold_query_s": query_s,
        "cold_ical_s": ical_s,
        "warm_query_s": warm_query_s,
        "warm_ical_s": warm_ical_s,
        "changed_query_s": changed_query_s,
        "changed_ical_s": changed_ical_s,
        "changed_rendered": EVENT_TEXTS.rendered - rendered,
        "changed_differs": hashlib.sha256(changed_body).hexdigest()
        != hashlib.sha256(body).hexdigest(),
        # Builds: cold, traced, warm, after the change.
        "cold_cpu_s": cpu[0],
        "warm_cpu_s": cpu[2],
        "changed_cpu_s": cpu[3],
        "traced_peak_mib": traced_peak / 2**20,
        "rss_before_mib": rss_before,
        "rss_after_cold_mib": rss_cold,
        "rss_max_mib": max_rss_mib(),
    }


def run_build_measurement(environ: Mapping[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.feeds", "--measure-build"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"the build measurement failed:\n{result.stderr.strip()}")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


# --- the run --------------------------------------------------------------------------------


def measure(folder: Path, rounds: int) -> int:
    nginx, wrk = tool("nginx"), tool("wrk")
    environ, settings, now, population = install(folder, populate)
    start, end = window(now, settings)
    say(f"vcs feeds benchmark, {now:%Y-%m-%d %H:%M} UTC")
    say_machine(nginx, wrk)
    say(f"feed window: {start:%Y-%m-%d} .. {end:%Y-%m-%d}")
    say(
        f"data: {population.sessions} sessions in {population.series} public series "
        f"({population.regional_series} regional); {population.with_topic} with a topic, "
        f"{population.with_speakers} with speakers, {population.place_overrides} at another "
        f"venue, {population.moved} moved, {population.cancelled} cancelled, "
        f"{population.with_recording} with a recording, {population.livestreams} livestreams "
        f"(inserted in {population.seconds:.2f} s)"
    )

    build = run_build_measurement(environ)
    cold_s = build["cold_query_s"] + build["cold_ical_s"]
    warm_s = build["warm_query_s"] + build["warm_ical_s"]
    say()
    say("cold build of /calendar.ics (fresh process: network_feed + build_calendar)")
    say(
        f"  size: {build['bytes']:,} bytes, {build['vevents']} VEVENTs, "
        f"{build['vtimezones']} VTIMEZONE ({build['sessions']} sessions in the feed)"
    )
    changed_s = build["changed_query_s"] + build["changed_ical_s"]
    say(
        f"  cold build: {cold_s:.3f} s (rows query {build['cold_query_s']:.3f} s, "
        f"sessions read and rendered {build['cold_ical_s']:.3f} s); warm rebuild {warm_s:.3f} s"
    )
    say(
        f"  rebuild after one change: {changed_s:.3f} s (rows query "
        f"{build['changed_query_s']:.3f} s, assembly {build['changed_ical_s']:.3f} s; "
        f"{build['changed_rendered']} event rendered again)"
    )
    say(
        f"  CPU time of the builds: cold {build['cold_cpu_s']:.3f} s, warm "
        f"{build['warm_cpu_s']:.3f} s, after one change {build['changed_cpu_s']:.3f} s"
    )
    say(
        f"  peak memory: {mib(build['traced_peak_mib'])} traced (tracemalloc, one build); "
        f"process max RSS {mib(build['rss_max_mib'])} "
        f"({mib(build['rss_before_mib'])} before building, "
        f"{mib(build['rss_after_cold_mib'])} after the cold build)"
    )
    if build["vevents"] != SESSIONS:
        raise BenchError(f"the feed has {build['vevents']} VEVENTs, expected {SESSIONS}")

    target = Target(FEED_PATH, "text/calendar", "feed")
    comparison = compare(folder, environ, target, (nginx, wrk), rounds, build["sha256"])
    summary = summarise(comparison, rounds)
    met = summary.ratio >= GOAL_RATIO
    say(f"{GOAL}: {'met' if met else 'NOT met'}")
    warn_if_busy(summary)
    say()
    say("reference numbers (quote these):")
    say(
        f"  feed: {SESSIONS} sessions, {build['vevents']} VEVENTs, {build['bytes']:,} bytes; "
        f"cold build {cold_s:.2f} s ({build['cold_query_s']:.2f} s rows query + "
        f"{build['cold_ical_s']:.2f} s read and render), warm rebuild {warm_s:.2f} s"
    )
    say(
        f"  build memory: tracemalloc peak {build['traced_peak_mib']:.1f} MiB; "
        f"process max RSS {build['rss_max_mib']:.1f} MiB"
    )
    say(f"{summary.quote()} -> goal >= {GOAL_RATIO} {'met' if met else 'not met'}")
    load.record_rows(
        [
            load.Row(
                f"{FEED_PATH} rebuild after one change",
                f"{changed_s:.3f} s",
                f"assembly {build['changed_ical_s']:.3f} s, CPU {build['changed_cpu_s']:.3f} s",
                None,
                f"<= {CHANGED_BUILD_GOAL_S} s",
                changed_s <= CHANGED_BUILD_GOAL_S,
            ),
            load.Row(
                f"{FEED_PATH} ({SESSIONS} sessions) cold build",
                f"{cold_s:.3f} s",
                f"CPU {build['cold_cpu_s']:.3f} s",
                None,
                f"<= {COLD_BUILD_GOAL_S} s",
                cold_s <= COLD_BUILD_GOAL_S,
            ),
            load.row_of(
                f"{FEED_PATH} 1 worker / nginx",
                comparison.vcs_runs,
                comparison.ref_runs,
                GOAL_RATIO,
            ),
        ]
    )
    return 0


def main() -> None:
    parser = command_line("python -m bench.feeds", __doc__)
    parser.add_argument("--measure-build", action="store_true", help=argparse.SUPPRESS)
    args = parse(parser)
    if args.measure_build:
        print(json.dumps(measure_build()))
        return
    run(measure, args.keep, args.rounds)


if __name__ == "__main__":
    main()
