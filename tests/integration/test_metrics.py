"""/metrics: requests by route name, mail sent and failed, the outbox by state, job runs and
failures, livestream API errors, and who may read it.

Counters belong to the test process and so grow across tests: each test compares a scrape
after the action with one before it. Gauges are read from the test's own database.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests.conftest import free_port, make_settings
from tests.factories import NATIONAL, import_entries, national, session_id
from tests.integration.test_livestream_jobs import YOUTUBE, FakeYouTube, providers_with
from tests.integration.test_serve import environment, run
from tests.mail_factories import add_members, greeting, mail_context
from vcs.bootstrap import initialise
from vcs.clock import FixedClock
from vcs.config import ConfigError
from vcs.context import Context
from vcs.livestream.jobs import LivestreamJobError, provision
from vcs.mail import outbox
from vcs.mail.sender import Sender
from vcs.mail.transport import Envelope, PermanentError, Ready, TemporaryError
from vcs.providers.provider import QuotaExceeded, TransientError
from vcs.scheduler.registry import JobSpec
from vcs.scheduler.runs import run_job
from vcs.storage.models import Member
from vcs.web.app import create_app

LOOPBACK = ("127.0.0.1", 50000)
TOKEN = "scrape-me-if-you-know-this-token"


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(context: Context) -> Samples:
    """Every sample of one scrape from loopback, by (name, labels)."""
    response = TestClient(create_app(context), client=LOOPBACK).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


# --- requests -----------------------------------------------------------------------------------


def test_feed_and_page_requests_are_counted_by_route_name_not_path(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))
    import_entries(context, tmp_path, national())
    session = session_id(context, NATIONAL, "2026-12-10")
    before = scrape(context)
    client = TestClient(create_app(context))
    assert client.get("/calendar.ics").status_code == 200
    assert client.get(f"/sessions/{session}").status_code == 200
    assert client.get(f"/sessions/{session}.ics").status_code == 200
    assert client.get("/no-such-page").status_code == 404
    after = scrape(context)

    requests = "vcs_http_requests_total"
    ok = {"method": "GET", "status": "2xx"}
    assert grew(before, after, requests, route="calendar_ics", kind="feed", **ok) == 1
    assert grew(before, after, requests, route="session_ics", kind="feed", **ok) == 1
    assert grew(before, after, requests, route="session", kind="page", **ok) == 1
    assert (
        grew(before, after, requests, route="unmatched", kind="other", method="GET", status="4xx")
        == 1
    )
    assert grew(before, after, "vcs_http_request_duration_seconds_count", route="session") == 1
    # Label values are route names, never raw paths with ids in them.
    routes = {label for (_name, labels) in after for key, label in labels if key == "route"}
    assert not [route for route in routes if f"/{session}" in route]


# --- mail ---------------------------------------------------------------------------------------


class FlakyTransport:
    """Accepts every message except: `later` fails temporarily, `never` permanently."""

    def __init__(self, later: str, never: str) -> None:
        self.later, self.never = later, never

    def send(self, envelope: Envelope, ready: Ready = lambda: None) -> None:
        if envelope.recipient == self.later:
            raise TemporaryError("451 4.3.0 try later", 451)
        if envelope.recipient == self.never:
            raise PermanentError("550 5.1.1 no such mailbox", 550)
        ready()

    def close(self) -> None:
        pass


def test_mail_sent_and_failed_and_the_outbox_by_state(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    ids = add_members(context, 4)
    with context.database.session() as db:
        members = [db.get(Member, i) for i in ids]
        outbox.enqueue_for_members(
            db,
            context.settings,
            kind="digest",
            ref="digest:1",
            members=members,
            compose=greeting,
            now=context.clock.now(),
        )
    queued = scrape(context)
    assert value(queued, "vcs_outbox_deliveries", kind="digest", state="queued") == 4

    transport = FlakyTransport(later="biedrs0@example.lv", never="biedrs1@example.lv")
    report = Sender(context, lambda: transport, concurrency=2).run()
    assert (report.sent, report.failed_temporary, report.failed_permanent) == (2, 1, 1)
    after = scrape(context)

    assert grew(queued, after, "vcs_mail_sent_total") == 2
    assert grew(queued, after, "vcs_mail_failed_total", permanence="temporary") == 1
    assert grew(queued, after, "vcs_mail_failed_total", permanence="permanent") == 1
    assert value(after, "vcs_outbox_deliveries", kind="digest", state="sent") == 2
    assert value(after, "vcs_outbox_deliveries", kind="digest", state="failed-temporary") == 1
    assert value(after, "vcs_outbox_deliveries", kind="digest", state="failed-permanent") == 1
    assert value(after, "vcs_outbox_deliveries", kind="digest", state="queued") == 0
    context.close()


# --- jobs ---------------------------------------------------------------------------------------


def hourly(name: str, func: object) -> JobSpec:
    return JobSpec(name, func, "", lambda s: IntervalTrigger(hours=1))  # type: ignore[arg-type]


def test_job_runs_and_failures_are_counted_per_job(context: Context) -> None:
    def broken(_context: Context) -> str:
        raise RuntimeError("the relay said no")

    before = scrape(context)
    run_job(context, hourly("metrics-fine", lambda c: "did it"))
    run_job(context, hourly("metrics-fine", lambda c: "did it again"))
    run_job(context, hourly("metrics-broken", broken))
    after = scrape(context)

    assert grew(before, after, "vcs_job_runs_total", job="metrics-fine") == 2
    assert grew(before, after, "vcs_job_failures_total", job="metrics-fine") == 0
    assert grew(before, after, "vcs_job_runs_total", job="metrics-broken") == 1
    assert grew(before, after, "vcs_job_failures_total", job="metrics-broken") == 1
    assert grew(before, after, "vcs_job_duration_seconds_count", job="metrics-broken") == 1
    # From the database: each job's last run, whichever process ran it.
    assert value(after, "vcs_job_last_run_failed", job="metrics-fine") == 0
    assert value(after, "vcs_job_last_run_failed", job="metrics-broken") == 1
    now = context.clock.now().timestamp()
    assert (
        abs(value(after, "vcs_job_last_success_timestamp_seconds", job="metrics-fine") - now) < 60
    )
    assert (
        "vcs_job_last_success_timestamp_seconds",
        frozenset({("job", "metrics-broken")}),
    ) not in after
    assert abs(value(after, "vcs_job_last_run_timestamp_seconds", job="metrics-broken") - now) < 60


# --- livestream ---------------------------------------------------------------------------------


def test_livestream_api_errors_are_counted_by_provider_and_error_class(
    context: Context, tmp_path: Path
) -> None:
    context.clock = FixedClock(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))
    import_entries(context, tmp_path, national(livestream=YOUTUBE))
    fake = FakeYouTube()
    before = scrape(context)
    fake.failures = [TransientError("503 backend error")]
    with pytest.raises(LivestreamJobError):
        provision(context, providers_with(context, fake))
    context.clock.advance(dt.timedelta(hours=1))
    fake.failures = [QuotaExceeded("quotaExceeded")]
    with pytest.raises(LivestreamJobError):
        provision(context, providers_with(context, fake))
    after = scrape(context)

    errors = "vcs_livestream_api_errors_total"
    assert grew(before, after, errors, provider="youtube", error="TransientError") == 1
    assert grew(before, after, errors, provider="youtube", error="QuotaExceeded") == 1
    assert value(after, "vcs_livestream_provider_blocked", provider="youtube", state="quota") == 1


# --- who may read it ----------------------------------------------------------------------------


def test_metrics_is_served_to_loopback_only_and_not_through_a_proxy(context: Context) -> None:
    app = create_app(context)
    assert TestClient(app, client=LOOPBACK).get("/metrics").status_code == 200
    assert TestClient(app, client=("::1", 50000)).get("/metrics").status_code == 200
    refused = TestClient(app, client=("203.0.113.7", 50000)).get("/metrics")
    assert refused.status_code == 403
    assert "vcs_" not in refused.text
    # A reverse proxy on the same machine connects from loopback, on behalf of anyone.
    proxied = TestClient(app, client=LOOPBACK).get(
        "/metrics", headers={"X-Forwarded-For": "203.0.113.7"}
    )
    assert proxied.status_code == 403


def test_metrics_is_served_anywhere_with_the_bearer_token(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, VCS_WEB_METRICS_TOKEN=TOKEN, VCS_WEB_METRICS_ALLOW="10.0.0.0/8"
    )
    context = Context.from_settings(settings)
    initialise(context)
    outside = TestClient(create_app(context), client=("203.0.113.7", 50000))
    assert outside.get("/metrics").status_code == 403
    assert outside.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    answer = outside.get(
        "/metrics",
        headers={"Authorization": f"Bearer {TOKEN}", "X-Forwarded-For": "203.0.113.7"},
    )
    assert answer.status_code == 200
    assert "vcs_http_requests_total" in answer.text
    inside = TestClient(create_app(context), client=("10.1.2.3", 50000))
    assert inside.get("/metrics").status_code == 200
    assert TestClient(create_app(context), client=LOOPBACK).get("/metrics").status_code == 403
    context.close()


def test_metrics_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"web\.metrics_allow"):
        make_settings(tmp_path, VCS_WEB_METRICS_ALLOW="127.0.0.1 localhost")
    with pytest.raises(ConfigError, match=r"web\.metrics_token"):
        make_settings(tmp_path, VCS_WEB_METRICS_TOKEN="short")


# --- several workers ----------------------------------------------------------------------------


def test_several_web_workers_report_their_requests_together(tmp_path: Path) -> None:
    environ = environment(tmp_path)
    run(environ, "init")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "vcs", "web", "--workers", "2", "--port", str(port)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/static/vcs.css", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        for _ in range(12):  # a new connection each: the workers share them out
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        for _ in range(4):  # whichever worker answers the scrape counts all of them
            text = httpx.get(f"{base}/metrics", timeout=5).text
            samples = {
                (s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }
            healthz = value(
                samples,
                "vcs_http_requests_total",
                route="healthz",
                kind="health",
                method="GET",
                status="2xx",
            )
            assert healthz == 12
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def test_a_scheduler_on_its_own_serves_its_metrics_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    environ = environment(tmp_path, VCS_SCHEDULER_METRICS_PORT=str(port))
    run(environ, "init")
    run(environ, "jobs", "run", "materialize")
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "vcs", "scheduler"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or scheduler.poll() is not None:
                    raise
                time.sleep(0.2)
        assert response.status_code == 200
        families = {f.name: f for f in text_string_to_metric_families(response.text)}
        # The scheduler's own counters are declared here, and the database gauges are read.
        assert "vcs_job_runs" in families
        last = families["vcs_job_last_run_timestamp_seconds"].samples
        assert [s.labels["job"] for s in last] == ["materialize"]
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(20)


def test_the_scheduler_metrics_port_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"scheduler\.metrics_port"):
        make_settings(Path("/tmp"), VCS_SCHEDULER_METRICS_PORT="70000")
