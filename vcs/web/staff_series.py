"""Staff pages for series: the list, the series form with its recurrence builder, and the preview
of the next ten dates (a page without scripts, JSON for static/recurrence.js).

The form is turned into the entry a series file would hold and goes through the same checks
(`series.parse_series`) and the same save (`series.import_series`, which materializes at once),
so a series saved here is exactly one imported from a file.

The builder and the raw RRULE field both travel with the form. The page remembers the rule it
showed (`rrule_shown`): a raw field that differs from it was edited by hand and wins; otherwise
the builder's controls say what the rule is. A rule the builder cannot show disables the builder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from vcs import dates
from vcs.i18n import gettext_for
from vcs.planning import recurrence
from vcs.planning.series import SeriesError, SeriesSpec, import_series, parse_series
from vcs.storage.models import Municipality, Region, Series, Session
from vcs.web.staff import Staff, page, staff_render
from vcs.web.templating import request_language

PREVIEW_COUNT = 10
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
WEEKDAYS = recurrence.WEEKDAYS
POSITIONS = ("1", "2", "3", "4", "-1")
ENDS = ("never", "count", "until")
UNTIL_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
FORM_LABEL = "form"

TEXT_FIELDS = (
    "slug", "title_lv", "title_en", "description_lv", "description_en", "start", "timezone",
    "duration", "place_kind", "place_venue", "place_address", "place_municipality",
    "organiser_name", "organiser_email", "organiser_phone", "scope", "region", "visibility",
    "livestream_provider", "watch_url", "embed_url", "recording_url", "privacy", "stream_id",
    "funding_text_lv", "funding_text_en", "funding_project", "tags", "exdates", "rrule",
    "rrule_shown", "freq", "interval", "monthly", "monthday", "setpos", "setpos_day", "end",
    "count", "until",
)  # fmt: skip
BUILDER_DEFAULTS = {
    "freq": "WEEKLY", "interval": "1", "monthly": "day", "monthday": "", "setpos": "1",
    "setpos_day": "MO", "end": "never", "count": "", "until": "",
}  # fmt: skip
# The series checks name a file key; the form shows the problem next to this field.
FIELD_OF_KEY = {
    "slug": "slug", "title": "title_lv", "title.lv": "title_lv", "description": "description_lv",
    "description.lv": "description_lv", "rrule": "rrule", "start": "start",
    "timezone": "timezone", "duration": "duration", "exdates": "exdates", "scope": "scope",
    "region": "region", "place": "place_kind", "place.kind": "place_kind",
    "place.venue": "place_venue", "place.address": "place_address",
    "place.municipality": "place_municipality", "organiser.email": "organiser_email",
    "tags": "tags", "visibility": "visibility", "livestream": "livestream_provider",
    "livestream.provider": "livestream_provider", "livestream.watch_url": "watch_url",
    "livestream.embed_url": "embed_url", "livestream.recording_url": "recording_url",
    "livestream.privacy": "privacy", "livestream.stream_id": "stream_id",
    "funding.text": "funding_text_lv", "funding.text.lv": "funding_text_lv", "active": "active",
    "title.en": "title_en", "description.en": "description_en", "organiser.name": "organiser_name",
    "organiser.phone": "organiser_phone", "funding.text.en": "funding_text_en",
    "funding.project": "funding_project",
}  # fmt: skip

Values = dict[str, Any]
Errors = dict[str, list[str]]
Gettext = Callable[..., str]


# --- the builder ----------------------------------------------------------------------------


def builder_from_rule(text: str) -> dict[str, Any] | None:
    """The builder's controls for a rule, or None when the builder cannot show it."""
    try:
        parts = dict(part.split("=", 1) for part in recurrence.canonical(text).split(";"))
    except (recurrence.RecurrenceError, ValueError):
        return None
    freq = parts.pop("FREQ")
    if freq not in FREQUENCIES or parts.pop("WKST", "MO") != "MO":
        return None
    state: dict[str, Any] = dict(BUILDER_DEFAULTS, freq=freq, byday=[])
    interval = parts.pop("INTERVAL", "1")
    if not interval.isdecimal() or len(interval) > 9 or int(interval) < 1:
        return None
    state["interval"] = str(int(interval))
    if "COUNT" in parts:
        count = parts.pop("COUNT")
        if not count.isdecimal() or len(count) > 9 or int(count) < 1:
            return None
        state.update(end="count", count=str(int(count)))
    elif "UNTIL" in parts:
        until = UNTIL_DATE.match(parts.pop("UNTIL"))
        if until is None:
            return None
        state.update(end="until", until="-".join(until.groups()))
    byday = parts.pop("BYDAY", "")
    monthday = parts.pop("BYMONTHDAY", "")
    if parts:  # BYMONTH, BYSETPOS: beyond the builder
        return None
    days = byday.split(",") if byday else []
    if freq == "WEEKLY" and not monthday and all(day in WEEKDAYS for day in days):
        state["byday"] = days
        return state
    if freq == "MONTHLY" and not (byday and monthday):
        if monthday:
            if not monthday.isdecimal() or len(monthday) > 2 or not 1 <= int(monthday) <= 31:
                return None
            state.update(monthly="day", monthday=str(int(monthday)))
            return state
        if not days:
            return state
        match = re.fullmatch(r"([+-]?\d{1,2})(MO|TU|WE|TH|FR|SA|SU)", days[0])
        if len(days) == 1 and match and str(int(match.group(1))) in POSITIONS:
            state.update(monthly="weekday", setpos=str(int(match.group(1))))
            state["setpos_day"] = match.group(2)
            return state
        return None
    if freq in ("DAILY", "YEARLY") and not byday and not monthday:
        return state
    return None


