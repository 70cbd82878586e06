"""The series form in the staff area: the recurrence builder and the raw rule, the preview of the
next ten dates without scripts and as JSON, problems shown next to their fields, and saving
through the same checks and the same import as a series file."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from starlette.testclient import TestClient

from tests.factories import NATIONAL, import_entries, national
from tests.integration.test_staff_access import EDITOR, log_in, staff_site
from vcs.context import Context
from vcs.storage.models import AuditEntry, Series, Session

SECOND_THURSDAYS = [
    "ceturtdiena, 2026. gada 10. decembris, 10.00",
    "ceturtdiena, 2027. gada 14. janvāris, 10.00",
    "ceturtdiena, 2027. gada 11. februāris, 10.00",
    "ceturtdiena, 2027. gada 11. marts, 10.00",
    "ceturtdiena, 2027. gada 8. aprīlis, 10.00",
    "ceturtdiena, 2027. gada 13. maijs, 10.00",
    "ceturtdiena, 2027. gada 10. jūnijs, 10.00",
    "ceturtdiena, 2027. gada 8. jūlijs, 10.00",
    "ceturtdiena, 2027. gada 12. augusts, 10.00",
    "ceturtdiena, 2027. gada 9. septembris, 10.00",
]


class FormReader(HTMLParser):
    """The fields a browser would send from the form with `action`, as (name, value) pairs."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.disabled = 0
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        if tag == "fieldset":
            self.disabled += 1 if "disabled" in a or self.disabled else 0
        elif self.disabled:
            return
        elif tag == "input" and a.get("name") and a.get("type") not in ("submit", "file"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.fields.append((a["name"], a.get("value", "on")))
        elif tag == "select":
            self.select = a.get("name")
        elif tag == "option" and self.select and "selected" in a:
            self.fields.append((self.select, a.get("value", "")))
        elif tag == "textarea":
            self.textarea = a.get("name")
            self.fields.append((self.textarea or "", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "fieldset" and self.disabled:
            self.disabled -= 1
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea and self.inside:
            name, value = self.fields[-1]
            self.fields[-1] = (name, value + data.lstrip("\n") if not value else value + data)


def form_of(html: str, action: str) -> dict[str, Any]:
    reader = FormReader(action)
    reader.feed(html)
    fields: dict[str, Any] = {}
    for name, value in reader.fields:
        if name == "byday":
            fields.setdefault(name, []).append(value)
        else:
            fields[name] = value
    return fields


def editor_on(context: Context, tmp_path: Path, path: str) -> tuple[TestClient, str]:
    client = staff_site(context, tmp_path)
    log_in(client, EDITOR)
    page = client.get(path)
    assert page.status_code == 200
    return client, page.text


def preview_dates(html: str) -> list[str]:
    found = re.search(r'<ol id="preview-dates">(.*?)</ol>', html, re.DOTALL)
    assert found, "the page has no preview list"
    return re.findall(r"<li>(.*?)</li>", found.group(1))


def second_thursdays_form(html: str, **changes: Any) -> dict[str, Any]:
    """The new-series form with "every second Thursday at 10.00" built in the builder."""
    fields = form_of(html, "/staff/series/new")
    fields.update(
        slug="otras-ceturtdienas",
        title_lv="Otrās ceturtdienas",
        start="2026-12-10T10:00",
        freq="MONTHLY",
        monthly="weekday",
        setpos="2",
        setpos_day="TH",
    )
    fields.update(changes)
    return fields


def series_count(context: Context) -> int:
    with context.database.session() as db:
        return db.scalar(select(func.count()).select_from(Series)) or 0


def test_the_preview_without_scripts_lists_the_next_ten_dates(
    context: Context, tmp_path: Path
) -> None:
    client, html = editor_on(context, tmp_path, "/staff/series/new")
    before = series_count(context)
    response = client.post("/staff/series/new", data=second_thursdays_form(html, action="preview"))
    assert response.status_code == 200
    assert preview_dates(response.text) == SECOND_THURSDAYS
    # The builder wrote the raw rule, and says it in words.
    assert form_of(response.text, "/staff/series/new")["rrule"] == "FREQ=MONTHLY;BYDAY=2TH"
    assert "katru mēnesi: otrā ceturtdiena" in response.text
    assert series_count(context) == before


def test_a_bad_rule_is_shown_next_to_its_field_and_nothing_is_saved(
    context: Context, tmp_path: Path
) -> None:
    client, html = editor_on(context, tmp_path, "/staff/series/new")
    before = series_count(context)
    fields = second_thursdays_form(html, start="2026-12-09T10:00", action="save")
    response = client.post("/staff/series/new", data=fields)
    assert response.status_code == 400
    error = re.search(r'<span class="field-error" id="rrule-error">(.*?)</span>', response.text)
    # In the page's language, as every problem of the series checks.
    assert error and "pirmā reize pēc noteikuma ir 2026-12-10 10:00" in error.group(1)
    field = re.search(r'<input id="rrule" [^>]*>', response.text)
    assert field and 'aria-invalid="true"' in field.group(0)
    assert "rrule-error" in field.group(0)
    assert 'role="alert"' in response.text and 'href="#rrule"' in response.text
    assert series_count(context) == before


def test_a_rule_typed_by_hand_wins_over_the_builder(context: Context, tmp_path: Path) -> None:
    client, html = editor_on(context, tmp_path, "/staff/series/new")
    fields = second_thursdays_form(html, rrule="FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1")
    fields.update(start="2026-12-31T10:00", action="preview")
    response = client.post("/staff/series/new", data=fields)
    assert response.status_code == 200
    assert preview_dates(response.text)[:2] == [
        "ceturtdiena, 2026. gada 31. decembris, 10.00",
        "piektdiena, 2027. gada 29. janvāris, 10.00",
    ]
    # The builder cannot show "the last weekday": it is disabled, with a note.
    assert re.search(r'<fieldset id="recurrence-builder" class="builder" disabled>', response.text)
    assert '<p id="builder-note" class="hint">' in response.text


def test_saving_the_form_makes_what_importing_the_equivalent_file_makes(
    context: Context, tmp_path: Path
) -> None:
    client, html = editor_on(context, tmp_path, "/staff/series/new")
    fields = second_thursdays_form(
        html,
        slug="no-formas",
        title_en="Second Thursdays",
        description_lv="Pieredzes apmaiņa",
        duration="120",
        place_kind="hybrid",
        place_venue="Valmieras jauniešu centrs",
        place_address="Rīgas iela 10, Valmiera",
        place_municipality="valmieras-novads",
        organiser_name="Vidzemes plānošanas reģions",
        organiser_email="jaunatne@example.lv",
        scope="region",
        region="vidzeme",
        watch_url="https://meet.jit.si/vidzeme-{date}",
        funding_text_lv="Ar ESF+ atbalstu.",
        funding_project="4.2.4.1/1/24/I/001",
        tags="pieredze, jaunatnes politika",
        exdates="2027-01-14T10:00",
        end="count",
        count="6",
        action="save",
    )
    response = client.post("/staff/series/new", data=fields)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/staff/series/no-formas?done=created"
    import_entries(
        context,
        tmp_path,
        {
            "slug": "no-faila",
            "title": {"lv": "Otrās ceturtdienas", "en": "Second Thursdays"},
            "description": {"lv": "Pieredzes apmaiņa"},
            "rrule": "FREQ=MONTHLY;COUNT=6;BYDAY=2TH",
            "start": "2026-12-10T10:00",
            "timezone": "Europe/Riga",
            "duration": "PT2H",
            "exdates": ["2027-01-14T10:00"],
            "scope": "region",
            "region": "vidzeme",
            "place": {
                "kind": "hybrid",
                "venue": "Valmieras jauniešu centrs",
                "address": "Rīgas iela 10, Valmiera",
                "municipality": "valmieras-novads",
            },
            "organiser": {"name": "Vidzemes plānošanas reģions", "email": "jaunatne@example.lv"},
            "tags": ["pieredze", "jaunatnes politika"],
            "livestream": {"provider": "static", "watch_url": "https://meet.jit.si/vidzeme-{date}"},
            "funding": {"text": {"lv": "Ar ESF+ atbalstu."}, "project": "4.2.4.1/1/24/I/001"},
        },
    )
    skip = {"id", "slug", "created_at", "updated_at"}
    with context.database.session() as db:
        made = {}
        for slug in ("no-formas", "no-faila"):
            series = db.scalars(select(Series).where(Series.slug == slug)).one()
            columns = {c.key: getattr(series, c.key) for c in Series.__table__.columns}
            starts = db.scalars(
                select(Session.start).where(Session.series_id == series.id).order_by(Session.start)
            ).all()
            made[slug] = ({k: v for k, v in columns.items() if k not in skip}, starts)
        assert made["no-formas"] == made["no-faila"]
        assert len(made["no-formas"][1]) == 5  # six by COUNT, one left out
        entry = db.scalars(
            select(AuditEntry).where(AuditEntry.entity == "series", AuditEntry.action == "create")
        ).all()
        assert EDITOR in [e.actor for e in entry]
    page = client.get(response.headers["location"])
    assert "Sērija ir izveidota" in page.text
    assert preview_dates(page.text)[0] == "ceturtdiena, 2026. gada 10. decembris, 10.00"


def test_saving_a_series_unchanged_changes_nothing(context: Context, tmp_path: Path) -> None:
    client, html = editor_on(context, tmp_path, f"/staff/series/{NATIONAL}")
    fields = form_of(html, f"/staff/series/{NATIONAL}")
    assert fields["rrule"] == "FREQ=MONTHLY;BYDAY=2TH"
    assert (fields["freq"], fields["monthly"], fields["setpos"], fields["setpos_day"]) == (
        "MONTHLY",
        "weekday",
        "2",
        "TH",
    )
    response = client.post(f"/staff/series/{NATIONAL}", data={**fields, "action": "save"})
    assert response.headers["location"] == f"/staff/series/{NATIONAL}?done=same"
    # A changed title reaches the series, and the builder's rule stays.
    fields.update(title_lv="Jauns nosaukums", action="save")
    response = client.post(f"/staff/series/{NATIONAL}", data=fields)
    assert response.headers["location"] == f"/staff/series/{NATIONAL}?done=changed"
    with context.database.session() as db:
        series = db.scalars(select(Series).where(Series.slug == NATIONAL)).one()
        assert (series.title_lv, series.rrule, series.revision) == (
            "Jauns nosaukums",
            "FREQ=MONTHLY;BYDAY=2TH",
            2,
        )


def test_a_new_series_may_not_take_an_existing_address(context: Context, tmp_path: Path) -> None:
    client, html = editor_on(context, tmp_path, "/staff/series/new")
    fields = second_thursdays_form(html, slug=NATIONAL, action="save")
    response = client.post("/staff/series/new", data=fields)
    assert response.status_code == 400
    assert "Sērija ar šādu adresi jau ir" in response.text
    with context.database.session() as db:
        series = db.scalars(select(Series).where(Series.slug == NATIONAL)).one()
        assert series.title_lv == national()["title"]["lv"]


def test_the_json_preview_gives_ten_dates_or_the_problems(context: Context, tmp_path: Path) -> None:
    client, _html = editor_on(context, tmp_path, "/staff/series")
    params = {"rrule": "FREQ=MONTHLY;BYDAY=2TH", "start": "2026-12-10T10:00"}
    answer = client.get("/staff/series/preview", params=params)
    assert answer.status_code == 200
    assert [item["text"] for item in answer.json()["dates"]] == SECOND_THURSDAYS
    assert answer.json()["dates"][0]["start"] == "2026-12-10T08:00:00+00:00"
    english = client.get("/staff/series/preview", params={**params, "lang": "en"}).json()
    assert english["dates"][0]["text"] == "Thursday, 10 December 2026, 10:00"
    assert english["words"] == "every month: second Thursday"
    bad = client.get("/staff/series/preview", params={**params, "rrule": "FREQ=HOURLY"})
    assert bad.status_code == 400
    assert "ir biežāks par DAILY" in bad.json()["errors"]["rrule"][0]
    bad = client.get(
        "/staff/series/preview", params={**params, "rrule": "FREQ=HOURLY", "lang": "en"}
    )
    assert "finer than DAILY" in bad.json()["errors"]["rrule"][0]


def test_the_series_list_says_each_rule_in_words(context: Context, tmp_path: Path) -> None:
    _client, html = editor_on(context, tmp_path, "/staff/series")
    assert f'href="/staff/series/{NATIONAL}"' in html
    assert "katru mēnesi: otrā ceturtdiena" in html
    assert "10. decembris, 10.00" in html  # the next session
    assert "visam tīklam" in html and "publiska" in html


def test_a_series_whose_count_is_beyond_the_builder_saves_unchanged(
    context: Context, tmp_path: Path
) -> None:
    # The builder offers 1 to 1000 sessions; a file may say more. The form must not show such a
    # rule in the builder, which would rewrite it (COUNT=1) and refuse to save.
    client, _html = editor_on(context, tmp_path, "/staff/series")
    import_entries(context, tmp_path, national(rrule="FREQ=MONTHLY;COUNT=1500;BYDAY=2TH"))
    page = client.get(f"/staff/series/{NATIONAL}")
    assert re.search(r'<fieldset id="recurrence-builder" class="builder" disabled>', page.text)
    fields = form_of(page.text, f"/staff/series/{NATIONAL}")
    response = client.post(f"/staff/series/{NATIONAL}", data={**fields, "action": "save"})
    assert response.headers.get("location") == f"/staff/series/{NATIONAL}?done=same"


def test_a_rule_typed_without_freq_is_a_problem_beside_the_rule(
    context: Context, tmp_path: Path
) -> None:
    client, html = editor_on(context, tmp_path, "/staff/series/new")
    for action, status in (("preview", 200), ("save", 400)):
        fields = second_thursdays_form(html, rrule="INTERVAL=2;BYDAY=TH", action=action)
        response = client.post("/staff/series/new", data=fields)
        assert response.status_code == status, action
        assert 'id="rrule-error"' in response.text
        assert '<p id="builder-note" class="hint">' in response.text
