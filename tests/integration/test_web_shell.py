"""The web shell: a Latvian home page, a language switch, static assets, /healthz."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from vcs.clock import FixedClock
from vcs.context import Context
from vcs.storage.models import Series, Session
from vcs.web.app import create_app


def add_session(context: Context, start: dt.datetime, **fields: object) -> None:
    with context.database.session() as db:
        series = Series(
            slug="vk",
            title_lv="Jaunatnes lietu speciālistu videokonferences",
            title_en="Youth work videoconferences",
            rrule="FREQ=MONTHLY;BYDAY=2TH",
            start_local=start.replace(tzinfo=None),
            duration_minutes=90,
        )
        db.add(series)
        db.flush()
        db.add(
            Session(
                series_id=series.id,
                uid=f"test-{start:%Y%m%d}@vcs",
                start=start,
                end=start + dt.timedelta(minutes=90),
                **fields,
            )
        )


def test_home_page_is_latvian_with_dates_in_latvian_form(context: Context) -> None:
    context.clock = FixedClock(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    add_session(
        context, dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC), topic_lv="Jauniešu līdzdalība"
    )
    client = TestClient(create_app(context))
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert '<html lang="lv">' in html
    assert "Jaunatnes lietu speciālistu atbalsta tīkls" in html
    assert '<h2 id="upcoming-heading">Gaidāmās</h2>' in html
    assert "ceturtdiena, 2026. gada 10. decembris, 10.00–11.30" in html
    assert "Jauniešu līdzdalība" in html


def test_language_switch_to_english_is_remembered(context: Context) -> None:
    context.clock = FixedClock(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    add_session(context, dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC))
    client = TestClient(create_app(context))
    english = client.get("/?lang=en")
    assert '<html lang="en">' in english.text
    assert "Thursday, 10 December 2026, 10:00–11:30" in english.text
    assert "Youth work videoconferences" in english.text
    assert english.cookies.get("lang") == "en"
    again = client.get("/")
    assert '<html lang="en">' in again.text
    back = client.get("/?lang=lv")
    assert '<html lang="lv">' in back.text


def test_an_unknown_language_falls_back_to_latvian(context: Context) -> None:
    client = TestClient(create_app(context))
    assert '<html lang="lv">' in client.get("/?lang=de").text


def test_cancelled_sessions_say_so_with_the_reason(context: Context) -> None:
    context.clock = FixedClock(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    add_session(
        context,
        dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC),
        status="cancelled",
        cancel_reason="Lektore saslima",
    )
    html = TestClient(create_app(context)).get("/").text
    assert "<strong>Atcelta</strong>: Lektore saslima" in html


def test_static_assets_are_served_locally(context: Context) -> None:
    client = TestClient(create_app(context))
    html = client.get("/").text
    assert 'href="/static/vcs.css"' in html
    assert "http://" not in html.split("<body>")[0].replace("http://127.0.0.1", "")
    css = client.get("/static/vcs.css")
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]


def test_healthz_answers_ok_with_a_database(context: Context) -> None:
    response = TestClient(create_app(context)).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_is_503_when_the_database_is_gone(context: Context, tmp_path: Path) -> None:
    from tests.conftest import isolated_environ
    from vcs.config import load_settings

    # A database file in a folder that does not exist cannot be opened.
    broken = load_settings(
        isolated_environ(tmp_path, VCS_DATABASE_URL=f"sqlite:///{tmp_path}/gone/x.sqlite3")
    )
    ctx = Context.from_settings(broken)
    (tmp_path / "gone").rmdir()
    response = TestClient(create_app(ctx)).get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}
    ctx.close()


@pytest.mark.postgres
def test_healthz_503_names_no_host_or_database_and_logs_why(
    postgres_admin_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.engine import make_url

    from tests.conftest import isolated_environ
    from vcs.config import load_settings

    # The server answers, but this database is not there: psycopg's message names both.
    missing = f"vcs_gone_{secrets.token_hex(4)}"
    url = make_url(postgres_admin_url).set(database=missing)
    host = str(url.host)
    broken = load_settings(
        isolated_environ(tmp_path, VCS_DATABASE_URL=url.render_as_string(hide_password=False))
    )
    ctx = Context.from_settings(broken)
    with caplog.at_level(logging.WARNING, logger="vcs.web.health"):
        response = TestClient(create_app(ctx)).get("/healthz")
    ctx.close()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}
    assert missing not in response.text and host not in response.text
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "vcs.web.health")
    assert missing in logged, "the reason goes to the log instead"


def readyz(context: Context) -> tuple[int, dict[str, object]]:
    response = TestClient(create_app(context)).get("/readyz")
    return response.status_code, response.json()


def test_readyz_is_ok_once_the_scheduler_of_vcs_serve_beats(context: Context) -> None:
    import time

    from vcs.scheduler.heartbeat import latest

    with TestClient(create_app(context, with_scheduler=True)) as client:
        deadline = time.monotonic() + 10
        while latest(context) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "failed": [],
        "checks": {"database": "ok", "schema": "ok", "scheduler": "ok"},
    }


def test_readyz_names_the_scheduler_when_its_heartbeat_is_missing_or_stale(
    context: Context,
) -> None:
    import socket

    from vcs.scheduler.heartbeat import Holder, beat

    status, body = readyz(context)
    assert (status, body["failed"]) == (503, ["scheduler"])
    assert body["checks"] == {"database": "ok", "schema": "ok", "scheduler": "missing"}

    now = dt.datetime.now(dt.UTC)
    context.clock = FixedClock(now)
    beat(context, Holder("sched-host-1", 4242), taken_at=now)
    assert readyz(context)[0] == 200
    context.clock = FixedClock(now + dt.timedelta(seconds=31))  # heartbeat_max_age_seconds = 30
    status, body = readyz(context)
    assert (status, body["failed"]) == (503, ["scheduler"])
    assert body["checks"]["scheduler"] == "stale"
    # Who the scheduler is stays out of a public answer.
    text = str(body)
    assert "sched-host-1" not in text and "4242" not in text and socket.gethostname() not in text


def test_readyz_names_the_schema_when_migrations_are_behind(context: Context) -> None:
    from vcs.storage import migrate

    migrate.downgrade(context.database.engine, "0007")
    status, body = readyz(context)
    assert status == 503
    assert body == {
        "status": "unavailable",
        "failed": ["schema"],
        "checks": {"database": "ok", "schema": "not-current", "scheduler": "unknown"},
    }
    migrate.upgrade(context.database.engine)
    assert readyz(context)[1]["failed"] == ["scheduler"]


def test_readyz_names_the_database_when_it_does_not_answer(tmp_path: Path) -> None:
    from tests.conftest import isolated_environ
    from vcs.config import load_settings

    gone = tmp_path / "gone"
    broken = load_settings(isolated_environ(tmp_path, VCS_DATABASE_URL=f"sqlite:///{gone}/x.db"))
    ctx = Context.from_settings(broken)
    gone.rmdir()
    status, body = readyz(ctx)
    assert status == 503
    assert body == {
        "status": "unavailable",
        "failed": ["database"],
        "checks": {"database": "unreachable", "schema": "unknown", "scheduler": "unknown"},
    }
    assert str(gone) not in str(body)
    ctx.close()


def test_readyz_reports_but_ignores_the_scheduler_when_it_is_not_required(tmp_path: Path) -> None:
    from tests.conftest import make_settings
    from vcs.bootstrap import initialise

    ctx = Context.from_settings(make_settings(tmp_path, VCS_SCHEDULER_REQUIRED_FOR_READINESS="0"))
    initialise(ctx)
    assert readyz(ctx) == (
        200,
        {
            "status": "ok",
            "failed": [],
            "checks": {"database": "ok", "schema": "ok", "scheduler": "missing"},
        },
    )
    ctx.close()
