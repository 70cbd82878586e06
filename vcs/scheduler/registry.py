"""The job registry: every scheduled job by name, with its trigger and what it does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from apscheduler.triggers.base import BaseTrigger

from vcs.config import Settings
from vcs.context import Context

# A job does its work on the context and returns a one-line summary for the run history.
JobFunc = Callable[[Context], str]
# When a job runs, from the settings (a digest's weekday and hour, a poll interval).
TriggerFactory = Callable[[Settings], BaseTrigger]


class JobFailed(Exception):
    """A job ran to its end but some of its work failed; the message says which, so the run is
    recorded as failed without a traceback."""


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: JobFunc
    description: str
    trigger: TriggerFactory


class Registry:
    """Jobs by name. The scheduler and `vcs jobs` both read the same registry."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobSpec] = {}

    def add(self, spec: JobSpec) -> None:
        if spec.name in self._jobs:
            raise ValueError(f"job {spec.name!r} registered twice")
        self._jobs[spec.name] = spec

    def job(
        self, name: str, description: str, trigger: TriggerFactory
    ) -> Callable[[JobFunc], JobFunc]:
        """Decorator: register `func` as job `name`, run when `trigger` says."""

        def register(func: JobFunc) -> JobFunc:
            self.add(JobSpec(name, func, description, trigger))
            return func

        return register

    def get(self, name: str) -> JobSpec:
        try:
            return self._jobs[name]
        except KeyError:
            known = ", ".join(sorted(self._jobs)) or "none"
            raise KeyError(f"no job called {name!r} (known: {known})") from None

    def __iter__(self) -> Iterator[JobSpec]:
        return iter(sorted(self._jobs.values(), key=lambda spec: spec.name))

    def __len__(self) -> int:
        return len(self._jobs)