def rule_from_builder(values: Values, _: Gettext) -> tuple[str, Errors]:
    """The rule the builder's controls describe (canonical spelling), or problems by field."""
    errors: Errors = {}
    freq = values["freq"] if values["freq"] in FREQUENCIES else "WEEKLY"
    parts = [f"FREQ={freq}"]

    def whole(field: str, low: int = 1, high: int = 100000) -> int | None:
        text = values[field]
        # ASCII and short first: "²" is a digit to isdigit() but not to int(), and int()
        # refuses thousands of digits.
        if not (text.isascii() and text.isdigit() and len(text) < 10) or not (
            low <= int(text) <= high
        ):
            errors[field] = [_("Give a whole number from %(low)s to %(high)s.", low=low, high=high)]
            return None
        return int(text)

    interval = whole("interval", 1, 1000)
    if interval and interval > 1:
        parts.append(f"INTERVAL={interval}")
    if values["end"] == "count":
        count = whole("count", 1, 1000)
        parts.append(f"COUNT={count or 1}")
    elif values["end"] == "until":
        try:
            until = dt.date.fromisoformat(values["until"])
        except ValueError:
            errors["until"] = [_("Give the last date like 2027-06-30.")]
        else:
            parts.append(f"UNTIL={until:%Y%m%d}")
    if freq == "WEEKLY":
        days = [day for day in WEEKDAYS if day in values["byday"]]
        if days:
            parts.append("BYDAY=" + ",".join(days))
    elif freq == "MONTHLY":
        if values["monthly"] == "weekday":
            position = values["setpos"] if values["setpos"] in POSITIONS else "1"
            day = values["setpos_day"] if values["setpos_day"] in WEEKDAYS else "MO"
            parts.append(f"BYDAY={position}{day}")
        elif values["monthday"]:
            monthday = whole("monthday", 1, 31)
            if monthday:
                parts.append(f"BYMONTHDAY={monthday}")
    return recurrence.canonical(";".join(parts)), errors


def rule_in_words(text: str, lang: str) -> str:
    """A rule as people say it ("katru mēnesi: otrā ceturtdiena"); the RRULE when it cannot be."""
    state = builder_from_rule(text)
    if state is None:
        return text
    _ = gettext_for(lang)
    every = {
        "DAILY": (_("every day"), _("every %(n)s days", n=state["interval"])),
        "WEEKLY": (_("every week"), _("every %(n)s weeks", n=state["interval"])),
        "MONTHLY": (_("every month"), _("every %(n)s months", n=state["interval"])),
        "YEARLY": (_("every year"), _("every %(n)s years", n=state["interval"])),
    }[state["freq"]][state["interval"] != "1"]
    names = weekday_names(_)
    detail = ""
    if state["freq"] == "WEEKLY" and state["byday"]:
        detail = ", ".join(names[day] for day in state["byday"])
    elif state["freq"] == "MONTHLY" and state["monthly"] == "weekday":
        detail = f"{position_names(_)[state['setpos']]} {names[state['setpos_day']]}"
    elif state["freq"] == "MONTHLY" and state["monthday"]:
        detail = _("day %(n)s", n=state["monthday"])
    words = f"{every}: {detail}" if detail else every
    if state["end"] == "count":
        words += "; " + _("sessions in all: %(n)s", n=state["count"])
    elif state["end"] == "until":
        words += "; " + _("until %(date)s", date=state["until"])
    return words


