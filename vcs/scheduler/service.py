"""The scheduler process: wait for the lock, then run the registry's jobs with APScheduler."""

from __future__ import annotations

import logging
import threading

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from vcs.context import Context
from vcs.scheduler.lock import SchedulerLock, lock_for
from vcs.scheduler.registry import Registry
from vcs.scheduler.runs import close_interrupted_runs, run_job

log = logging.getLogger(__name__)

# APScheduler stores a job as a textual reference to a module-level function, so the function
# finds the running service here rather than in its (pickled) arguments.
_active: SchedulerService | None = None


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
        lock: SchedulerLock | None = None,
    ) -> None:
        if registry is None:
            from vcs.scheduler.jobs import registry as default_registry

            registry = default_registry
        self.context = context
        self.registry = registry
        settings = context.settings
        self.lock = lock or lock_for(
            context.database.engine, settings.path(settings.scheduler.lock_file)
        )
        self.poll_seconds = settings.scheduler.lock_poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.active = threading.Event()

    def start_in_background(self) -> None:
        self._thread = threading.Thread(target=self.run, name="vcs-scheduler", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """Wait for the lock, schedule while holding it, wait again if it is lost; until stop()."""
        waiting_said = False
        while not self._stop.is_set():
            if not self.lock.try_acquire():
                if not waiting_said:
                    log.info("another scheduler is active; waiting to take over")
                    waiting_said = True
                self._stop.wait(self.poll_seconds)
                continue
            waiting_said = False
            log.info("scheduler lock taken; running jobs")
            try:
                self._start_apscheduler()
                while not self._stop.wait(self.poll_seconds):
                    if not self.lock.still_held():
                        log.error("scheduler lock lost; stopping jobs until it is back")
                        break
            finally:
                self._stop_apscheduler()
                self.lock.release()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _start_apscheduler(self) -> None:
        global _active
        settings = self.context.settings
        interrupted = close_interrupted_runs(self.context)
        if interrupted:
            log.warning("%d job runs were interrupted by an earlier scheduler's end", interrupted)
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.context.database.engine)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": settings.scheduler.misfire_grace_seconds,
            },
            timezone=settings.tz,
        )
        _active = self
        # Paused first, so the stored next run times survive the sync below and a slot missed
        # while no scheduler was running still runs once (coalesced) on resume.
        scheduler.start(paused=True)
        self._sync_jobs(scheduler)
        scheduler.resume()
        self.scheduler = scheduler
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
            # repr, not str: only repr includes a cron trigger's time zone.
            if existing is None or repr(existing.trigger) != repr(trigger):
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
