"""Member CSV files: every row is checked before anything is saved, on SQLite and PostgreSQL;
importing the same file again, or what the export wrote, changes nothing."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from tests.conftest import make_settings
from tests.factories import NATIONAL, VIDZEME, import_entries, national, vidzeme
from vcs.bootstrap import initialise
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.membership.members_csv import ImportReport, MemberFileError, export_members, import_members
from vcs.storage.models import AuditEntry, Member

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
HEADER = "email;name;phone;municipality;organisation;position;language;follows;status;consent_at"
MUNICIPALITIES = ["cesu-novads", "Liepāja", "rezeknes-novads", "Jūrmala", "valmieras-novads"]


# -- factories ---------------------------------------------------------------------------------


@pytest.fixture
def installed(tmp_path: Path, any_database_url: str) -> Iterator[Context]:
    """A migrated installation with the network and two series, on SQLite or PostgreSQL."""
    settings = make_settings(tmp_path, VCS_DATABASE_URL=any_database_url)
    context = Context.from_settings(settings, FixedClock(NOW))
    initialise(context)
    import_entries(context, tmp_path, national(), vidzeme())
    yield context
    context.close()


def row(number: int, **overrides: str) -> str:
    """One well-formed member row in HEADER's columns; `overrides` replace cells by column."""
    cells = {
        "email": f"Jaunatne.{number}@Example.LV",
        "name": f"Līga Bērziņa-Ķēniņa {number}",
        "phone": f"+371 2{number:07d}",
        "municipality": MUNICIPALITIES[number % len(MUNICIPALITIES)],
        "organisation": "Jauniešu centrs „Šūpoles“",
        "position": "jaunatnes lietu speciāliste",
        "language": "en" if number % 7 == 0 else "lv",
        "follows": ["all", f"series:{NATIONAL}", "vidzeme", f"region:riga|{VIDZEME}"][number % 4],
        "status": "active",
        "consent_at": "2026-03-02T09:15:00+02:00",
        **overrides,
    }
    return ";".join(cells[column] for column in HEADER.split(";"))


def member_file(*rows: str, header: str = HEADER, separator: str = ";", bom: bool = False) -> bytes:
    text = "\r\n".join([header, *rows]).replace(";", separator) + "\r\n"
    return (("\ufeff" if bom else "") + text).encode("utf-8")


def import_bytes(context: Context, data: bytes, dry_run: bool = False) -> ImportReport:
    return import_members(context, data, "members.csv", "test", dry_run=dry_run)


def problems_of(context: Context, data: bytes) -> list[str]:
    with pytest.raises(MemberFileError) as raised:
        import_bytes(context, data)
    return raised.value.lines()


def counts(report: ImportReport) -> tuple[int, int, int]:
    return report.count("created"), report.count("updated"), report.count("unchanged")


def member_count(context: Context) -> int:
    with context.database.session() as db:
        return db.scalar(select(func.count()).select_from(Member)) or 0


def snapshot(context: Context) -> list[tuple[Any, ...]]:
    """Every member's stored values, to show that nothing changed."""
    with context.database.session() as db:
        return [
            (
                m.email, m.name, m.phone, m.municipality_id, m.organisation, m.position,
                m.language, m.follows_all, m.status, m.consent_at, m.feed_token, m.updated_at,
                sorted(s.slug for s in m.followed_series),
                sorted(r.slug for r in m.followed_regions),
            )
            for m in db.scalars(
                select(Member)
                .options(selectinload(Member.followed_series))
                .options(selectinload(Member.followed_regions))
                .order_by(Member.email)
            )
        ]  # fmt: skip


# -- all or nothing --------------------------------------------------------------------------


def test_three_bad_rows_among_500_import_nothing_and_each_is_reported(installed: Context) -> None:
    rows = [row(n) for n in range(1, 501)]
    rows[99] = row(100, email="jaunatne.100(at)example.lv")  # line 101
    rows[249] = row(250, municipality="Cēsis")  # line 251
    rows[449] = row(450, status="aktīvs")  # line 451

    problems = problems_of(installed, member_file(*rows))

    assert problems == [
        "members.csv: line 101: email: 'jaunatne.100(at)example.lv' is not an e-mail address "
        "(it needs one @)",
        "members.csv: line 251: municipality: unknown municipality 'Cēsis' (did you mean "
        "'Cēsu novads' (cesu-novads)?); give its name or slug from config/network.toml",
        "members.csv: line 451: status: must be one of pending, active, unsubscribed, bounced, "
        "not 'aktīvs'",
    ]
    assert member_count(installed) == 0