def weekday_names(_: Gettext) -> dict[str, str]:
    return {
        "MO": _("Monday"),
        "TU": _("Tuesday"),
        "WE": _("Wednesday"),
        "TH": _("Thursday"),
        "FR": _("Friday"),
        "SA": _("Saturday"),
        "SU": _("Sunday"),
    }


def position_names(_: Gettext) -> dict[str, str]:
    return {"1": _("first"), "2": _("second"), "3": _("third"), "4": _("fourth"), "-1": _("last")}


# --- the form -------------------------------------------------------------------------------


def form_values(form: FormData) -> Values:
    """The form's fields as text (and the weekdays as a list)."""
    values: Values = {key: str(form.get(key, "")).strip() for key in TEXT_FIELDS}
    values["byday"] = [str(day) for day in form.getlist("byday")]
    values["active"] = "active" in form
    # Which button sent the form: "preview" (show the dates) or "save".
    values["action"] = str(form.get("action", "save"))
    return values


def new_values(timezone: str) -> Values:
    """A blank form: weekly, online, national, public, 90 minutes."""
    values: Values = dict.fromkeys(TEXT_FIELDS, "")
    values.update(BUILDER_DEFAULTS)
    values.update(
        timezone=timezone,
        duration="90",
        place_kind="online",
        scope="national",
        visibility="public",
        livestream_provider="static",
        privacy="public",
        rrule="FREQ=WEEKLY",
        byday=[],
        active=True,
    )
    return values


def series_values(series: Series) -> Values:
    """A saved series as the form shows it."""
    values: Values = dict.fromkeys(TEXT_FIELDS, "")
    place = series.place or {}
    stream = series.livestream_settings or {}
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
        privacy=stream.get("privacy", "public"),
        funding_text_lv=series.funding_text_lv,
        funding_text_en=series.funding_text_en,
        funding_project=series.funding_project,
        tags=", ".join(str(tag) for tag in series.tags),
        exdates="\n".join(str(value) for value in series.exdates),
        rrule=series.rrule,
        active=series.active,
        byday=[],
    )
    for key in ("watch_url", "embed_url", "recording_url", "stream_id"):
        values[key] = str(stream.get(key, ""))
    return values


def choose_rule(values: Values, _: Gettext) -> Errors:
    """Settle values["rrule"] from the raw field or the builder (module doc); builder problems."""
    errors: Errors = {}
    hand_edited = values["rrule"] not in ("", values["rrule_shown"])
    if values["freq"] and not hand_edited:
        values["rrule"], errors = rule_from_builder(values, _)
    return errors


def show_builder(values: Values) -> bool:
    """Fill the builder's controls from values["rrule"]; False when it cannot show the rule."""
    state = builder_from_rule(values["rrule"]) if values["rrule"] else dict(BUILDER_DEFAULTS)
    if state is None:
        return False
    values.update(state)
    values.setdefault("byday", [])
    with contextlib.suppress(recurrence.RecurrenceError):
        values["rrule"] = recurrence.canonical(values["rrule"])
    return True


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
    provider = values["livestream_provider"] or "static"
    livestream: dict[str, Any] = {"provider": provider}
    if provider == "youtube":
        if values["privacy"] and values["privacy"] != "public":
            livestream["privacy"] = values["privacy"]
        if values["stream_id"]:
            livestream["stream_id"] = values["stream_id"]
    else:
        livestream.update(
            {key: values[key] for key in ("watch_url", "embed_url", "recording_url") if values[key]}
        )
    entry["livestream"] = livestream
    if values["funding_text_lv"] or values["funding_text_en"] or values["funding_project"]:
        entry["funding"] = {
            "text": {"lv": values["funding_text_lv"], "en": values["funding_text_en"]}
        }
        if values["funding_project"]:
            entry["funding"]["project"] = values["funding_project"]
    return entry


def sort_problems(problems: list[str]) -> tuple[Errors, list[str]]:
    """Problems from the series checks by form field; those no field owns."""
    errors: Errors = {}
    general: list[str] = []
    for problem in problems:
        text = problem.removeprefix(f"{FORM_LABEL}: ")
        key, sep, reason = text.partition(": ")
        field = FIELD_OF_KEY.get(key) if sep else None
        if field is None:
            general.append(text)
        else:
            errors.setdefault(field, []).append(reason)
    return errors, general


