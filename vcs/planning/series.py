"""Series: read them from a series file, check every field, save them, list them."""

from __future__ import annotations

import datetime as dt
import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from vcs import audit, dates, text
from vcs.context import Context
from vcs.planning import recurrence
from vcs.planning.materialize import materialize_series
from vcs.storage.models import Municipality, Region, Series

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The column's size (Series.slug).
SLUG_LENGTH = 100
MAX_DURATION = dt.timedelta(days=7)
PLACE_KINDS = ("online", "venue", "hybrid")
PROVIDERS = ("static", "youtube")
VISIBILITIES = ("public", "members")

KEYS = {
    "slug", "title", "description", "rrule", "exdates", "start", "timezone", "duration", "scope",
    "region", "place", "organiser", "tags", "visibility", "livestream", "funding", "active",
}  # fmt: skip
SHOWN_IN_EVENTS = {
    "title_lv", "title_en", "description_lv", "description_en", "place", "organiser_name",
    "organiser_email", "organiser_phone", "tags", "livestream_settings", "funding_text_lv",
    "funding_text_en", "funding_project",
}  # fmt: skip
REQUIRED = ("slug", "title", "rrule", "start", "duration")
PLACE_KEYS = {"kind", "venue", "address", "municipality"}
ORGANISER_KEYS = {"name", "email", "phone"}
FUNDING_KEYS = {"text", "project"}
# Keys each livestream provider reads from a series' `livestream` table.
LIVESTREAM_KEYS = {
    "static": {"provider", "watch_url", "embed_url", "recording_url"},
    "youtube": {"provider", "privacy", "stream_id"},
}
URL_KEYS = ("watch_url", "embed_url", "recording_url")
PRIVACY = ("public", "unlisted", "private")


