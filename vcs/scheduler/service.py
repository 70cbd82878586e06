"""The scheduler process: wait for the lock, then run the registry's jobs with APScheduler."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from concurrent.futures import Future
from contextvars import ContextVar
from typing import Any

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.executors.base import run_job as apscheduler_run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from vcs.context import Context
from vcs.scheduler import heartbeat
from vcs.scheduler.registry import Registry
from vcs.scheduler.runs import close_interrupted_runs, run_job
from vcs.storage.locks import SCHEDULER, Lock, first_line, lock_for

log = logging.getLogger(__name__)

# APScheduler stores a job as a textual reference to a module-level function, so the function
# finds the running service here rather than in its (pickled) arguments.
_active: SchedulerService | None = None

# The slot (scheduled run time) of the job running in this thread.
_slot: ContextVar[dt.datetime | None] = ContextVar("vcs_scheduler_slot", default=None)

# How long a due job waits for the scheduler to store that its slot is taken; it gives the slot
# up (to the next scheduler) if that never happens. Storing takes milliseconds.
SLOT_STORED_TIMEOUT = 10.0


def current_slot() -> dt.datetime | None:
    """The scheduled time of the slot the running job fills; None outside a scheduled run."""
    return _slot.get()


def run_scheduled(name: str) -> None:
    """The function every stored APScheduler job calls."""
    service = _active
    if service is None:
        log.warning("job %s fired with no active scheduler service", name)
        return
    run_job(service.context, service.registry.get(name), trigger="schedule")


class SchedulerService:
    """Holds the lock, keeps APScheduler's stored jobs in line with the registry, runs them."""

    def __init__(
        self,
        context: Context,
        registry: Registry | None = None,
        lock: Lock | None = None,
    ) -> None:
        if registry is None:
            from vcs.scheduler.jobs import registry as default_registry

            registry = default_registry
        self.context = context
        self.registry = registry
        settings = context.settings
        self.lock = lock or lock_for(
            context.database.engine, SCHEDULER, settings.path(settings.scheduler.lock_file)
        )
        self.poll_seconds = settings.scheduler.lock_poll_seconds
        self.holder = heartbeat.Holder.this_process()
        self._stop = threading.Event()
        # Set by stop() and by a job that finds the lock gone: ends the wait between polls.
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.active = threading.Event()
        self._stored: dict[tuple[str, dt.datetime], threading.Event] = {}
        self._stored_mutex = threading.Lock()

    def start_in_background(self) -> None:
        self._thread = threading.Thread(target=self.run, name="vcs-scheduler", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """Wait for the lock, schedule while holding it, wait again if it is lost; until stop()."""
        waiting_said = False
        while not self._stop.is_set():
            if not self._try_lock():
                if not waiting_said:
                    log.info("another scheduler is active; waiting to take over")
                    waiting_said = True
                self._stop.wait(self.poll_seconds)
                continue
            waiting_said = False
            log.info("scheduler lock taken; running jobs")
            try:
                self._hold()
            except SQLAlchemyError as exc:
                log.error("scheduler stopped by a database error: %s", exc)
            finally:
                self._stop_apscheduler()
                self.lock.release()
            if not self._stop.is_set():
                # A scheduler that just lost its connection is the suspect one: give a waiting
                # scheduler (which tries every poll) the first chance to take over.
                self._stop.wait(2 * self.poll_seconds)

    def _try_lock(self) -> bool:
        try:
            return self.lock.try_acquire()
        except SQLAlchemyError as exc:
            # A database outage is no reason to stop: the next poll tries again.
            log.warning("cannot take the scheduler lock: %s", first_line(exc))
            return False

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _hold(self) -> None:
        """Run jobs, check the lock and beat every poll, until stop() or the lock is lost."""
        self._wake.clear()
        taken_at = self.context.clock.now()
        self._start_apscheduler()
        self._beat(taken_at)
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            if self._stop.is_set():
                return
            if not self.lock.still_held():
                log.error("scheduler lock lost; stopping jobs until it is back")
                return
            if not self._apscheduler_alive():
                log.error("APScheduler's thread died; restarting the scheduler")
                return
            self._beat(taken_at)

    def _beat(self, taken_at: dt.datetime) -> None:
        try:
            heartbeat.beat(self.context, self.holder, taken_at)
        except SQLAlchemyError as exc:
            # The lock check decides whether to go on; a missed beat only shows in /readyz.
            log.warning("scheduler heartbeat not written: %s", str(exc).splitlines()[0])

    def may_run(self, job_id: str, slot: dt.datetime) -> bool:
        """Just before a job runs: is its slot stored as taken, and is the lock still held?

        APScheduler hands a due job to the pool first and stores its next run time after, so a
        scheduler killed in between would leave the slot for the next one to run again. And a
        scheduler whose lock connection died may still have jobs due before its next poll, while
        another has taken the lock: the lock check here keeps the two from both running them.
        """
        if not self._wait_stored(job_id, slot):
            log.warning(
                "job %s: slot %s was not stored as taken; left to the next run", job_id, slot
            )
            return False
        if not self.lock.still_held():
            log.error("job %s: the scheduler lock is gone; slot %s not run here", job_id, slot)
            self._wake.set()
            return False
        return True

    def _stored_event(self, job_id: str, slot: dt.datetime) -> threading.Event:
        with self._stored_mutex:
            return self._stored.setdefault((job_id, slot), threading.Event())

    def _wait_stored(self, job_id: str, slot: dt.datetime) -> bool:
        stored = self._stored_event(job_id, slot).wait(SLOT_STORED_TIMEOUT)
        with self._stored_mutex:
            self._stored.pop((job_id, slot), None)
        return stored

    def _on_submitted(self, event: JobSubmissionEvent) -> None:
        # APScheduler dispatches this after the round that submitted the job has stored the job's
        # next run time (and not at all if storing failed).
        for slot in event.scheduled_run_times:
            self._stored_event(event.job_id, slot).set()

    def _apscheduler_alive(self) -> bool:
        # BackgroundScheduler's thread ends for good if the job store raises mid-round.
        thread = getattr(self.scheduler, "_thread", None)
        return thread is None or bool(thread.is_alive())

    def _start_apscheduler(self) -> None:
        global _active
        settings = self.context.settings
        interrupted = close_interrupted_runs(self.context)
        if interrupted:
            log.warning("%d job runs were interrupted by an earlier scheduler's end", interrupted)
        with self._stored_mutex:
            self._stored.clear()
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.context.database.engine)},
            executors={"default": SlotExecutor(self)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": settings.scheduler.misfire_grace_seconds,
            },
            timezone=settings.tz,
        )
        scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED)
        _active = self
        # Paused first, so the stored next run times survive the sync below and a slot missed
        # while no scheduler was running still runs once (coalesced) on resume.
        scheduler.start(paused=True)
        self.scheduler = scheduler
        self._sync_jobs(scheduler)
        scheduler.resume()
        self.active.set()

    def _sync_jobs(self, scheduler: BackgroundScheduler) -> None:
        wanted = {spec.name: spec for spec in self.registry}
        for job in scheduler.get_jobs():
            if job.id not in wanted:
                log.info("removing stored job %s: no longer in the registry", job.id)
                job.remove()
        for name, spec in wanted.items():
            trigger = spec.trigger(self.context.settings)
            existing = scheduler.get_job(name)
            # Replacing a job recomputes its next run time, which would forget a missed slot.
            if existing is None or trigger_key(existing.trigger) != trigger_key(trigger):
                scheduler.add_job(
                    run_scheduled, trigger, args=[name], id=name, name=name, replace_existing=True
                )

    def _stop_apscheduler(self) -> None:
        global _active
        self.active.clear()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        if _active is self:
            _active = None


