"""Staff pages for series: the list, the series form with its recurrence builder, and the preview
of the next ten dates (a page without scripts, JSON for static/recurrence.js).

The form is turned into the entry a series file would hold and goes through the same checks
(`series.parse_series`) and the same save (`series.import_series`, which materializes at once),
so a series saved here is exactly one imported from a file. The builder's controls and the raw
rule are settled by vcs.planning.recurrence_form.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from vcs import dates
from vcs.errors import VcsError
from vcs.i18n import N_, gettext_for
from vcs.livestream.jobs import provision_soon
from vcs.planning import recurrence, registrations
from vcs.planning.recurrence_form import (
    Builder,
    choose_rule,
    position_names,
    rule_in_words,
    show_builder,
    weekday_names,
)
from vcs.planning.series import SeriesSpec, import_series, parse_series
from vcs.providers.registry import REGISTRY
from vcs.states import SessionStatus
from vcs.storage.models import Municipality, Region, Series, Session
from vcs.web.staff import feedback as staff_feedback
from vcs.web.staff.pages import Refusal, Staff, attempt, page, staff_render
from vcs.web.templating import request_language

PREVIEW_COUNT = 10
BUILDER_CONTROLS = {"interval", "count", "until", "monthday"}
TEXT_FIELDS = (
    "slug", "title_lv", "title_en", "description_lv", "description_en", "start", "timezone",
    "duration", "place_kind", "place_venue", "place_address", "place_municipality",
    "organiser_name", "organiser_email", "organiser_phone", "scope", "region", "visibility",
    "livestream_provider", *REGISTRY.form_fields(), "funding_text_lv", "funding_text_en",
    "funding_project", "join_url", "tags", "exdates", "rrule",
    "rrule_shown", "freq", "interval", "monthly", "monthday", "setpos", "setpos_day", "end",
    "count", "until", "registration_capacity", "registration_closes", "registration_unit",
    "registration_shown",
)  # fmt: skip
# How long before the start registration closes, as the form says it: a number of these.
DONE = {
    "created": N_("The series has been created and its sessions made."),
    "changed": N_("The series has been saved and its sessions updated."),
    "same": N_("Nothing was changed."),
}

Values = dict[str, Any]
Errors = dict[str, list[str]]


# --- the form -------------------------------------------------------------------------------


def form_values(form: FormData) -> Values:
    """The form's fields as text (and the weekdays as a list)."""
    values: Values = {key: str(form.get(key, "")).strip() for key in TEXT_FIELDS}
    values["byday"] = [str(day) for day in form.getlist("byday")]
    values["active"] = "active" in form
    values["registration_open"] = "registration_open" in form
    # Which button sent the form: "preview" (show the dates) or "save".
    values["action"] = str(form.get("action", "save"))
    return values


def new_values(timezone: str) -> Values:
    """A blank form: weekly, online, national, public, 90 minutes."""
    values: Values = dict.fromkeys(TEXT_FIELDS, "")
    values.update(Builder().fields())
    values.update(
        timezone=timezone,
        duration="90",
        place_kind="online",
        scope="national",
        visibility="public",
        livestream_provider=REGISTRY.default.name,
        **REGISTRY.form_values({}),
        rrule="FREQ=WEEKLY",
        active=True,
        registration_open=False,
        registration_unit="days",
    )
    return values


def series_values(series: Series) -> Values:
    """A saved series as the form shows it."""
    values: Values = dict.fromkeys(TEXT_FIELDS, "")
    place = series.place or {}
    values.update(
        slug=series.slug,
        title_lv=series.title_lv,
        title_en=series.title_en,
        description_lv=series.description_lv,
        description_en=series.description_en,
        start=f"{series.start_local:%Y-%m-%dT%H:%M}",
        timezone=series.timezone,
        duration=str(series.duration_minutes),
        place_kind=place.get("kind", "online"),
        place_venue=place.get("venue", ""),
        place_address=place.get("address", ""),
        place_municipality=place.get("municipality", ""),
        organiser_name=series.organiser_name,
        organiser_email=series.organiser_email,
        organiser_phone=series.organiser_phone,
        scope="region" if series.region else "national",
        region=series.region.slug if series.region else "",
        visibility=series.visibility,
        livestream_provider=series.livestream_provider,
        **REGISTRY.form_values(series.livestream_settings or {}),
        funding_text_lv=series.funding_text_lv,
        funding_text_en=series.funding_text_en,
        funding_project=series.funding_project,
        join_url=series.join_url,
        tags=", ".join(str(tag) for tag in series.tags),
        exdates="\n".join(str(value) for value in series.exdates),
        rrule=series.rrule,
        active=series.active,
        byday=[],
        **registration_values(series.registration),
    )
    return values