class SeriesError(Exception):
    """One or more problems, each naming the series, the field and what is wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class SeriesSpec:
    """A series as a file or a form describes it, checked but not yet saved."""

    slug: str
    title_lv: str
    title_en: str
    rrule: str
    start_local: dt.datetime
    timezone: str
    duration_minutes: int
    description_lv: str = ""
    description_en: str = ""
    exdates: list[str] = field(default_factory=list)
    region: str | None = None
    place: dict[str, Any] = field(default_factory=lambda: {"kind": "online"})
    organiser_name: str = ""
    organiser_email: str = ""
    organiser_phone: str = ""
    tags: list[str] = field(default_factory=list)
    visibility: str = "public"
    livestream_provider: str = "static"
    livestream_settings: dict[str, Any] = field(default_factory=dict)
    funding_text_lv: str = ""
    funding_text_en: str = ""
    funding_project: str = ""
    active: bool = True
    # Where the spec came from, for messages: "series.toml: series #2 (slug)".
    source: str = ""

    def columns(self) -> dict[str, Any]:
        """The values as Series columns (region resolved separately)."""
        values = dict(self.__dict__)
        values.pop("region")
        values.pop("source")
        return values


def read_series_file(path: Path, default_timezone: str = "Europe/Riga") -> list[SeriesSpec]:
    """Parse a series file; raise SeriesError listing every problem in it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeriesError([f"{path}: no such file"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SeriesError([f"{path}: not valid TOML: {exc}"]) from None
    except RecursionError:
        # tomllib parses nested arrays and tables by recursion: a few hundred levels exhaust it.
        raise SeriesError([f"{path}: not valid TOML: nested too deeply"]) from None
    except OSError as exc:
        raise SeriesError([f"{path}: {exc.strerror or exc}"]) from None
    extra = set(data) - {"series"}
    if extra:
        raise SeriesError([f"{path}: unknown top-level key {sorted(extra)[0]!r} (use [[series]])"])
    entries = data.get("series")
    if not isinstance(entries, list) or not entries:
        raise SeriesError([f"{path}: no [[series]] entries"])
    specs, problems = [], []
    numbers: dict[str, list[int]] = {}
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            problems.append(f"{path}: series #{number}: must be a table ([[series]])")
            continue
        label = f"{path}: series #{number} ({entry.get('slug', 'no slug')})"
        try:
            spec = parse_series(entry, default_timezone)
        except SeriesError as exc:
            problems += [f"{label}: {problem}" for problem in exc.problems]
            continue
        spec.source = label
        specs.append(spec)
        numbers.setdefault(spec.slug, []).append(number)
    for slug, used_by in numbers.items():
        if len(used_by) > 1:
            which = " and ".join(f"series #{n}" for n in used_by)
            problems.append(f"{path}: slug {slug!r} is used by more than one series: {which}")
    if problems:
        raise SeriesError(problems)
    return specs


def parse_series(entry: dict[str, Any], default_timezone: str) -> SeriesSpec:
    """Check one series entry; every problem names its field."""
    problems: list[str] = []

    def bad(key: str, problem: str) -> None:
        problems.append(f"{key}: {problem}")

    for key in sorted(set(entry) - KEYS):
        hint = difflib.get_close_matches(key, KEYS, n=1)
        bad(key, "unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    missing = [key for key in REQUIRED if key not in entry]
    for key in missing:
        bad(key, "missing")
    if missing:
        raise SeriesError(problems)

    slug = _text(entry, "slug", bad)
    if slug and not SLUG.match(slug):
        bad("slug", f"{slug!r} must be lowercase letters, digits and single hyphens")
    elif len(slug) > SLUG_LENGTH:
        bad("slug", f"longer than {SLUG_LENGTH} characters")
    title = _bilingual(entry, "title", bad, required=True)
    description = _bilingual(entry, "description", bad, kind=text.TEXT)
    timezone = entry.get("timezone", default_timezone)
    tz = None
    try:
        tz = ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        bad("timezone", f"unknown time zone {timezone!r} (use an IANA name like Europe/Riga)")
    start = _local_datetime(entry.get("start"), "start", bad)
    exdates = [_local_datetime(v, "exdates", bad) for v in _as_list(entry, "exdates", bad)]
    rrule = _text(entry, "rrule", bad)
    if tz and start and rrule:
        try:
            recurrence.parse_rule(rrule, start, tz)
            rrule = recurrence.canonical(rrule)
        except recurrence.RecurrenceError as exc:
            bad("rrule", exc.problem)
    minutes = _duration(entry.get("duration"), bad)
    scope = entry.get("scope", "national")
    region = entry.get("region")
    if scope == "national":
        if region is not None:
            bad("region", 'a national series has no region (use scope = "region")')
    elif scope == "region":
        if not isinstance(region, str) or not region:
            bad("region", 'scope = "region" needs region = "<planning region slug>"')
    else:
        bad("scope", f'must be "national" or "region", not {scope!r}')
    place = _place(entry.get("place", {"kind": "online"}), bad)
    organiser = _table(entry, "organiser", ORGANISER_KEYS, bad)
    organiser_name = _line(organiser, "name", text.NAME, bad, "organiser.")
    organiser_phone = _line(organiser, "phone", text.SHORT, bad, "organiser.")
    email = str(organiser.get("email", "")).strip()
    if email and (not EMAIL.match(email) or not text.fits_a_header(email) or len(email) > 320):
        bad("organiser.email", f"{email!r} is not an e-mail address")
    tags = [text.clean(str(t), text.LABEL) for t in _as_list(entry, "tags", bad)]
    for tag in tags:
        problem = text.too_long(tag, text.LABEL, "tags")
        if problem:
            bad("tags", f"{tag[:20]!r}…: {problem.text()}")
            break
    tags = [tag for tag in tags if tag]
    visibility = entry.get("visibility", "public")
    if visibility not in VISIBILITIES:
        bad("visibility", f'must be "public" or "members", not {visibility!r}')
    livestream = entry.get("livestream", {"provider": "static"})
    if not isinstance(livestream, dict):
        bad("livestream", 'must be a table like { provider = "static", watch_url = "…" }')
        livestream = {}
    provider = livestream.get("provider", "static")
    if provider not in PROVIDERS:
        bad("livestream.provider", f"must be one of {', '.join(PROVIDERS)}, not {provider!r}")
    known = LIVESTREAM_KEYS.get(provider, {"provider"})
    for unknown in sorted(set(livestream) - known):
        hint = difflib.get_close_matches(unknown, known, n=1)
        bad(
            f"livestream.{unknown}",
            f"not a setting of the {provider} provider"
            if any(unknown in keys for keys in LIVESTREAM_KEYS.values())
            else "unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else ""),
        )
    for key in URL_KEYS:
        url = livestream.get(key, "")
        url_problem = text.url_problem(url, key) if isinstance(url, str) else None
        if url and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
            bad(f"livestream.{key}", f"{url!r} is not an http(s) address")
        elif url_problem:
            bad(f"livestream.{key}", url_problem.text())
        elif url and re.search(r"\{(?!(?:date|slug|id)\})[^}]*\}", url):
            bad(f"livestream.{key}", "only {date}, {slug} and {id} can be filled in")
    privacy = livestream.get("privacy", "public")
    if privacy not in PRIVACY:
        bad("livestream.privacy", f"must be one of {', '.join(PRIVACY)}, not {privacy!r}")
    if not isinstance(livestream.get("stream_id", ""), str):
        bad("livestream.stream_id", "must be the id of a YouTube live stream, as text")
    funding = _table(entry, "funding", FUNDING_KEYS, bad)
    funding_text = ("", "")
    if funding:
        funding_text = _bilingual(funding, "funding.text", bad, key="text", kind=text.NOTE)
    funding_project = _line(funding, "project", text.LABEL, bad, "funding.")
    if funding and not funding_text[0]:
        bad("funding.text", "a funding statement needs its text (lv)")
    active = entry.get("active", True)
    if not isinstance(active, bool):
        bad("active", "must be true or false")
    if problems:
        raise SeriesError(problems)
    assert start is not None and minutes is not None
    return SeriesSpec(
        slug=slug,
        title_lv=title[0],
        title_en=title[1],
        description_lv=description[0],
        description_en=description[1],
        rrule=rrule,
        start_local=start,
        timezone=str(timezone),
        duration_minutes=minutes,
        exdates=[value.isoformat(timespec="minutes") for value in exdates if value],
        region=region if scope == "region" else None,
        place=place,
        organiser_name=organiser_name,
        organiser_email=email,
        organiser_phone=organiser_phone,
        tags=tags,
        visibility=visibility,
        livestream_provider=provider,
        livestream_settings={k: v for k, v in livestream.items() if k != "provider"},
        funding_text_lv=funding_text[0],
        funding_text_en=funding_text[1],
        funding_project=funding_project,
        active=active,
    )


def save_series(
    db: Db, spec: SeriesSpec, actor: str, now: dt.datetime, max_sessions: int, horizon: dt.timedelta
) -> tuple[Series, str]:
    """Create or update the series `spec.slug`; return it and "created", "changed" or "same"."""
    problems = []
    region_id = None
    if spec.region is not None:
        region = db.scalars(select(Region).where(Region.slug == spec.region)).first()
        if region is None:
            known = ", ".join(db.scalars(select(Region.slug).order_by(Region.slug)))
            problems.append(f"region: unknown planning region {spec.region!r} (known: {known})")
        else:
            region_id = region.id
    municipality = spec.place.get("municipality")
    if municipality and not db.scalar(
        select(Municipality.id).where(Municipality.slug == municipality)
    ):
        problems.append(f"place.municipality: unknown municipality {municipality!r}")
    tz = ZoneInfo(spec.timezone)
    rule = recurrence.parse_rule(spec.rrule, spec.start_local, tz)
    window_start = max(now, recurrence.to_local(spec.start_local, tz))
    count = len(recurrence.expand(rule, spec.start_local, tz, window_start, window_start + horizon))
    if count > max_sessions:
        problems.append(
            f"rrule: gives {count} sessions within {horizon.days} days, more than the allowed "
            f"{max_sessions} (sessions.max_per_series)"
        )
    if problems:
        label = spec.source or f"series {spec.slug}"
        raise SeriesError([f"{label}: {problem}" for problem in problems])

    values = spec.columns() | {"region_id": region_id}
    series = db.scalars(select(Series).where(Series.slug == spec.slug)).first()
    if series is None:
        series = Series(**values, revision=1)
        db.add(series)
        db.flush()
        audit.record(db, actor, "create", "series", series.id, after=_jsonable(values))
        return series, "created"
    before = {key: getattr(series, key) for key in values}
    changed = {key: value for key, value in values.items() if before[key] != value}
    if not changed:
        return series, "same"
    for key, value in changed.items():
        setattr(series, key, value)
    series.revision += 1
    # What a series says shows in its sessions' calendar events, so calendars must see a higher
    # SEQUENCE on each future one. (Rule and length changes reach sessions through materialize.)
    if set(changed) & SHOWN_IN_EVENTS:
        for session in series.sessions:
            if session.start > now:
                session.revision += 1
    db.flush()
    audit.record(
        db,
        actor,
        "update",
        "series",
        series.id,
        before=_jsonable({key: before[key] for key in changed}),
        after=_jsonable(changed),
    )
    return series, "changed"


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in values.items()}


def _text(entry: dict[str, Any], key: str, bad: Any) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or not value.strip():
        bad(key, "must be non-empty text")
        return ""
    return value.strip()


def _bilingual(
    entry: dict[str, Any],
    label: str,
    bad: Any,
    required: bool = False,
    key: str | None = None,
    kind: text.Kind = text.TITLE,
) -> tuple[str, str]:
    value = entry.get(key or label)
    if value is None:
        if required:
            bad(label, "missing")
        return "", ""
    if isinstance(value, str):
        one = _cleaned(value, kind, label, bad)
        if required and not one:
            bad(label, "must not be empty")
        return one, ""
    if not isinstance(value, dict) or set(value) - {"lv", "en"}:
        bad(label, 'must be text or { lv = "…", en = "…" }')
        return "", ""
    lv = _cleaned(str(value.get("lv", "")), kind, f"{label}.lv", bad)
    en = _cleaned(str(value.get("en", "")), kind, f"{label}.en", bad)
    if required and not lv:
        bad(f"{label}.lv", "the Latvian text is required")
    return lv, en


def _cleaned(value: str, kind: text.Kind, label: str, bad: Any) -> str:
    """Text as vcs/text.py stores it; a problem for `label` when it is too long."""
    cleaned = text.clean(value, kind)
    problem = text.too_long(cleaned, kind, label)
    if problem:
        bad(label, problem.text())
    return cleaned


def _line(table: dict[str, Any], key: str, kind: text.Kind, bad: Any, prefix: str) -> str:
    return _cleaned(str(table.get(key, "")), kind, prefix + key, bad)


def _local_datetime(value: Any, key: str, bad: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            bad(key, f"{value.isoformat()} has an offset; give local time and a timezone")
            return None
        return _in_range(value, key, bad)
    # A date alone would silently mean midnight; a time must be written.
    if isinstance(value, str) and "T" in value.upper():
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is None:
            return _in_range(parsed, key, bad)
    bad(key, f"{value!r} is not a local date and time like 2026-12-10T10:00")
    return None


def _in_range(value: dt.datetime, key: str, bad: Any) -> dt.datetime | None:
    if not dates.in_range(value):
        bad(
            key,
            f"{value.isoformat()}: the year must be from {dates.FIRST_YEAR} to {dates.LAST_YEAR}",
        )
        return None
    return value


def _as_list(entry: dict[str, Any], key: str, bad: Any) -> list[Any]:
    value = entry.get(key, [])
    if not isinstance(value, list):
        bad(key, "must be a list")
        return []
    return value


def _table(entry: dict[str, Any], key: str, allowed: set[str], bad: Any) -> dict[str, Any]:
    value = entry.get(key, {})
    if not isinstance(value, dict):
        bad(key, "must be a table { … }")
        return {}
    for unknown in sorted(set(value) - allowed):
        hint = difflib.get_close_matches(unknown, allowed, n=1)
        bad(f"{key}.{unknown}", "unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    return value


def _duration(value: Any, bad: Any) -> int | None:
    match = DURATION.match(value) if isinstance(value, str) else None
    if not match or value in ("P", "PT") or str(value).endswith("T"):
        bad("duration", f"{value!r} is not an ISO 8601 duration like PT1H30M")
        return None
    # In whole minutes, not a timedelta, which overflows on a day count of ten digits; and only
    # numbers of a few digits, since int() refuses thousands (more than nine exceed 7 days).
    numbers = [(g or "0").lstrip("0") or "0" for g in match.groups()]
    if any(len(number) > 9 for number in numbers):
        bad("duration", f"{value[:40]} is longer than {MAX_DURATION.days} days")
        return None
    days, hours, minutes = (int(number) for number in numbers)
    total = (days * 24 + hours) * 60 + minutes
    if total <= 0:
        bad("duration", f"{value} must be longer than zero")
        return None
    if total > MAX_DURATION // dt.timedelta(minutes=1):
        bad("duration", f"{value} is longer than {MAX_DURATION.days} days")
        return None
    return total


def _place(value: Any, bad: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        bad("place", 'must be a table like { kind = "online" }')
        return {}
    for unknown in sorted(set(value) - PLACE_KEYS):
        bad(f"place.{unknown}", "unknown key")
    kind = value.get("kind")
    if kind not in PLACE_KINDS:
        bad("place.kind", f"must be online, venue or hybrid, not {kind!r}")
    elif kind != "online":
        for key in ("venue", "address"):
            if not text.clean(str(value.get(key, "")), text.TITLE):
                bad(f"place.{key}", f"a {kind} meeting needs its {key}")
    return {k: _cleaned(str(v), text.TITLE, f"place.{k}", bad) for k, v in value.items()}


@dataclass(frozen=True)
class ImportedSeries:
    slug: str
    outcome: str  # created, changed, same
    sessions: str  # what materializing it did


def import_series(context: Context, specs: list[SeriesSpec], actor: str) -> list[ImportedSeries]:
    """Save every series and materialize it, all in one transaction: all or nothing."""
    settings = context.settings
    now = context.clock.now()
    results, problems = [], []
    with context.database.session() as db:
        for spec in specs:
            try:
                series, outcome = save_series(
                    db, spec, actor, now, settings.sessions.max_per_series, settings.horizon
                )
            except SeriesError as exc:
                problems += exc.problems
                continue
            report = materialize_series(db, series, now, settings.horizon, settings.host)
            results.append(ImportedSeries(spec.slug, outcome, str(report)))
        if problems:
            # Leaving the block with an exception rolls the whole file back.
            raise SeriesError(problems)
    return results


def list_series(db: Db) -> list[Series]:
    return list(db.scalars(select(Series).order_by(Series.slug)))


def series_json(series: Series) -> dict[str, Any]:
    """A series as the JSON that `vcs series list --json` prints."""
    return {
        "slug": series.slug,
        "title": {"lv": series.title_lv, "en": series.title_en},
        "rrule": series.rrule,
        "start": series.start_local.isoformat(timespec="minutes"),
        "timezone": series.timezone,
        "duration_minutes": series.duration_minutes,
        "scope": series.scope,
        "region": series.region.slug if series.region else None,
        "place": series.place,
        "visibility": series.visibility,
        "active": series.active,
        "revision": series.revision,
    }
