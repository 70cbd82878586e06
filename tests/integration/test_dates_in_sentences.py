"""Latvian says a date inside a sentence in the locative ("notiks ceturtdien, 2027. gada
11. martā") and a date standing alone in the nominative ("ceturtdiena, 2027. gada 11. marts"):
the digest's changes and the session page's "moved" notice, for every month and every weekday."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient

from tests.factories import NATIONAL, import_entries, national
from tests.mail_factories import NOW, mail_context
from vcs import digest as digests
from vcs.planning import sessions
from vcs.storage.models import Digest, Series
from vcs.web.app import create_app

RIGA = dt.timezone(dt.timedelta(hours=2))  # these dates are all read in winter or summer below
WEEKDAYS = ["pirmdien", "otrdien", "trešdien", "ceturtdien", "piektdien", "sestdien", "svētdien"]
MONTHS = [
    "janvārī", "februārī", "martā", "aprīlī", "maijā", "jūnijā",
    "jūlijā", "augustā", "septembrī", "oktobrī", "novembrī", "decembrī",
]  # fmt: skip
NOMINATIVE_WEEKDAYS = [
    "pirmdiena", "otrdiena", "trešdiena", "ceturtdiena", "piektdiena", "sestdiena", "svētdiena",
]  # fmt: skip


def planned_days() -> list[dt.date]:
    """One day in each month of 2027; their weekdays (and the next days') cover the week."""
    days = []
    for month in range(1, 13):
        day = dt.date(2027, month, 1)
        while day.weekday() != (month - 1) % 7:
            day += dt.timedelta(days=1)
        days.append(day)
    return days


def in_sentence(day: dt.date) -> str:
    return f"{WEEKDAYS[day.weekday()]}, {day.year}. gada {day.day}. {MONTHS[day.month - 1]}, 10.00"


def test_the_planned_days_cover_every_month_and_weekday() -> None:
    days = planned_days()
    assert {d.month for d in days} == set(range(1, 13))
    assert {d.weekday() for d in days} == set(range(7))


def test_moved_sessions_are_told_in_the_locative_in_the_digest_and_on_the_session_page(
    tmp_path: Path,
) -> None:
    context = mail_context(tmp_path, VCS_DIGEST_DAYS_AHEAD="21")
    import_entries(context, tmp_path, national())
    with context.database.session() as db:
        db.add(
            Digest(
                status="sent",
                period_start=NOW - dt.timedelta(days=7),
                period_end=NOW,
                subject_lv="Iepriekšējā",
                sent_at=NOW - dt.timedelta(days=7),
            )
        )
        series = db.scalars(select(Series).where(Series.slug == NATIONAL)).one()
        moved = {}
        for number, day in enumerate(planned_days()):
            planned = dt.datetime.combine(day, dt.time(10, 0), context.settings.tz)
            made = sessions.add_extra(
                db, series, planned, planned + dt.timedelta(hours=1), "test", "tikls.example.lv",
                title_lv=f"Pārceltā {number}",
            )  # fmt: skip
            made.original_start = planned  # as if the series' rule had made it for that day
            sessions.move(db, made, planned + dt.timedelta(days=1), "test")
            moved[made.id] = day
    with context.database.session() as db:
        digest, _created = digests.draft(db, context.settings, NOW, "test")
        _subject, text, _html = digests.preview(db, context.settings, digest, "lv")
    client = TestClient(create_app(context))
    for session_id, day in moved.items():
        now_on = day + dt.timedelta(days=1)
        assert f"tagad notiks {in_sentence(now_on)} (bija paredzēta {in_sentence(day)})." in (
            " ".join(text.split())
        )
        page = client.get(f"/sessions/{session_id}").text
        assert f"Sesija ir pārcelta. Tā bija paredzēta {in_sentence(day)}." in page
        # Standing alone (the page's "when"), the same kind of date stays nominative.
        assert f"{NOMINATIVE_WEEKDAYS[now_on.weekday()]}, 2027. gada {now_on.day}." in page