def test_clean_5000_rows_import_and_importing_again_changes_nothing(installed: Context) -> None:
    data = member_file(*(row(n) for n in range(1, 5001)))

    started = time.perf_counter()
    first = import_bytes(installed, data)
    first_seconds = time.perf_counter() - started
    before = snapshot(installed)
    audit_rows = _audit_count(installed)
    started = time.perf_counter()
    second = import_bytes(installed, data)
    second_seconds = time.perf_counter() - started

    print(f"5,000 rows: first import {first_seconds:.2f} s, again {second_seconds:.2f} s")
    assert counts(first) == (5000, 0, 0)
    assert counts(second) == (0, 0, 5000)
    assert second.summary() == "0 created, 0 updated, 5000 unchanged"
    assert snapshot(installed) == before
    assert _audit_count(installed) == audit_rows
    assert first_seconds < 30 and second_seconds < 30


def test_dry_run_reports_the_changes_and_writes_nothing(installed: Context) -> None:
    import_bytes(installed, member_file(row(1), row(2)))
    before = snapshot(installed)

    report = import_bytes(
        installed, member_file(row(1), row(2, name="Jānis Ozols"), row(3)), dry_run=True
    )

    assert [(r.line, r.email, r.outcome, r.changed) for r in report.rows] == [
        (2, "jaunatne.1@example.lv", "unchanged", ()),
        (3, "jaunatne.2@example.lv", "updated", ("name",)),
        (4, "jaunatne.3@example.lv", "created", report.rows[2].changed),
    ]
    assert snapshot(installed) == before


# -- what a file may look like ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("separator", "bom"), [(";", True), (";", False), (",", True), (",", False)]
)
def test_utf8_with_or_without_bom_and_either_separator_read_the_same(
    installed: Context, separator: str, bom: bool
) -> None:
    rows = [row(n, organisation="Jauniešu centrs") for n in range(1, 4)]
    report = import_bytes(installed, member_file(*rows, separator=separator, bom=bom))

    assert counts(report) == (3, 0, 0)
    with installed.database.session() as db:
        first = db.scalars(select(Member).where(Member.email == "jaunatne.1@example.lv")).one()
        assert (first.name, first.municipality.slug if first.municipality else None) == (
            "Līga Bērziņa-Ķēniņa 1",
            "liepaja",
        )


def test_latvian_diacritics_in_names_survive_import_and_export(installed: Context) -> None:
    name = "Ģirts Žūriņš-Čākste"
    organisation = "Ķekavas novada jauniešu māja „Ūdensroze“; filiāle"
    data = member_file(row(1, name=name, organisation=f'"{organisation}"'))
    import_bytes(installed, data)

    with installed.database.session() as db:
        member = db.scalars(select(Member)).one()
        assert (member.name, member.organisation) == (name, organisation)
        exported = export_members(db, installed.settings.tz).decode("utf-8-sig")
    assert name in exported and f'"{organisation}"' in exported


def test_columns_may_come_in_any_order_and_only_email_and_name_are_required(
    installed: Context,
) -> None:
    data = member_file("Jūrmala;Anna Ozola;ANNA.OZOLA@jurmala.lv", header="municipality;name;email")
    report = import_bytes(installed, data)

    assert counts(report) == (1, 0, 0)
    with installed.database.session() as db:
        member = db.scalars(select(Member)).one()
        assert (member.email, member.language, member.follows_all, member.status) == (
            "anna.ozola@jurmala.lv",
            "lv",
            True,
            "pending",
        )


def test_unknown_column_is_refused_with_a_hint(installed: Context) -> None:
    problems = problems_of(installed, member_file("a@b.lv;A", header="e-mail;name"))

    assert problems == [
        "members.csv: line 1: e-mail: unknown column (did you mean 'email'?); the columns are "
        "email, name, phone, municipality, organisation, position, language, follows, status, "
        "consent_at, consent_source, consent_text",
        "members.csv: line 1: email: column missing (email and name are required)",
    ]


def test_duplicate_email_in_the_file_is_refused_naming_both_lines(installed: Context) -> None:
    data = member_file(row(1), row(2), row(3, email=" JAUNATNE.1@example.lv "))

    assert problems_of(installed, data) == [
        "members.csv: line 4: email: 'jaunatne.1@example.lv' is already on line 2"
    ]
    assert member_count(installed) == 0