def registration_values(stored: dict[str, Any] | None) -> Values:
    """Stored registration settings as the form shows them: open, seats, "n units before"."""
    if not stored:
        return {
            "registration_open": False,
            "registration_capacity": "",
            "registration_closes": "",
            "registration_unit": "days",
            "registration_shown": "",
        }
    amount, unit = registrations.closes_in_units(stored.get("closes"))
    capacity = stored.get("capacity")
    return {
        "registration_open": bool(stored.get("open", True)),
        "registration_capacity": "" if capacity is None else str(capacity),
        "registration_closes": amount,
        "registration_unit": unit,
        "registration_shown": "1",
    }


def registration_entry(values: Values) -> dict[str, Any] | None:
    """The form's registration fields as a series file's table; None: the form sets none.

    A series that had settings always gets a table (unticking "open" closes registration); one
    that had none gets a table only when a field is filled in."""
    capacity, closes = values["registration_capacity"], values["registration_closes"]
    if not (values["registration_open"] or capacity or closes or values["registration_shown"]):
        return None
    table: dict[str, Any] = {"open": bool(values["registration_open"])}
    if capacity:
        table["capacity"] = int(capacity) if capacity.isascii() and capacity.isdigit() else capacity
    if closes:
        table["closes"] = registrations.closes_from_units(closes, values["registration_unit"])
    return table


def entry_of(values: Values, slug: str) -> dict[str, Any]:
    """The form as a series-file entry; what the form leaves empty is left out, as in a file."""
    entry: dict[str, Any] = {
        "slug": slug,
        "title": {"lv": values["title_lv"], "en": values["title_en"]},
        "rrule": values["rrule"],
        "start": values["start"],
        "timezone": values["timezone"],
        "duration": f"PT{values['duration']}M"
        if values["duration"].isascii() and values["duration"].isdigit()
        else values["duration"],
        "scope": values["scope"] or "national",
        "visibility": values["visibility"] or "public",
        "active": bool(values["active"]),
    }
    if values["description_lv"] or values["description_en"]:
        entry["description"] = {"lv": values["description_lv"], "en": values["description_en"]}
    exdates = [line.strip() for line in values["exdates"].splitlines() if line.strip()]
    if exdates:
        entry["exdates"] = exdates
    if entry["scope"] == "region":
        entry["region"] = values["region"]
    kind = values["place_kind"] or "online"
    place = {"kind": kind}
    keys = ("municipality",) if kind == "online" else ("venue", "address", "municipality")
    place.update({key: values[f"place_{key}"] for key in keys if values[f"place_{key}"]})
    entry["place"] = place
    organiser = {
        key: values[f"organiser_{key}"]
        for key in ("name", "email", "phone")
        if values[f"organiser_{key}"]
    }
    if organiser:
        entry["organiser"] = organiser
    tags = [tag.strip() for tag in values["tags"].split(",") if tag.strip()]
    if tags:
        entry["tags"] = tags
    entry["livestream"] = REGISTRY.series_table(values["livestream_provider"], values)
    if values["join_url"]:
        entry["join_url"] = values["join_url"]
    if values["funding_text_lv"] or values["funding_text_en"] or values["funding_project"]:
        entry["funding"] = {
            "text": {"lv": values["funding_text_lv"], "en": values["funding_text_en"]}
        }
        if values["funding_project"]:
            entry["funding"]["project"] = values["funding_project"]
    registration = registration_entry(values)
    if registration is not None:
        entry["registration"] = registration
    return entry


# --- the preview ----------------------------------------------------------------------------


def next_dates(
    rrule: str, start: str, timezone: str, exdates: list[str], now: dt.datetime, lang: str
) -> tuple[list[dt.datetime], ZoneInfo | None, Errors]:
    """The next ten starts (from now, or the first start if later) and the rule's problems by
    field, in `lang`.

    The rule, start, zone and exdates go through the series checks, so the preview refuses
    exactly what saving would.
    """
    entry = {
        "slug": "preview",
        "title": "preview",
        "duration": "PT1H",
        "rrule": rrule,
        "start": start,
        "timezone": timezone,
        "exdates": exdates,
    }
    spec = attempt(lambda: parse_series(entry, timezone or "Europe/Riga"), lang)
    if isinstance(spec, Refusal):
        return [], None, spec.fields
    return starts_of(spec, now), ZoneInfo(spec.timezone), {}


