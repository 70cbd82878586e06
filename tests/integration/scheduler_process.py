"""A scheduler process for the fail-over tests: the real SchedulerService, with one job that
records every slot it runs, so a test can see which process ran which slot, and when.

usage: python tests/integration/scheduler_process.py RECORD_FILE  (settings: the VCS_* variables)

Each run appends "SLOT PID UNIX_TIME" to RECORD_FILE; SIGTERM stops the process cleanly.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from vcs.config import load_settings
from vcs.context import Context
from vcs.scheduler.registry import JobSpec, Registry
from vcs.scheduler.service import SchedulerService, current_slot

SLOT_SECONDS = 2
# A fixed start puts every process's slots on the same instants (even seconds).
FIRST_SLOT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def recording_registry(record: Path) -> Registry:
    def record_slot(_context: Context) -> str:
        slot = current_slot()
        if slot is None:
            raise RuntimeError("record-slot ran outside a scheduled slot")
        line = f"{slot.astimezone(dt.UTC).isoformat()} {os.getpid()} {time.time():.3f}\n"
        # One write(2) on an O_APPEND file: lines from two processes never mix.
        fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        return f"slot {slot.isoformat()}"

    registry = Registry()
    registry.add(
        JobSpec(
            "record-slot",
            record_slot,
            "Record the slot, the process and the time.",
            lambda s: IntervalTrigger(seconds=SLOT_SECONDS, start_date=FIRST_SLOT, timezone="UTC"),
        )
    )
    return registry


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s: %(message)s"
    )
    context = Context.from_settings(load_settings())
    service = SchedulerService(context, recording_registry(Path(sys.argv[1])))

    def stop(_signum: int, _frame: Any) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, stop)
    service.run()
    context.close()


if __name__ == "__main__":
    main()