def test_unknown_municipality_is_refused_with_the_closest_name(installed: Context) -> None:
    data = member_file(row(1, municipality="Valmeras novads"), row(2, municipality="cesu novads"))

    assert problems_of(installed, data) == [
        "members.csv: line 2: municipality: unknown municipality 'Valmeras novads' (did you mean "
        "'Valmieras novads' (valmieras-novads)?); give its name or slug from config/network.toml"
    ]


def test_unknown_or_ambiguous_follows_are_refused(installed: Context) -> None:
    data = member_file(
        row(1, follows="vidzem"), row(2, follows="all|vidzeme"), row(3, follows="kanal:riga")
    )

    assert problems_of(installed, data) == [
        "members.csv: line 2: follows: unknown series or region 'vidzem' "
        "(did you mean 'region:vidzeme'?)",
        "members.csv: line 3: follows: all and none stand alone, without slugs",
        "members.csv: line 4: follows: 'kanal:riga': write series:SLUG or region:SLUG",
    ]


def test_a_file_that_is_not_utf8_is_refused_with_what_to_do(installed: Context) -> None:
    data = (HEADER + "\r\n" + row(1)).encode("cp1257")

    assert problems_of(installed, data) == [
        'members.csv: line 2: is not UTF-8; save it as "CSV UTF-8" (plain "CSV" from Excel on '
        "Latvian Windows is Windows-1257)"
    ]


# -- existing members --------------------------------------------------------------------------


def test_export_then_import_changes_nothing(installed: Context) -> None:
    rows = [row(n) for n in range(1, 41)]
    rows[0] = row(1, name='=HYPERLINK("http://x")', follows="none", consent_at="")
    rows[1] = row(2, organisation='"Centrs ""Ābele""; filiāle"', phone="")
    import_bytes(installed, member_file(*rows))
    with installed.database.session() as db:
        # Members made elsewhere carry microseconds that a file does not keep.
        for member in db.scalars(select(Member)):
            member.consent_at = NOW - dt.timedelta(days=3, microseconds=-123456)
    before = snapshot(installed)
    with installed.database.session() as db:
        exported = export_members(db, installed.settings.tz)

    report = import_bytes(installed, exported)

    assert exported.startswith(b"\xef\xbb\xbfemail;name;phone;municipality;")
    assert '\'=HYPERLINK(""http://x"")' in exported.decode("utf-8")
    assert counts(report) == (0, 0, 40)
    assert snapshot(installed) == before


def test_existing_member_keeps_feed_token_and_the_fields_the_file_leaves_out(
    installed: Context,
) -> None:
    import_bytes(installed, member_file(row(1), row(2)))
    with installed.database.session() as db:
        tokens = dict(db.execute(select(Member.email, Member.feed_token)).tuples().all())

    report = import_bytes(
        installed,
        member_file("jaunatne.1@example.lv;Līga Bērziņa;+371 29999999", header="email;name;phone"),
    )

    assert counts(report) == (0, 1, 0)
    assert report.rows[0].changed == ("name", "phone")
    with installed.database.session() as db:
        member = db.scalars(select(Member).where(Member.email == "jaunatne.1@example.lv")).one()
        assert member.feed_token == tokens[member.email]
        assert (member.name, member.phone, member.organisation, member.status) == (
            "Līga Bērziņa",
            "+371 29999999",
            "Jauniešu centrs „Šūpoles“",
            "active",
        )
        assert [s.slug for s in member.followed_series] == [NATIONAL]
        assert member_count(installed) == 2  # the member not in the file is still there


def test_a_member_who_unsubscribed_is_not_subscribed_again_by_a_file(installed: Context) -> None:
    import_bytes(installed, member_file(row(1, status="unsubscribed")))

    report = import_bytes(installed, member_file(row(1, status="active")))

    assert counts(report) == (0, 0, 1)
    assert report.rows[0].note.startswith("status: kept unsubscribed (the file says active)")
    with installed.database.session() as db:
        assert db.scalars(select(Member.status)).one() == "unsubscribed"


def test_every_change_is_in_the_audit_log(installed: Context) -> None:
    import_bytes(installed, member_file(row(1)))
    import_bytes(installed, member_file(row(1, position="vadītāja")))

    with installed.database.session() as db:
        entries = db.scalars(select(AuditEntry).where(AuditEntry.entity == "member")).all()
        assert [(e.action, e.actor) for e in entries] == [("create", "test"), ("update", "test")]
        assert (entries[1].before, entries[1].after) == (
            {"position": "jaunatnes lietu speciāliste"},
            {"position": "vadītāja"},
        )


def _audit_count(context: Context) -> int:
    with context.database.session() as db:
        return db.scalar(select(func.count()).select_from(AuditEntry)) or 0