def starts_of(spec: SeriesSpec, now: dt.datetime, count: int = PREVIEW_COUNT) -> list[dt.datetime]:
    """The next `count` starts of a checked series from `now` (or its first start, if later)."""
    tz = ZoneInfo(spec.timezone)
    rule = recurrence.parse_rule(spec.rrule, spec.start_local, tz)
    skip = frozenset(dt.datetime.fromisoformat(value) for value in spec.exdates)
    low = max(now, recurrence.to_local(spec.start_local, tz).astimezone(dt.UTC))
    span = dt.timedelta(days=400)
    # A wider window until ten are found; a rule that ends (COUNT, UNTIL) may give fewer.
    while True:
        found = recurrence.expand(rule, spec.start_local, tz, low, low + span, skip)
        if len(found) >= count or span > dt.timedelta(days=366 * 60):
            return found[:count]
        span *= 4


def preview_of(values: Values, now: dt.datetime, lang: str) -> tuple[list[str], Errors]:
    """The next dates as the page shows them, in Latvian or English, and the rule's problems."""
    exdates = [line.strip() for line in values["exdates"].splitlines() if line.strip()]
    found, tz, errors = next_dates(
        values["rrule"], values["start"], values["timezone"], exdates, now, lang
    )
    shown = [dates.format_datetime(start, lang, tz, "full") for start in found] if tz else []
    return shown, errors


# --- pages ----------------------------------------------------------------------------------


def series_list(request: Request, staff: Staff, form: FormData | None) -> Response:
    context = request.app.state.context
    lang = request_language(request)
    now = context.clock.now()
    with context.database.session() as db:
        found = list(db.scalars(select(Series).order_by(Series.title_lv)))
        nexts = dict(
            db.execute(
                select(Session.series_id, func.min(Session.start))
                .where(Session.start >= now, Session.status == SessionStatus.SCHEDULED)
                .group_by(Session.series_id)
            ).all()
        )
        rows = [
            {
                "series": series,
                "words": rule_in_words(series.rrule, lang),
                "next": nexts.get(series.id),
                "region": series.region,
            }
            for series in found
        ]
    return staff_render(request, staff, "staff/series_list.html", rows=rows)


def series_preview(request: Request, staff: Staff, form: FormData | None) -> Response:
    """JSON for static/recurrence.js: the next ten dates, or the problems by field."""
    context = request.app.state.context
    params = request.query_params
    lang = request_language(request)
    found, tz, errors = next_dates(
        params.get("rrule", ""),
        params.get("start", ""),
        params.get("timezone", "") or context.settings.timezone,
        [value for value in params.getlist("exdate") if value.strip()],
        context.clock.now(),
        lang,
    )
    # The words always say the rule asked about, so the line never goes stale (issue 15).
    words = rule_in_words(params.get("rrule", ""), lang) if params.get("rrule") else ""
    if errors:
        return JSONResponse({"dates": [], "errors": errors, "words": words}, status_code=400)
    assert tz is not None
    shown = [
        {"start": start.isoformat(), "text": dates.format_datetime(start, lang, tz, "full")}
        for start in found
    ]
    return JSONResponse({"dates": shown, "errors": {}, "words": words})


def series_new(request: Request, staff: Staff, form: FormData | None) -> Response:
    context = request.app.state.context
    if form is None:
        return _form_page(request, staff, new_values(context.settings.timezone), None)
    return _submitted(request, staff, form_values(form), None)


def series_edit(request: Request, staff: Staff, form: FormData | None) -> Response:
    context = request.app.state.context
    slug = request.path_params["slug"]
    with context.database.session() as db:
        series = db.scalars(select(Series).where(Series.slug == slug)).first()
        if series is None:
            return staff_render(request, staff, "staff/series_not_found.html", 404)
        stored = series_values(series)
    if form is None:
        return _form_page(request, staff, stored, slug, done=request.query_params.get("done"))
    values = form_values(form)
    values["slug"] = slug
    return _submitted(request, staff, values, slug)


