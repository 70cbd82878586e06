"""Sessions stored by `vcs series import` (and so by materialize) against an independent RFC 5545
expansion: recurring-ical-events, for a few hundred generated rules, on SQLite and PostgreSQL.

tests/unit/test_recurrence.py compares the expansion itself; this compares what lands in the
database: the horizon, the UTC conversion of local times and the storage round trip included.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import select

from tests.conftest import make_settings
from tests.unit.test_recurrence import reference_starts, series
from vcs.bootstrap import initialise
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.planning.series import SeriesSpec, import_series
from vcs.storage.models import Series, Session

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def check_rules_against_reference(context: Context, examples: int) -> None:
    slugs = (f"s{n}" for n in itertools.count())
    horizon_end = NOW + context.settings.horizon
    with_sessions = []

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    )
    # Seeds from a season before NOW to the horizon's end: most rules then store sessions (a
    # seed drawn from three whole years left about a third with none, which proves little).
    @given(series(NOW.date() - dt.timedelta(days=120), horizon_end.date()))
    def stored_sessions_match(drawn: tuple[str, dt.datetime]) -> None:
        text, start = drawn
        slug = next(slugs)
        spec = SeriesSpec(
            slug=slug,
            title_lv="Sērija",
            title_en="Series",
            rrule=text,
            start_local=start,
            timezone="Europe/Riga",
            duration_minutes=60,
        )
        import_series(context, [spec], actor="test")
        with context.database.session() as db:
            stored = sorted(
                found.start
                for found in db.scalars(
                    select(Session).join(Session.series).where(Series.slug == slug)
                )
            )
        assert stored == reference_starts(text, start, NOW, horizon_end), (text, start)
        with_sessions.append(bool(stored))

    stored_sessions_match()
    # Rules that store nothing prove little: most must store some.
    assert sum(with_sessions) >= len(with_sessions) // 2, (
        f"{sum(with_sessions)} of {len(with_sessions)}"
    )


def installation(tmp_path: Path, url: str | None = None) -> Context:
    overrides = {"VCS_SESSIONS_MAX_PER_SERIES": "100000"}
    if url:
        overrides["VCS_DATABASE_URL"] = url
    context = Context.from_settings(make_settings(tmp_path, **overrides), clock=FixedClock(NOW))
    initialise(context)
    return context


def test_stored_sessions_agree_with_recurring_ical_events_on_sqlite(tmp_path: Path) -> None:
    context = installation(tmp_path)
    try:
        check_rules_against_reference(context, examples=300)
    finally:
        context.close()


@pytest.mark.postgres
def test_stored_sessions_agree_with_recurring_ical_events_on_postgres(
    tmp_path: Path, postgres_url: str
) -> None:
    context = installation(tmp_path, postgres_url)
    try:
        check_rules_against_reference(context, examples=100)
    finally:
        context.close()
