"""Series: read them from a series file, check every field, save them, list them."""

from __future__ import annotations

import datetime as dt
import difflib
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from vcs import audit, dates, text
from vcs.context import Context
from vcs.errors import Joined, Phrase, Problem, VcsError
from vcs.i18n import N_
from vcs.planning import places, recurrence
from vcs.planning.materialize import materialize_series
from vcs.providers.registry import REGISTRY as livestreams
from vcs.storage.models import Municipality, Region, Series

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The column's size (Series.slug).
SLUG_LENGTH = 100
MAX_DURATION = dt.timedelta(days=7)
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
ORGANISER_KEYS = {"name", "email", "phone"}
FUNDING_KEYS = {"text", "project"}


# The form field each key belongs to: the staff series form names its fields after what they
# fill in a SeriesSpec, and shows a problem beside its field.
FIELD_OF_KEY = {
    "slug": "slug", "title": "title_lv", "title.lv": "title_lv", "title.en": "title_en",
    "description": "description_lv", "description.lv": "description_lv",
    "description.en": "description_en", "rrule": "rrule", "start": "start",
    "timezone": "timezone", "duration": "duration", "exdates": "exdates", "scope": "scope",
    "region": "region", "place": "place_kind", "place.kind": "place_kind",
    "place.venue": "place_venue", "place.address": "place_address",
    "place.municipality": "place_municipality", "organiser.name": "organiser_name",
    "organiser.email": "organiser_email", "organiser.phone": "organiser_phone", "tags": "tags",
    "visibility": "visibility", **livestreams.field_of_key,
    "funding.text": "funding_text_lv", "funding.text.lv": "funding_text_lv",
    "funding.text.en": "funding_text_en", "funding.project": "funding_project",
    "active": "active",
}  # fmt: skip
# The keys problems name, as words: the English is the key itself, the Latvian says it in words
# (messages are placed under these labels; see vcs/errors.py).
KEY_LABELS = (
    N_("slug"), N_("title"), N_("title.lv"), N_("title.en"), N_("description"),
    N_("description.lv"), N_("description.en"), N_("rrule"), N_("exdates"), N_("start"),
    N_("timezone"), N_("duration"), N_("scope"), N_("region"), N_("place"), N_("place.kind"),
    N_("place.venue"), N_("place.address"), N_("place.municipality"), N_("organiser"),
    N_("organiser.name"), N_("organiser.email"), N_("organiser.phone"), N_("tags"),
    N_("visibility"), N_("livestream"), N_("livestream.provider"), N_("livestream.watch_url"),
    N_("livestream.embed_url"), N_("livestream.recording_url"), N_("livestream.privacy"),
    N_("livestream.stream_id"), N_("funding"), N_("funding.text"), N_("funding.text.lv"),
    N_("funding.text.en"), N_("funding.project"), N_("active"),
)  # fmt: skip
MUST_BE_ONE_OF = N_("must be one of %(choices)s, not %(value)r")
UNKNOWN_KEY = N_("unknown key")
UNKNOWN_KEY_HINT = N_("unknown key (did you mean %(hint)r?)")


NOTHING_SAVED = N_("nothing was saved")


class SeriesError(VcsError):
    """One or more problems with series, each placed in its file, series and key, with a code
    `series.<what>` and, for the form, the field it belongs to."""

    heading = NOTHING_SAVED