def _submitted(request: Request, staff: Staff, values: Values, slug: str | None) -> Response:
    """Preview (re-render with the dates) or save (the series checks, then import_series)."""
    lang = request_language(request)
    problems = choose_rule(values)
    refusal = Refusal.of(VcsError(problems), lang) if problems else None
    if refusal is not None or values["action"] == "preview":
        return _form_page(request, staff, values, slug, refusal, status=400 if refusal else 200)
    context = request.app.state.context
    target = slug or values["slug"]

    def save() -> str:
        if slug is None and target:
            with context.database.session() as db:
                if db.scalar(select(Series.id).where(Series.slug == target)):
                    raise VcsError.one(
                        "series.slug-taken",
                        N_("A series with this address already exists; open it to change it."),
                        field="slug",
                    )
        entry = entry_of(values, target)
        if slug is not None:
            # The form does not show a series file's [[series.sessions]]: they stay as stored.
            with context.database.session() as db:
                stored = db.scalar(select(Series.overrides).where(Series.slug == slug))
            if stored:
                entry["sessions"] = stored
        spec = parse_series(entry, context.settings.timezone)
        outcome = import_series(context, [spec], staff.email)[0].outcome
        provision_soon(context)
        return outcome

    outcome = attempt(save, lang)
    if isinstance(outcome, Refusal):
        return _form_page(request, staff, values, slug, outcome, status=400)
    return RedirectResponse(f"/staff/series/{target}?done={outcome}", 303)


def _form_page(
    request: Request,
    staff: Staff,
    values: Values,
    slug: str | None,
    refusal: Refusal | None = None,
    status: int = 200,
    done: str | None = None,
) -> Response:
    context = request.app.state.context
    lang = request_language(request)
    _ = gettext_for(lang)
    errors = dict(refusal.fields) if refusal else {}
    # A control with a problem stays as it was sent, so the problem shows beside it.
    builder = bool(errors.keys() & BUILDER_CONTROLS) or show_builder(values)
    preview: list[str] = []
    if values["rrule"] and values["start"]:
        preview, rule_errors = preview_of(values, context.clock.now(), lang)
        for field, problems in rule_errors.items():
            errors.setdefault(field, problems)
    with context.database.session() as db:
        region_options = [("", _("none"))] + [
            (region.slug, region.name_en if lang == "en" else region.name_lv)
            for region in db.scalars(select(Region).order_by(Region.name_lv))
        ]
        municipality_options = [("", _("none"))] + [
            (municipality.slug, municipality.name)
            for municipality in db.scalars(select(Municipality).order_by(Municipality.name))
        ]
        stored = db.scalars(select(Series).where(Series.slug == slug)).first() if slug else None
        feedback_trend = staff_feedback.series_feedback(db, stored)
    done_text = DONE.get(done or "")
    return staff_render(
        request,
        staff,
        "staff/series_form.html",
        status,
        values=values,
        slug=slug,
        errors=errors,
        general=refusal.lines if refusal else [],
        builder=builder,
        preview=preview,
        words=rule_in_words(values["rrule"], lang) if values["rrule"] else "",
        region_options=region_options,
        municipality_options=municipality_options,
        weekdays=weekday_names(lang),
        positions=position_names(lang),
        done=_(done_text) if done_text else None,
        livestream=livestream_form(lang),
        feedback=feedback_trend,
    )


def livestream_form(lang: str) -> dict[str, Any]:
    """The livestream part of the form, from the providers' own descriptions, in `lang`."""
    _ = gettext_for(lang)
    kinds: list[dict[str, Any]] = [
        {
            "name": kind.name,
            "fields": [
                {
                    "field": key.form_field,
                    "label": _(key.label),
                    "type": "url" if key.kind == "url" else "text",
                    "hint": _(key.hint) if key.hint else "",
                    "choices": [(value, _(label)) for value, label in key.choices],
                }
                for key in kind.keys
            ],
        }
        for kind in REGISTRY.kinds
    ]
    return {
        "providers": [(kind.name, _(kind.label)) for kind in REGISTRY.kinds],
        "kinds": kinds,
        "labels": {key["field"]: key["label"] for kind in kinds for key in kind["fields"]},
    }


routes = [
    page("/staff/series", series_list, "editor"),
    page("/staff/series/preview", series_preview, "editor"),
    page("/staff/series/new", series_new, "editor", methods=("GET", "POST")),
    page("/staff/series/{slug}", series_edit, "editor", methods=("GET", "POST")),
]
