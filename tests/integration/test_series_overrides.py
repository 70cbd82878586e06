"""Overrides in series files: one date said differently, extra dates, cancellations, export.

The Kurzeme planning region's meetings (docs/examples/kurzeme.toml) are on the second Tuesday of
the month at 11.00 Riga time in Kuldīga: 12 January, 9 February, 9 March, 13 April and 11 May
2027 within the horizon from NOW (23 November 2026). Its one override puts the February meeting
in Liepāja, with a topic of its own.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import icalendar
import pytest
from sqlalchemy import func, select

from tests.conftest import isolated_environ
from tests.factories import browse, session_id
from tests.integration.test_series_files import toml_value
from tests.integration.test_staff_access import EDITOR, log_in, staff_site
from tests.integration.test_staff_series import form_of
from tests.mail_factories import mail_context, smtp_server
from vcs import digest as digests
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.demo import load_demo
from vcs.mail.sender import Sender
from vcs.membership.members import Follows, MemberSpec, create_member
from vcs.paths import PROJECT_DIR
from vcs.planning import sessions
from vcs.planning.series import ImportedSeries, SeriesError, import_series, read_series_file
from vcs.planning.series_export import export_series
from vcs.scheduler.jobs import registry
from vcs.scheduler.runs import run_job
from vcs.storage.models import AuditEntry, Series, Session

KURZEME_FILE = PROJECT_DIR / "docs" / "examples" / "kurzeme.toml"
KURZEME = "kurzemes-pieredzes-apmainas-tiksanas"
NOTHING_DONE = "0 created, 0 updated, 0 removed, 0 cancelled, 0 reinstated"
LIEPAJA = "Liepājas Jauniešu māja, Peldu iela 5, Liepāja"
KULDIGA = "Kuldīgas Jauniešu centrs, Liepājas iela 19, Kuldīga"


# -- factories ---------------------------------------------------------------------------------


def kurzeme_file(tmp_path: Path, *overrides: dict[str, Any], name: str = "kurzeme.toml") -> Path:
    """The example file with its own override replaced by `overrides` (none: the file as is)."""
    text = KURZEME_FILE.read_text(encoding="utf-8")
    if overrides:
        text = text[: text.index("# February")]
        for override in overrides:
            lines = [f"{key} = {toml_value(value)}" for key, value in override.items()]
            text += "[[series.sessions]]\n" + "\n".join(lines) + "\n\n"
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def import_file(context: Context, path: Path) -> list[ImportedSeries]:
    return import_series(context, read_series_file(path, "Europe/Riga"), actor="test")


def snapshot(context: Context) -> list[tuple[Any, ...]]:
    """What calendars, pages and inboxes see of every session, and the series' revision."""
    with context.database.session() as db:
        rows = db.execute(
            select(
                Session.id, Session.uid, Session.start, Session.end, Session.revision,
                Session.status, Session.cancel_reason, Session.topic_lv, Session.place,
                Session.edited, Series.revision,
            ).join(Session.series)
        )  # fmt: skip
        return sorted(tuple(row) for row in rows)