class _Found:
    """The problems of one series entry as they are found, each under the key it concerns."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def __call__(self, key: str, code: str, message: str, **params: Any) -> None:
        self.problems.append(
            Problem(f"series.{code}", message, params, (key,), FIELD_OF_KEY.get(key, ""))
        )

    def add(self, key: str, problem: Problem) -> None:
        """A problem another check found (vcs/text.py), placed under `key`."""
        self.problems.append(replace(problem, where=(key,), field=FIELD_OF_KEY.get(key, "")))

    def unknown(self, key: str, known: set[str] | None = None, name: str = "") -> None:
        """An unknown key; with `known`, the one closest to `name` (else the key) as a hint."""
        hint = difflib.get_close_matches(name or key, known, n=1) if known else []
        if hint:
            self(key, "unknown-key", UNKNOWN_KEY_HINT, hint=hint[0])
        else:
            self(key, "unknown-key", UNKNOWN_KEY)


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
    livestream_provider: str = livestreams.default.name
    livestream_settings: dict[str, Any] = field(default_factory=dict)
    funding_text_lv: str = ""
    funding_text_en: str = ""
    funding_project: str = ""
    active: bool = True
    # Where the spec came from, for messages: ("series.toml", "series #2 (slug)"); the form
    # leaves it empty, since it shows each problem beside its field.
    where: tuple[str | Phrase, ...] = ()

    def columns(self) -> dict[str, Any]:
        """The values as Series columns (region resolved separately)."""
        values = dict(self.__dict__)
        values.pop("region")
        values.pop("where")
        return values


def read_series_file(path: Path, default_timezone: str = "Europe/Riga") -> list[SeriesSpec]:
    """Parse a series file; raise SeriesError listing every problem in it."""
    name = str(path)

    def refuse(code: str, message: str, **params: Any) -> SeriesError:
        return SeriesError([Problem(f"series.file.{code}", message, params, (name,))])

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise refuse("missing", N_("no such file")) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise refuse("not-toml", N_("not valid TOML: %(reason)s"), reason=str(exc)) from None
    except RecursionError:
        # tomllib parses nested arrays and tables by recursion: a few hundred levels exhaust it.
        raise refuse("too-deep", N_("not valid TOML: nested too deeply")) from None
    except OSError as exc:
        raise refuse("unreadable", N_("%(reason)s"), reason=exc.strerror or str(exc)) from None
    extra = set(data) - {"series"}
    if extra:
        raise refuse(
            "top-level-key",
            N_("unknown top-level key %(key)r (use [[series]])"),
            key=sorted(extra)[0],
        )
    entries = data.get("series")
    if not isinstance(entries, list) or not entries:
        raise refuse("no-series", N_("no [[series]] entries"))
    specs: list[SeriesSpec] = []
    problems: list[Problem] = []
    numbers: dict[str, list[int]] = {}
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            problems.append(
                Problem(
                    "series.file.not-a-table",
                    N_("must be a table ([[series]])"),
                    where=(name, Phrase(N_("series #%(number)s"), {"number": number})),
                )
            )
            continue
        slug = entry.get("slug", Phrase(N_("no slug")))
        label = Phrase(N_("series #%(number)s (%(slug)s)"), {"number": number, "slug": slug})
        try:
            spec = parse_series(entry, default_timezone)
        except SeriesError as exc:
            problems += [problem.at(name, label) for problem in exc.problems]
            continue
        spec.where = (name, label)
        specs.append(spec)
        numbers.setdefault(spec.slug, []).append(number)
    for slug, used_by in numbers.items():
        if len(used_by) > 1:
            which = Joined(tuple(Phrase(N_("series #%(number)s"), {"number": n}) for n in used_by))
            problems.append(
                Problem(
                    "series.slug.duplicate",
                    N_("slug %(slug)r is used by more than one series: %(which)s"),
                    {"slug": slug, "which": which},
                    (name,),
                )
            )
    if problems:
        raise SeriesError(problems)
    return specs


def parse_series(entry: dict[str, Any], default_timezone: str) -> SeriesSpec:
    """Check one series entry; every problem names its key and the form field it belongs to."""
    bad = _Found()

    for key in sorted(set(entry) - KEYS):
        bad.unknown(key, KEYS)
    missing = [key for key in REQUIRED if key not in entry]
    for key in missing:
        bad(key, "missing", N_("missing"))
    if missing:
        raise SeriesError(bad.problems)

    slug = _text(entry, "slug", bad)
    if slug and not SLUG.match(slug):
        bad(
            "slug",
            "slug.pattern",
            N_("%(slug)r must be lowercase letters, digits and single hyphens"),
            slug=slug,
        )
    elif len(slug) > SLUG_LENGTH:
        bad("slug", "slug.too-long", N_("longer than %(limit)s characters"), limit=SLUG_LENGTH)
    title = _bilingual(entry, "title", bad, required=True)
    description = _bilingual(entry, "description", bad, kind=text.TEXT)
    timezone = entry.get("timezone", default_timezone)
    tz = None
    try:
        tz = ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        bad(
            "timezone",
            "timezone.unknown",
            N_("unknown time zone %(timezone)r (use an IANA name like Europe/Riga)"),
            timezone=timezone,
        )
    start = _local_datetime(entry.get("start"), "start", bad)
    exdates = [_local_datetime(v, "exdates", bad) for v in _as_list(entry, "exdates", bad)]
    rrule = _text(entry, "rrule", bad)
    if tz and start and rrule:
        try:
            recurrence.parse_rule(rrule, start, tz)
            rrule = recurrence.canonical(rrule)
        except recurrence.RecurrenceError as exc:
            for problem in exc.problems:
                bad.add("rrule", replace(problem, code=f"series.{problem.code}"))
    minutes = _duration(entry.get("duration"), bad)
    scope = entry.get("scope", "national")
    region = entry.get("region")
    if scope == "national":
        if region is not None:
            bad(
                "region",
                "region.national",
                N_('a national series has no region (use scope = "region")'),
            )
    elif scope == "region":
        if not isinstance(region, str) or not region:
            bad(
                "region",
                "region.missing",
                N_('scope = "region" needs region = "<planning region slug>"'),
            )
    else:
        bad(
            "scope",
            "scope.invalid",
            N_('must be "national" or "region", not %(scope)r'),
            scope=scope,
        )
    place = _place(entry.get("place", {"kind": "online"}), bad)
    organiser = _table(entry, "organiser", ORGANISER_KEYS, bad)
    organiser_name = _line(organiser, "name", text.NAME, bad, "organiser.")
    organiser_phone = _line(organiser, "phone", text.SHORT, bad, "organiser.")
    email = str(organiser.get("email", "")).strip()
    if email and (not EMAIL.match(email) or not text.fits_a_header(email) or len(email) > 320):
        bad(
            "organiser.email",
            "organiser.email",
            N_("%(email)r is not an e-mail address"),
            email=email,
        )
    tags = [text.clean(str(t), text.LABEL) for t in _as_list(entry, "tags", bad)]
    for tag in tags:
        long = text.too_long(tag, text.LABEL, "tags")
        if long:
            bad(
                "tags",
                "tags.too-long",
                N_("%(tag)r…: %(problem)s"),
                tag=tag[:20],
                problem=Phrase(long.message, long.params),
            )
            break
    tags = [tag for tag in tags if tag]
    visibility = entry.get("visibility", "public")
    if visibility not in VISIBILITIES:
        bad(
            "visibility",
            "visibility.invalid",
            N_('must be "public" or "members", not %(visibility)r'),
            visibility=visibility,
        )
    # What each provider reads from the table, and its checks, are the provider's own.
    livestream = livestreams.check_series_table(entry.get("livestream"))
    bad.problems += livestream.problems
    funding = _table(entry, "funding", FUNDING_KEYS, bad)
    funding_text = ("", "")
    if funding:
        funding_text = _bilingual(funding, "funding.text", bad, key="text", kind=text.NOTE)
    funding_project = _line(funding, "project", text.LABEL, bad, "funding.")
    if funding and not funding_text[0]:
        bad(
            "funding.text",
            "funding.text-missing",
            N_("a funding statement needs its text (lv)"),
        )
    active = entry.get("active", True)
    if not isinstance(active, bool):
        bad("active", "not-a-boolean", N_("must be true or false"))
    if bad.problems:
        raise SeriesError(bad.problems)
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
        livestream_provider=livestream.provider,
        livestream_settings=livestream.settings,
        funding_text_lv=funding_text[0],
        funding_text_en=funding_text[1],
        funding_project=funding_project,
        active=active,
    )


def save_series(
    db: Db, spec: SeriesSpec, actor: str, now: dt.datetime, max_sessions: int, horizon: dt.timedelta
) -> tuple[Series, str]:
    """Create or update the series `spec.slug`; return it and "created", "changed" or "same"."""
    bad = _Found()
    region_id = None
    if spec.region is not None:
        region = db.scalars(select(Region).where(Region.slug == spec.region)).first()
        if region is None:
            bad(
                "region",
                "region.unknown",
                N_("unknown planning region %(region)r (known: %(known)s)"),
                region=spec.region,
                known=", ".join(db.scalars(select(Region.slug).order_by(Region.slug))),
            )
        else:
            region_id = region.id
    municipality = spec.place.get("municipality")
    if municipality and not db.scalar(
        select(Municipality.id).where(Municipality.slug == municipality)
    ):
        bad(
            "place.municipality",
            "place.municipality-unknown",
            N_("unknown municipality %(municipality)r"),
            municipality=municipality,
        )
    tz = ZoneInfo(spec.timezone)
    rule = recurrence.parse_rule(spec.rrule, spec.start_local, tz)
    window_start = max(now, recurrence.to_local(spec.start_local, tz))
    count = len(recurrence.expand(rule, spec.start_local, tz, window_start, window_start + horizon))
    if count > max_sessions:
        bad(
            "rrule",
            "rrule.too-many",
            N_(
                "gives %(count)s sessions within %(days)s days, more than the allowed %(max)s "
                "(sessions.max_per_series)"
            ),
            count=count,
            days=horizon.days,
            max=max_sessions,
        )
    if bad.problems:
        raise SeriesError(problem.at(*spec.where) for problem in bad.problems)

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


def _text(entry: dict[str, Any], key: str, bad: _Found) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or not value.strip():
        bad(key, "not-text", N_("must be non-empty text"))
        return ""
    return value.strip()


def _bilingual(
    entry: dict[str, Any],
    label: str,
    bad: _Found,
    required: bool = False,
    key: str | None = None,
    kind: text.Kind = text.TITLE,
) -> tuple[str, str]:
    value = entry.get(key or label)
    if value is None:
        if required:
            bad(label, "missing", N_("missing"))
        return "", ""
    if isinstance(value, str):
        one = _cleaned(value, kind, label, bad)
        if required and not one:
            bad(label, "empty", N_("must not be empty"))
        return one, ""
    if not isinstance(value, dict) or set(value) - {"lv", "en"}:
        bad(label, "not-bilingual", N_('must be text or { lv = "…", en = "…" }'))
        return "", ""
    lv = _cleaned(str(value.get("lv", "")), kind, f"{label}.lv", bad)
    en = _cleaned(str(value.get("en", "")), kind, f"{label}.en", bad)
    if required and not lv:
        bad(f"{label}.lv", "latvian-missing", N_("the Latvian text is required"))
    return lv, en


def _cleaned(value: str, kind: text.Kind, label: str, bad: _Found) -> str:
    """Text as vcs/text.py stores it; a problem for `label` when it is too long."""
    cleaned = text.clean(value, kind)
    problem = text.too_long(cleaned, kind, label)
    if problem:
        bad.add(label, problem)
    return cleaned


def _line(table: dict[str, Any], key: str, kind: text.Kind, bad: _Found, prefix: str) -> str:
    return _cleaned(str(table.get(key, "")), kind, prefix + key, bad)


def _local_datetime(value: Any, key: str, bad: _Found) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            bad(
                key,
                "datetime.offset",
                N_("%(value)s has an offset; give local time and a timezone"),
                value=value.isoformat(),
            )
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
    bad(
        key,
        "datetime.invalid",
        N_("%(value)r is not a local date and time like 2026-12-10T10:00"),
        value=value,
    )
    return None


def _in_range(value: dt.datetime, key: str, bad: _Found) -> dt.datetime | None:
    if not dates.in_range(value):
        bad(
            key,
            "datetime.year",
            N_("%(value)s: the year must be from %(first)s to %(last)s"),
            value=value.isoformat(),
            first=dates.FIRST_YEAR,
            last=dates.LAST_YEAR,
        )
        return None
    return value


def _as_list(entry: dict[str, Any], key: str, bad: _Found) -> list[Any]:
    value = entry.get(key, [])
    if not isinstance(value, list):
        bad(key, "not-a-list", N_("must be a list"))
        return []
    return value


def _table(entry: dict[str, Any], key: str, allowed: set[str], bad: _Found) -> dict[str, Any]:
    value = entry.get(key, {})
    if not isinstance(value, dict):
        bad(key, "not-a-table", N_("must be a table { … }"))
        return {}
    for unknown in sorted(set(value) - allowed):
        bad.unknown(f"{key}.{unknown}", allowed, unknown)
    return value


def _duration(value: Any, bad: _Found) -> int | None:
    match = DURATION.match(value) if isinstance(value, str) else None
    if not match or value in ("P", "PT") or str(value).endswith("T"):
        bad(
            "duration",
            "duration.invalid",
            N_("%(value)r is not an ISO 8601 duration like PT1H30M"),
            value=value,
        )
        return None
    # In whole minutes, not a timedelta, which overflows on a day count of ten digits; and only
    # numbers of a few digits, since int() refuses thousands (more than nine exceed 7 days).
    numbers = [(g or "0").lstrip("0") or "0" for g in match.groups()]
    too_long = N_("%(value)s is longer than %(days)s days")
    if any(len(number) > 9 for number in numbers):
        bad("duration", "duration.too-long", too_long, value=value[:40], days=MAX_DURATION.days)
        return None
    days, hours, minutes = (int(number) for number in numbers)
    total = (days * 24 + hours) * 60 + minutes
    if total <= 0:
        bad("duration", "duration.zero", N_("%(value)s must be longer than zero"), value=value)
        return None
    if total > MAX_DURATION // dt.timedelta(minutes=1):
        bad("duration", "duration.too-long", too_long, value=value, days=MAX_DURATION.days)
        return None
    return total


def _place(value: Any, bad: _Found) -> dict[str, Any]:
    if not isinstance(value, dict):
        bad("place", "place.not-a-table", N_('must be a table like { kind = "online" }'))
        return {}
    for unknown in sorted(set(value) - places.KEYS):
        bad.unknown(f"place.{unknown}")
    kind = value.get("kind")
    if kind not in places.KINDS:
        bad("place.kind", "place.kind", places.KIND_UNKNOWN, kind=kind)
    elif kind != "online":
        for key in places.NEEDED:
            if not text.clean(str(value.get(key, "")), text.TITLE):
                bad(f"place.{key}", f"place.needs-{key}", places.NEEDS[kind, key])
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
