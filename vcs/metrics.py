"""Prometheus metrics: every metric vcs exports, and the functions that record them.

Two kinds, read differently (see docs/operations.md, "Metrics and logs"):

- Counters and histograms of what *this process* did (requests served, mail sent, job runs,
  livestream API errors) live in prometheus-client's registry. Several web workers started by
  `vcs web --workers N` share them through prometheus-client's multiprocess mode.
- Facts about the whole installation (the outbox by state, each job's last run, blocked
  livestream providers) are read from the database at scrape time by `DatabaseCollector`, so
  every process reports the same, correct values.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from vcs.storage.db import Database
from vcs.storage.models import Delivery, JobRun, ProviderHealth

log = logging.getLogger(__name__)

# Set (to an empty folder) in every process of a multi-worker web server; see `exposition()`.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter(
    "vcs_http_requests",
    "HTTP requests answered, by route name, kind of route, method and status class.",
    ["route", "kind", "method", "status"],
)
HTTP_DURATION = Histogram(
    "vcs_http_request_duration_seconds",
    "Time to answer an HTTP request, by route name.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
MAIL_SENT = Counter("vcs_mail_sent", "E-mail messages the relay accepted.")
MAIL_FAILED = Counter(
    "vcs_mail_failed",
    "E-mail delivery attempts that failed, temporarily (retried later) or permanently.",
    ["permanence"],
)
JOB_RUNS = Counter("vcs_job_runs", "Scheduler job runs that ended, by job.", ["job"])
JOB_FAILURES = Counter("vcs_job_failures", "Scheduler job runs that failed, by job.", ["job"])
JOB_DURATION = Histogram(
    "vcs_job_duration_seconds",
    "How long scheduler job runs took, by job.",
    ["job"],
    buckets=(0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0),
)
LIVESTREAM_ERRORS = Counter(
    "vcs_livestream_api_errors",
    "Failed livestream provider API calls, by provider and error class.",
    ["provider", "error"],
)

# Methods a client may send are unbounded; these are the ones we answer.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# The labelled children by (route, kind, method, status), found once: `labels()` takes a lock
# and builds a key on every call, a noticeable part of a cached page's cost. Bounded, as the
# labels are (route names, known methods, status classes).
_request_children: dict[tuple[str, str, str, int], tuple[Counter, Histogram]] = {}


def request_done(route: str, kind: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its time."""
    key = (route, kind, method, status // 100)
    children = _request_children.get(key)
    if children is None:
        label = method if method in KNOWN_METHODS else "other"
        children = (
            HTTP_REQUESTS.labels(route, kind, label, f"{status // 100}xx"),
            HTTP_DURATION.labels(route),
        )
        if method in KNOWN_METHODS:
            _request_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def mail_sent(count: int = 1) -> None:
    """Count messages the relay accepted (recorded as sent)."""
    MAIL_SENT.inc(count)


def mail_failed(permanent: bool) -> None:
    """Count one failed delivery attempt."""
    MAIL_FAILED.labels("permanent" if permanent else "temporary").inc()


def job_done(name: str, failed: bool, seconds: float) -> None:
    """Count one finished job run (and its failure)."""
    JOB_RUNS.labels(name).inc()
    if failed:
        JOB_FAILURES.labels(name).inc()
    JOB_DURATION.labels(name).observe(seconds)


def livestream_error(provider: str, error: Exception) -> None:
    """Count one failed provider call, by the class of its error (QuotaExceeded, ...)."""
    LIVESTREAM_ERRORS.labels(provider, type(error).__name__).inc()


# --- read at scrape time ----------------------------------------------------------------------


def _timestamp(value: dt.datetime | None) -> float | None:
    if value is None:
        return None
    # SQLite gives naive datetimes back; everything is stored in UTC.
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()


class DatabaseCollector(Collector):
    """Gauges read from the database on each scrape: true for the whole installation."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        try:
            families = list(self._read())
        except SQLAlchemyError:
            log.warning("reading metrics from the database failed", exc_info=True)
            return
        yield from families

    def _read(self) -> Iterable[Metric]:
        with self.database.session() as db:
            outbox = GaugeMetricFamily(
                "vcs_outbox_deliveries",
                "Deliveries in the outbox, by kind of message and state "
                "(queued and failed-temporary are still to be sent).",
                labels=["kind", "state"],
            )
            counts = db.execute(
                select(Delivery.kind, Delivery.status, func.count()).group_by(
                    Delivery.kind, Delivery.status
                )
            ).all()
            for kind, state, count in counts:
                outbox.add_metric([kind, state], float(count))
            yield outbox

            last_run = GaugeMetricFamily(
                "vcs_job_last_run_timestamp_seconds",
                "When each job's last finished run ended (Unix time).",
                labels=["job"],
            )
            last_failed = GaugeMetricFamily(
                "vcs_job_last_run_failed",
                "1 when each job's last finished run failed or was interrupted, else 0.",
                labels=["job"],
            )
            latest = (
                select(func.max(JobRun.id))
                .where(JobRun.outcome != "running")
                .group_by(JobRun.job)
                .scalar_subquery()
            )
            for name, outcome, finished in db.execute(
                select(JobRun.job, JobRun.outcome, JobRun.finished_at).where(JobRun.id.in_(latest))
            ):
                stamp = _timestamp(finished)
                if stamp is not None:
                    last_run.add_metric([name], stamp)
                last_failed.add_metric([name], 0.0 if outcome == "ok" else 1.0)
            yield last_run
            yield last_failed

            last_ok = GaugeMetricFamily(
                "vcs_job_last_success_timestamp_seconds",
                "When each job last ended successfully (Unix time).",
                labels=["job"],
            )
            for name, finished in db.execute(
                select(JobRun.job, func.max(JobRun.finished_at))
                .where(JobRun.outcome == "ok")
                .group_by(JobRun.job)
            ):
                stamp = _timestamp(finished)
                if stamp is not None:
                    last_ok.add_metric([name], stamp)
            yield last_ok

            blocked = GaugeMetricFamily(
                "vcs_livestream_provider_blocked",
                "1 for a livestream provider vcs does not call now (quota spent, credentials "
                "revoked), by provider and state.",
                labels=["provider", "state"],
            )
            for provider, state in db.execute(
                select(ProviderHealth.provider, ProviderHealth.state).where(
                    ProviderHealth.state != "ok"
                )
            ):
                blocked.add_metric([provider, state], 1.0)
            yield blocked


class _Forward(Collector):
    """Another registry's metrics, as one collector."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


def scrape_registry(database: Database | None) -> CollectorRegistry:
    """What one scrape reports: this process's (or all workers') counters, then the database's."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(REGISTRY))
    if database is not None:
        registry.register(DatabaseCollector(database))
    return registry


def exposition(database: Database | None) -> tuple[bytes, str]:
    """The Prometheus text format of one scrape, and its content type."""
    return generate_latest(scrape_registry(database)), CONTENT_TYPE_LATEST


@contextlib.contextmanager
def shared_between_workers(workers: int) -> Iterator[None]:
    """With several worker processes, let them pool their counters (multiprocess mode).

    Each worker writes its counters to files in a fresh folder named by PROMETHEUS_MULTIPROC_DIR
    (inherited by the workers the server starts) and a scrape of any worker adds them all up. A
    folder the operator set is used as it is; it must be empty when the server starts.
    """
    if workers < 2 or os.environ.get(MULTIPROC_ENV):
        yield
        return
    folder = tempfile.mkdtemp(prefix="vcs-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def serve_on_loopback(port: int, database: Database) -> None:
    """Serve this process's metrics (and the database gauges) on 127.0.0.1:`port`, in a thread.

    For `vcs scheduler`, which has no web app: its job, mail and livestream counters are here.
    """
    from prometheus_client import start_http_server

    start_http_server(port, addr="127.0.0.1", registry=scrape_registry(database))
