"""The change stamp as web processes watch it: their own writes at once, others' soon."""

from __future__ import annotations

from sqlalchemy import update

from vcs.context import Context
from vcs.storage.changes import STAMP_ID, StampWatch
from vcs.storage.models import ChangeStamp, Region


class Ticks:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def write_from_another_process(context: Context) -> None:
    """What the scheduler or another worker does: raise the stamp outside this process's ORM."""
    with context.database.engine.begin() as connection:
        connection.execute(
            update(ChangeStamp)
            .where(ChangeStamp.id == STAMP_ID)
            .values(value=ChangeStamp.value + 1)
        )


def test_a_write_in_this_process_is_seen_at_once(context: Context) -> None:
    watch = StampWatch(context.database.engine, recheck=60, monotonic=Ticks())
    before = watch.value()
    with context.database.session() as db:
        region = db.query(Region).first()
        assert region is not None
        region.name_en = "Renamed"
    assert watch.value() == before + 1


def test_a_write_elsewhere_is_seen_once_the_recheck_time_has_passed(context: Context) -> None:
    ticks = Ticks()
    watch = StampWatch(context.database.engine, recheck=0.5, monotonic=ticks)
    before = watch.value()
    write_from_another_process(context)
    ticks.now += 0.4
    assert watch.value() == before
    ticks.now += 0.1
    assert watch.value() == before + 1


def test_a_rolled_back_write_does_not_force_a_read(context: Context) -> None:
    ticks = Ticks()
    watch = StampWatch(context.database.engine, recheck=60, monotonic=ticks)
    before = watch.value()
    try:
        with context.database.session() as db:
            region = db.query(Region).first()
            assert region is not None
            region.name_en = "Renamed"
            db.flush()
            raise RuntimeError("the request failed after its flush")
    except RuntimeError:
        pass
    write_from_another_process(context)
    # Nothing committed here, so the watch still trusts its last look.
    assert watch.value() == before


def test_recheck_zero_reads_every_time(context: Context) -> None:
    watch = StampWatch(context.database.engine, recheck=0, monotonic=Ticks())
    before = watch.value()
    write_from_another_process(context)
    assert watch.value() == before + 1