# --- the preview ----------------------------------------------------------------------------


def next_dates(
    rrule: str, start: str, timezone: str, exdates: list[str], now: dt.datetime
) -> tuple[list[dt.datetime], ZoneInfo | None, Errors]:
    """The next ten starts (from now, or the first start if later) and the rule's problems.

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
    try:
        spec = parse_series(entry, timezone or "Europe/Riga")
    except SeriesError as exc:
        return [], None, sort_problems(exc.problems)[0]
    return starts_of(spec, now), ZoneInfo(spec.timezone), {}


def starts_of(spec: SeriesSpec, now: dt.datetime, count: int = PREVIEW_COUNT) -> list[dt.datetime]:
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
        values["rrule"], values["start"], values["timezone"], exdates, now
    )
    shown = [dates.format_datetime(start, lang, tz, "full") for start in found] if tz else []
    return shown, errors


# --- pages ----------------------------------------------------------------------------------


@page("/staff/series", "editor")
def series_list(request: Request, staff: Staff, form: FormData | None) -> Response:
    context = request.app.state.context
    lang = request_language(request)
    now = context.clock.now()
    with context.database.session() as db:
        found = list(db.scalars(select(Series).order_by(Series.title_lv)))
        nexts = dict(
            db.execute(
                select(Session.series_id, func.min(Session.start))
                .where(Session.start >= now, Session.status == "scheduled")
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


@page("/staff/series/preview", "editor")
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
    )
    if errors:
        return JSONResponse({"dates": [], "errors": errors}, status_code=400)
    assert tz is not None
    shown = [
        {"start": start.isoformat(), "text": dates.format_datetime(start, lang, tz, "full")}
        for start in found
    ]
    return JSONResponse(
        {"dates": shown, "errors": {}, "words": rule_in_words(params["rrule"], lang)}
    )


@page("/staff/series/new", "editor", methods=("GET", "POST"))
def series_new(request: Request, staff: Staff, form: FormData | None) -> Response:
    context = request.app.state.context
    if form is None:
        return _form_page(request, staff, new_values(context.settings.timezone), None)
    values = form_values(form)
    return _submitted(request, staff, values, None)


@page("/staff/series/{slug}", "editor", methods=("GET", "POST"))
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
    _ = gettext_for(request_language(request))
    errors = choose_rule(values, _)
    if errors or values["action"] == "preview":
        return _form_page(request, staff, values, slug, errors, status=400 if errors else 200)
    return _save(request, staff, values, slug)


def _save(request: Request, staff: Staff, values: Values, slug: str | None) -> Response:
    context = request.app.state.context
    _ = gettext_for(request_language(request))
    target = slug or values["slug"]
    if slug is None:
        with context.database.session() as db:
            taken = db.scalar(select(Series.id).where(Series.slug == target))
        if target and taken:
            error = _("A series with this address already exists; open it to change it.")
            return _form_page(request, staff, values, None, {"slug": [error]}, status=400)
    try:
        spec = parse_series(entry_of(values, target), context.settings.timezone)
        spec.source = FORM_LABEL
        imported = import_series(context, [spec], staff.email)
    except SeriesError as exc:
        errors, general = sort_problems(exc.problems)
        return _form_page(request, staff, values, slug, errors, general, status=400)
    return RedirectResponse(f"/staff/series/{target}?done={imported[0].outcome}", 303)


def _form_page(
    request: Request,
    staff: Staff,
    values: Values,
    slug: str | None,
    errors: Errors | None = None,
    general: list[str] | None = None,
    status: int = 200,
    done: str | None = None,
) -> Response:
    context = request.app.state.context
    lang = request_language(request)
    _ = gettext_for(lang)
    errors = dict(errors or {})
    builder = show_builder(values)
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
    done_text = {
        "created": _("The series has been created and its sessions made."),
        "changed": _("The series has been saved and its sessions updated."),
        "same": _("Nothing was changed."),
    }.get(done or "")
    return staff_render(
        request,
        staff,
        "staff/series_form.html",
        status,
        values=values,
        slug=slug,
        errors=errors,
        general=general or [],
        builder=builder,
        preview=preview,
        words=rule_in_words(values["rrule"], lang) if values["rrule"] else "",
        region_options=region_options,
        municipality_options=municipality_options,
        weekdays=weekday_names(_),
        positions=position_names(_),
        done=done_text,
    )