def audit_count(context: Context) -> int:
    with context.database.session() as db:
        return int(db.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def session(context: Context, local_date: str) -> Session:
    with context.database.session() as db:
        return sessions.get(db, session_id(context, KURZEME, local_date))


def riga_dates(context: Context) -> list[str]:
    with context.database.session() as db:
        found = db.scalars(select(Session).order_by(Session.start))
        return [f"{s.start.astimezone(sessions.timezone(s)):%Y-%m-%d %H:%M}" for s in found]


def exported(context: Context, tmp_path: Path, name: str = "exported.toml") -> Path:
    with context.database.session() as db:
        text = export_series(db, KURZEME)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def at(context: Context, when: dt.datetime) -> None:
    clock = context.clock
    assert isinstance(clock, FixedClock)
    clock.at = when


# -- the Kurzeme file --------------------------------------------------------------------------


def test_the_february_meeting_is_in_liepaja_on_every_page_feed_and_api(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    assert import_file(context, KURZEME_FILE)[0].outcome == "created"
    assert riga_dates(context) == [
        "2027-01-12 11:00", "2027-02-09 11:00", "2027-03-09 11:00", "2027-04-13 11:00",
        "2027-05-11 11:00",
    ]  # fmt: skip
    january, february = session(context, "2027-01-12"), session(context, "2027-02-09")
    client = browse(context)

    february_page = client.get(f"/sessions/{february.id}").text
    assert "Liepājas Jauniešu māja" in february_page
    assert "Darbs ar NEET jauniešiem" in february_page
    assert "Kuldīgas Jauniešu centrs" not in february_page
    january_page = client.get(f"/sessions/{january.id}").text
    assert "Kuldīgas Jauniešu centrs" in january_page
    assert "Liepājas Jauniešu māja" not in january_page

    calendar = icalendar.Calendar.from_ical(client.get("/calendar.ics").content)
    locations = {str(e["UID"]): str(e["LOCATION"]) for e in calendar.walk("VEVENT")}
    assert locations[february.uid] == LIEPAJA
    assert locations[january.uid] == KULDIGA

    listed = {row["id"]: row for row in client.get("/api/sessions?region=kurzeme").json()}
    assert listed[february.id]["place"]["venue"] == "Liepājas Jauniešu māja"
    assert listed[february.id]["place"]["municipality"] == "liepaja"
    assert listed[february.id]["topic"] == {
        "lv": "Darbs ar NEET jauniešiem",
        "en": "Working with NEET youth",
    }
    assert listed[january.id]["place"]["venue"] == "Kuldīgas Jauniešu centrs"


def test_the_digest_preview_puts_february_in_liepaja(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    import_file(context, KURZEME_FILE)
    # Monday 1 February 2027: that week's issue covers the coming 14 days.
    now = dt.datetime(2027, 2, 1, 8, 0, tzinfo=dt.UTC)
    with context.database.session() as db:
        digest, _ = digests.draft(db, context.settings, now, "test")
        _subject, text, html = digests.preview(db, context.settings, digest, "lv")
    assert "Liepājas Jauniešu māja" in text
    assert "Darbs ar NEET jauniešiem" in text
    assert "Kuldīgas Jauniešu centrs" not in text
    assert "Liepājas Jauniešu māja" in html


def test_the_announcement_of_february_says_liepaja(tmp_path: Path) -> None:
    with smtp_server() as (sink, port):
        context = mail_context(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        import_file(context, KURZEME_FILE)
        with context.database.session() as db:
            spec = MemberSpec(
                email="inga@kuldiga.example.lv",
                name="Inga Ozola",
                status="active",
                follows=Follows(False, regions=frozenset({"kurzeme"})),
            )
            create_member(db, spec, actor="test")
        # Six days and 23 hours before Tuesday 9 February, 11.00 Riga (09.00 UTC).
        at(context, dt.datetime(2027, 2, 2, 10, 0, tzinfo=dt.UTC))
        run = run_job(context, registry.get("announce"), trigger="test")
        assert run.outcome == "ok", run.error
        Sender(context).run()
        [message] = sink.received()
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        text = str(part.get_content())
        assert "Liepājas Jauniešu māja" in text
        assert "Darbs ar NEET jauniešiem" in text
        assert "Kuldīgas Jauniešu centrs" not in text
        context.close()


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_importing_the_kurzeme_file_again_changes_nothing(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if database == "postgres" else None
    context = mail_context(tmp_path, url)
    import_file(context, KURZEME_FILE)
    before, audited = snapshot(context), audit_count(context)
    assert import_file(context, KURZEME_FILE) == [ImportedSeries(KURZEME, "same", NOTHING_DONE)]
    assert snapshot(context) == before
    assert audit_count(context) == audited
    context.close()


def test_the_demo_holds_the_kurzeme_meetings_in_kuldiga_then_in_liepaja(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    said = list(load_demo(context))
    assert f"demo: series {KURZEME} created; sessions: 5 created, 0 updated, 0 removed, " in (
        "\n".join(said)
    )
    with context.database.session() as db:
        slugs = set(db.scalars(select(Series.slug)))
        assert {"jaunatnes-lietu-videokonferences", KURZEME} <= slugs
        series = db.scalars(select(Series).where(Series.slug == KURZEME)).one()
        assert series.organiser_name and series.organiser_email and series.organiser_phone
        assert "Eiropas Sociālā fonda Plus" in series.funding_text_lv
        assert "European Social Fund Plus" in series.funding_text_en
        assert series.funding_project == "4.2.4.1/1/24/I/001"
    first, february = session(context, "2027-01-12"), session(context, "2027-02-09")
    # The demo dresses the other regional series by hand, but leaves Kurzeme's as its file says.
    assert (first.place, first.edited) == (None, False)
    assert february.place is not None and february.place["municipality"] == "liepaja"
    assert series.place["municipality"] == "kuldigas-novads"
    context.close()


# -- export ------------------------------------------------------------------------------------


def staff_edits(context: Context) -> None:
    """March gets a topic and a speaker, April is cancelled, and a one-off session in March."""
    with context.database.session() as db:
        march = sessions.get(db, session_id(context, KURZEME, "2027-03-09"))
        sessions.update_details(
            db,
            march,
            "staff@example.lv",
            topic_lv="Jauniešu līdzdalība",
            speakers=[{"name": "Ilze Bērziņa", "role": "speciāliste"}],
        )
        april = sessions.get(db, session_id(context, KURZEME, "2027-04-13"))
        sessions.cancel(db, april, "Lieldienu brīvdienas", "staff@example.lv")
        series = db.scalars(select(Series).where(Series.slug == KURZEME)).one()
        extra_start = dt.datetime(2027, 3, 23, 12, 0, tzinfo=dt.UTC)
        sessions.add_extra(
            db, series, extra_start, extra_start + dt.timedelta(hours=2), "staff", "example.lv"
        )


def test_export_says_the_file_and_staff_edits_and_importing_it_changes_nothing(
    tmp_path: Path,
) -> None:
    context = mail_context(tmp_path)
    import_file(context, KURZEME_FILE)
    staff_edits(context)
    before, audited = snapshot(context), audit_count(context)

    path = exported(context, tmp_path)
    [entry] = tomllib.loads(path.read_text(encoding="utf-8"))["series"]
    said = {override["date"]: override for override in entry["sessions"]}
    assert said["2027-02-09"]["place"]["venue"] == "Liepājas Jauniešu māja"
    assert said["2027-03-09"]["topic"] == {"lv": "Jauniešu līdzdalība"}
    assert said["2027-04-13"] == {
        "date": "2027-04-13",
        "cancelled": True,
        "reason": "Lieldienu brīvdienas",
    }
    assert said["2027-03-23"] == {
        "date": "2027-03-23",
        "extra": True,
        "start": "14:00",
        "duration": "PT2H",
    }

    assert import_file(context, path) == [ImportedSeries(KURZEME, "same", NOTHING_DONE)]
    assert snapshot(context) == before
    assert audit_count(context) == audited
    # And again, with the file exported from what the import left.
    assert import_file(context, exported(context, tmp_path, "again.toml"))[0].outcome == "same"
    assert snapshot(context) == before
    context.close()


def test_an_exported_file_makes_the_same_sessions_on_another_installation(
    tmp_path: Path,
) -> None:
    first = mail_context(tmp_path / "first")
    import_file(first, KURZEME_FILE)
    staff_edits(first)
    path = exported(first, tmp_path)
    second = mail_context(tmp_path / "second")
    import_file(second, path)

    def seen(context: Context) -> list[tuple[Any, ...]]:
        with context.database.session() as db:
            rows = db.execute(
                select(
                    Session.start, Session.end, Session.status, Session.cancel_reason,
                    Session.topic_lv, Session.speakers, Session.place,
                ).order_by(Session.start)
            )  # fmt: skip
            return [tuple(row) for row in rows]

    assert seen(second) == seen(first)
    first.close()
    second.close()


# -- what an override may say ------------------------------------------------------------------


def test_a_date_the_rule_does_not_give_is_refused_naming_the_nearest(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    # Wednesday 10 February: the meeting is on Tuesday the 9th.
    path = kurzeme_file(tmp_path, {"date": "2027-02-10", "topic": "Darbs ar NEET jauniešiem"})
    with pytest.raises(SeriesError) as refused:
        import_file(context, path)
    [problem] = refused.value.problems
    assert problem.code == "series.sessions.not-in-the-rule"
    assert refused.value.lines()[0].endswith(
        "sessions #1 (2027-02-10): date: 2027-02-10 is not a date of the series' rule; the "
        "nearest ones are 2027-02-09 and 2027-03-09 (a session outside the rule needs "
        "extra = true)"
    )
    assert refused.value.lines("lv")[0].endswith(
        "1. sesija (2027-02-10): datums: 2027-02-10 nav sērijas noteikuma datums; tuvākie ir "
        "2027-02-09 un 2027-03-09 (sesijai ārpus noteikuma vajag extra = true)"
    )
    with context.database.session() as db:
        assert db.scalar(select(func.count()).select_from(Series)) == 0
    # Before the first meeting there is only a later one.
    early = kurzeme_file(tmp_path, {"date": "2027-01-05", "topic": "x"}, name="early.toml")
    with pytest.raises(SeriesError) as refused:
        import_file(context, early)
    assert "the nearest one is 2027-01-12" in refused.value.lines()[0]
    context.close()


def test_an_extra_date_is_a_session_of_its_own(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    extra = {
        "date": "2027-02-23",
        "extra": True,
        "start": "14:00",
        "duration": "PT1H30M",
        "topic": {"lv": "Papildu tikšanās", "en": "An extra meeting"},
    }
    path = kurzeme_file(tmp_path, extra)
    import_file(context, path)
    assert "2027-02-23 14:00" in riga_dates(context)
    made = session(context, "2027-02-23")
    assert made.end - made.start == dt.timedelta(minutes=90)
    assert made.edited is False
    listed = browse(context).get("/api/sessions?series=" + KURZEME).json()
    assert [row["topic"]["en"] for row in listed if row["id"] == made.id] == ["An extra meeting"]
    assert import_file(context, path)[0].sessions == NOTHING_DONE
    # An extra date without its time, and one at the time of the rule's session, are refused.
    no_time = kurzeme_file(tmp_path, {"date": "2027-02-23", "extra": True}, name="no-time.toml")
    with pytest.raises(SeriesError) as refused:
        import_file(context, no_time)
    assert refused.value.code == "series.sessions.extra-needs-start"
    same = kurzeme_file(
        tmp_path, {"date": "2027-02-09", "extra": True, "start": "11:00"}, name="same.toml"
    )
    with pytest.raises(SeriesError) as refused:
        import_file(context, same)
    assert refused.value.code == "series.sessions.extra-is-in-the-rule"
    context.close()


def test_a_cancelled_override_cancels_with_its_reason_and_removing_it_reinstates(
    tmp_path: Path,
) -> None:
    context = mail_context(tmp_path)
    import_file(context, kurzeme_file(tmp_path, {"date": "2027-03-09", "topic": "Plānošana"}))
    revision = session(context, "2027-03-09").revision
    cancelled = {"date": "2027-03-09", "cancelled": True, "reason": "Telpas nav pieejamas"}
    results = import_file(context, kurzeme_file(tmp_path, cancelled))
    assert results[0].sessions == "0 created, 0 updated, 0 removed, 1 cancelled, 0 reinstated"
    march = session(context, "2027-03-09")
    assert (march.status, march.cancel_reason) == ("cancelled", "Telpas nav pieejamas")
    assert march.revision == revision + 1
    assert march.edited is False
    assert "Telpas nav pieejamas" in browse(context).get(f"/sessions/{march.id}").text
    results = import_file(context, kurzeme_file(tmp_path, {"date": "2027-03-09", "start": "12:30"}))
    assert results[0].sessions == "0 created, 0 updated, 0 removed, 0 cancelled, 1 reinstated"
    march = session(context, "2027-03-09")
    assert (march.status, march.cancel_reason) == ("scheduled", "")
    assert f"{march.start.astimezone(sessions.timezone(march)):%H:%M}" == "12:30"
    # A reason without cancelled = true is refused.
    reason = kurzeme_file(tmp_path, {"date": "2027-03-09", "reason": "x"}, name="reason.toml")
    with pytest.raises(SeriesError) as refused:
        import_file(context, reason)
    assert refused.value.code == "series.sessions.reason-alone"
    context.close()


def test_a_session_staff_edited_keeps_its_edit_when_the_file_is_imported_again(
    tmp_path: Path,
) -> None:
    context = mail_context(tmp_path)
    import_file(context, KURZEME_FILE)
    with context.database.session() as db:
        february = sessions.get(db, session_id(context, KURZEME, "2027-02-09"))
        sessions.update_details(db, february, "staff", place={"kind": "online"})
    edited = session(context, "2027-02-09")
    # The file now says another topic and place for February: staff's edit wins.
    changed = {
        "date": "2027-02-09",
        "topic": "Cits temats",
        "place": {"kind": "venue", "venue": "Talsu jauniešu centrs", "address": "Talsi"},
    }
    results = import_file(context, kurzeme_file(tmp_path, changed))
    assert results == [ImportedSeries(KURZEME, "same", NOTHING_DONE)]
    kept = session(context, "2027-02-09")
    assert kept.place == {"kind": "online"}
    assert kept.topic_lv == "Darbs ar NEET jauniešiem"
    assert kept.revision == edited.revision
    context.close()


def test_an_override_with_an_unknown_municipality_or_key_saves_nothing(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    place = {"kind": "hybrid", "venue": "Centrs", "address": "Iela 1", "municipality": "liepja"}
    path = kurzeme_file(tmp_path, {"date": "2027-02-09", "place": place, "topik": "x"})
    with pytest.raises(SeriesError) as refused:
        import_file(context, path)
    assert [problem.code for problem in refused.value.problems] == ["series.unknown-key"]
    assert "topik: unknown key (did you mean 'topic'?)" in refused.value.lines()[0]
    path = kurzeme_file(tmp_path, {"date": "2027-02-09", "place": place})
    with pytest.raises(SeriesError) as refused:
        import_file(context, path)
    assert refused.value.code == "series.place.municipality-unknown"
    assert refused.value.lines()[0].endswith(
        "the session of 2027-02-09: place.municipality: unknown municipality 'liepja'"
    )
    with context.database.session() as db:
        assert db.scalar(select(func.count()).select_from(Session)) == 0
    context.close()


def test_the_cli_exports_to_standard_output_or_a_file_and_the_file_imports_as_same(
    tmp_path: Path,
) -> None:
    def vcs(*args: str) -> subprocess.CompletedProcess[str]:
        environ = {"PATH": "/usr/bin:/bin", **isolated_environ(tmp_path)}
        command = [sys.executable, "-m", "vcs", *args]
        return subprocess.run(command, env=environ, capture_output=True, text=True, check=False)

    assert vcs("init").returncode == 0
    imported = vcs("series", "import", str(KURZEME_FILE))
    assert imported.stdout.startswith(f"{KURZEME}: created; sessions: ")
    shown = vcs("series", "export", KURZEME)
    assert shown.returncode == 0, shown.stderr
    assert '[[series.sessions]]\ndate = "2027-02-09"' in shown.stdout
    written = tmp_path / "kurzeme-export.toml"
    assert vcs("series", "export", "--output", str(written)).returncode == 0
    assert written.read_text(encoding="utf-8") == shown.stdout
    again = vcs("series", "import", str(written))
    assert again.stdout == f"{KURZEME}: same; sessions: {NOTHING_DONE}\n"
    unknown = vcs("series", "export", "no-such-series")
    assert (unknown.returncode, unknown.stderr) == (1, "vcs: series: no series 'no-such-series'\n")


def test_saving_the_staff_series_form_keeps_the_files_overrides(
    context: Context, tmp_path: Path
) -> None:
    client = staff_site(context, tmp_path)
    import_file(context, KURZEME_FILE)
    log_in(client, EDITOR)
    page = f"/staff/series/{KURZEME}"
    fields = form_of(client.get(page).text, page)
    fields.update(title_lv="Kurzemes pieredzes apmaiņa", action="save")
    response = client.post(page, data=fields)
    assert response.headers["location"] == f"{page}?done=changed"
    february = session(context, "2027-02-09")
    assert february.place is not None and february.place["venue"] == "Liepājas Jauniešu māja"
    assert february.topic_lv == "Darbs ar NEET jauniešiem"
