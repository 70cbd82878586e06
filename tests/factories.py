"""Factories shared by tests: series entries as files hold them, imported as `vcs series import`
does, and small look-ups of the sessions they make."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.conftest import free_port
from vcs.context import Context
from vcs.livestream.jobs import provision_soon
from vcs.planning import sessions
from vcs.planning.series import import_series, read_series_file
from vcs.storage.models import Series, Session
from vcs.web.app import create_app

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
NATIONAL = "jaunatnes-lietu-videokonferences"
VIDZEME = "vidzemes-pieredzes-apmainas-tiksanas"
MEMBERS = "koordinatoru-sanaksmes"
RULE_CHANGED_LV = "Sērijas grafiks ir mainīts, un šajā datumā sesija vairs nenotiek."


def toml_value(value: Any) -> str:
    """A Python value as TOML (JSON strings are valid TOML basic strings)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "{ " + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + " }"


def national(**overrides: Any) -> dict[str, Any]:
    """The network's videoconference: second Thursdays, 10.00 Riga, with a static watch link."""
    return {
        "slug": NATIONAL,
        "title": {
            "lv": "Jaunatnes lietu speciālistu videokonferences",
            "en": "Youth work videoconferences",
        },
        "rrule": "FREQ=MONTHLY;BYDAY=2TH",
        "start": "2026-12-10T10:00",
        "duration": "PT1H30M",
        "organiser": {"name": "Jaunatnes lietu atbalsta tīkls", "email": "tikls@example.lv"},
        "livestream": {"provider": "static", "watch_url": "https://meet.jit.si/tikls-{date}"},
        **overrides,
    }


def vidzeme(**overrides: Any) -> dict[str, Any]:
    """A regional hybrid meeting on last Wednesdays, EU-funded."""
    return {
        "slug": VIDZEME,
        "title": {
            "lv": "Vidzemes pieredzes apmaiņas tikšanās",
            "en": "Vidzeme experience-sharing meetings",
        },
        "rrule": "FREQ=MONTHLY;BYDAY=-1WE",
        "start": "2026-12-30T13:00",
        "duration": "PT3H",
        "scope": "region",
        "region": "vidzeme",
        "place": {
            "kind": "hybrid",
            "venue": "Valmieras jauniešu centrs „Vinda“",
            "address": "Rīgas iela 10, Valmiera",
            "municipality": "valmieras-novads",
        },
        "organiser": {"name": "Vidzemes plānošanas reģions", "email": "jaunatne@example.lv"},
        "funding": {
            "text": {
                "lv": "Tikšanās notiek ar Eiropas Sociālā fonda Plus atbalstu.",
                "en": "The meetings are supported by the European Social Fund Plus.",
            },
            "project": "4.2.4.1/1/24/I/001",
        },
        **overrides,
    }


def members_only(**overrides: Any) -> dict[str, Any]:
    """Coordinators' meetings that only network members may see."""
    return {
        "slug": MEMBERS,
        "title": "Koordinatoru slēgtās sanāksmes",
        "rrule": "FREQ=MONTHLY;BYDAY=1TU",
        "start": "2026-12-01T09:00",
        "duration": "PT1H",
        "visibility": "members",
        **overrides,
    }


def import_entries(context: Context, tmp_path: Path, *entries: dict[str, Any]) -> None:
    """Write the entries as a series file and import it, as `vcs series import` does."""
    text = "\n".join(
        "[[series]]\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in entry.items())
        for entry in entries
    )
    path = tmp_path / f"series-{len(list(tmp_path.glob('series-*.toml')))}.toml"
    path.write_text(text, encoding="utf-8")
    import_series(context, read_series_file(path), actor="test")
    provision_soon(context)


def browse(context: Context) -> TestClient:
    return TestClient(create_app(context))


def session_id(context: Context, slug: str, local_date: str) -> int:
    """The id of the session of series `slug` on a Riga date like "2027-01-14"."""
    with context.database.session() as db:
        for found in db.scalars(select(Session).join(Session.series).where(Series.slug == slug)):
            if found.start.astimezone(sessions.timezone(found)).date().isoformat() == local_date:
                return found.id
    raise AssertionError(f"no session of {slug} on {local_date}")


def edit(context: Context, session: int, change: Any) -> None:
    with context.database.session() as db:
        change(db, sessions.get(db, session))


@contextmanager
def live_server(context: Context) -> Iterator[str]:
    """Serve the app with uvicorn on a free loopback port for the duration of the block."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(context), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