def trigger_key(trigger: BaseTrigger) -> str:
    """What makes two triggers the same schedule.

    repr, not str: only repr includes a cron trigger's time zone. An interval trigger's repr also
    holds its start date, which is "now" when none is given, so it is left out: else every
    take-over would replace the job and forget a slot missed meanwhile.
    """
    if isinstance(trigger, IntervalTrigger):
        t = trigger
        return f"interval[{t.interval}, {t.timezone}, {t.end_date}, {t.jitter}]"
    return repr(trigger)


class SlotExecutor(ThreadPoolExecutor):  # type: ignore[misc]  # APScheduler is untyped
    """APScheduler's thread pool, asking the service (may_run) before each job runs, and telling
    the job its slot (current_slot)."""

    def __init__(self, service: SchedulerService, max_workers: int = 10) -> None:
        super().__init__(max_workers)
        self.service = service

    def _do_submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        # As BasePoolExecutor._do_submit_job, with _run in place of APScheduler's run_job.
        def callback(future: Future[list[Any]]) -> None:
            exc = future.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        future = self._pool.submit(self._run, job, run_times)
        future.add_done_callback(callback)

    def _run(self, job: Any, run_times: list[dt.datetime]) -> list[Any]:
        # With coalesce on there is one run time: the latest slot due.
        slot = run_times[-1]
        if not self.service.may_run(job.id, slot):
            return []
        token = _slot.set(slot)
        try:
            events: list[Any] = apscheduler_run_job(
                job, job._jobstore_alias, run_times, self._logger.name
            )
            return events
        finally:
            _slot.reset(token)
