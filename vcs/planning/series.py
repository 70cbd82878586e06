"""Series: read them from a series file, check every field, save them, list them."""

from __future__ import annotations

import contextlib
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
from vcs.planning import overrides, places, recurrence, registrations
from vcs.planning.materialize import materialize_series
from vcs.planning.sessions import check_speakers
from vcs.providers.provider import check_url
from vcs.providers.registry import REGISTRY as livestreams
from vcs.storage.models import Municipality, Region, Series, Session

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
    "sessions", "join_url", "registration",
}  # fmt: skip
SHOWN_IN_EVENTS = {
    "title_lv", "title_en", "description_lv", "description_en", "place", "organiser_name",
    "organiser_email", "organiser_phone", "tags", "livestream_settings", "funding_text_lv",
    "funding_text_en", "funding_project", "join_url",
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
    "active": "active", "join_url": "join_url", "registration": "registration",
    "registration.open": "registration_open", "registration.capacity": "registration_capacity",
    "registration.closes": "registration_closes",
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
    N_("funding.text.en"), N_("funding.project"), N_("active"), N_("sessions"), N_("date"),
    N_("extra"), N_("cancelled"), N_("reason"), N_("topic"), N_("topic.lv"), N_("topic.en"),
    N_("speakers"), N_("join_url"), N_("registration"), N_("registration.open"),
    N_("registration.capacity"), N_("registration.closes"),
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
    # The members-only meeting room of every session (a session may have its own).
    join_url: str = ""
    # {open, capacity, closes} (vcs/planning/registrations.py); None when the entry does not
    # say, so a save keeps what the series has (the staff form has no such fields yet).
    registration: dict[str, Any] | None = None
    active: bool = True
    # The [[series.sessions]] tables, checked and written one way (vcs/planning/overrides.py).
    overrides: list[dict[str, Any]] = field(default_factory=list)
    # Where the spec came from, for messages: ("series.toml", "series #2 (slug)"); the form
    # leaves it empty, since it shows each problem beside its field.
    where: tuple[str | Phrase, ...] = ()

    def columns(self) -> dict[str, Any]:
        """The values as Series columns (region resolved separately)."""
        values = dict(self.__dict__)
        values.pop("region")
        values.pop("where")
        if values["registration"] is None:
            values.pop("registration")
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
    join_url = entry.get("join_url", "")
    join_url = join_url.strip() if isinstance(join_url, str) else join_url
    join_problem = check_url(join_url)
    if join_problem is not None:
        bad.add("join_url", join_problem)
    registration = None
    if "registration" in entry:
        registration, problems = registrations.check_settings(entry["registration"])
        bad.problems += [
            replace(p, field=FIELD_OF_KEY.get(str(p.where[-1]), "registration")) for p in problems
        ]
    active = entry.get("active", True)
    if not isinstance(active, bool):
        bad("active", "not-a-boolean", N_("must be true or false"))
    found = _overrides(entry, bad)
    if found and tz and start and rrule and not any(p.where == ("rrule",) for p in bad.problems):
        _check_dates(found, rrule, start, tz, exdates, bad)
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
        join_url=join_url if isinstance(join_url, str) else "",
        registration=registration,
        active=active,
        overrides=overrides.ordered([override for _, override in found]),
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
    # Overrides are kept in date order, not the file's: they are named by their date here.
    places_said = [((), spec.place)] + [
        ((Phrase(N_("the session of %(date)s"), {"date": override["date"]}),), override["place"])
        for override in spec.overrides
        if "place" in override
    ]
    for where, place in places_said:
        municipality = place.get("municipality")
        if municipality and not db.scalar(
            select(Municipality.id).where(Municipality.slug == municipality)
        ):
            bad.problems.append(
                Problem(
                    "series.place.municipality-unknown",
                    N_("unknown municipality %(municipality)r"),
                    {"municipality": municipality},
                    (*where, "place.municipality"),
                    "" if where else FIELD_OF_KEY["place.municipality"],
                )
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
    if "overrides" in changed and _same_for_the_rule(db, series, before["overrides"], spec):
        del changed["overrides"]
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


def _same_for_the_rule(
    db: Db, series: Series, stored: list[dict[str, Any]], spec: SeriesSpec
) -> bool:
    """Whether two sets of overrides differ only about sessions staff edited.

    Staff's edit wins over the file, so such a difference changes nothing; and a file written
    by `vcs series export` (which says those edits as overrides) imports as "same".
    """
    edited = edited_keys(db, series)
    if not edited:
        return False

    def kept(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [value for value in values if overrides.key(value) not in edited]

    return kept(stored) == kept(spec.overrides)


def edited_keys(db: Db, series: Series) -> set[tuple[str, str]]:
    """The override keys (see `overrides.key`) of the sessions of `series` staff edited: the
    date of each edited session of the rule, and the date and time of each edited extra one."""
    tz = ZoneInfo(series.timezone)
    rule = recurrence.parse_rule(series.rrule, series.start_local, tz)
    skip = frozenset(dt.datetime.fromisoformat(value) for value in series.exdates)
    keys = set()
    for session in db.scalars(
        select(Session).where(Session.series_id == series.id, Session.edited.is_(True))
    ):
        slot = session.original_start or session.start
        local = slot.astimezone(tz)
        date = local.date().isoformat()
        keys.add((date, f"{local:%H:%M}"))
        if session.original_start is not None and recurrence.expand(
            rule, series.start_local, tz, slot, slot + dt.timedelta(seconds=1), skip
        ):
            keys.add((date, ""))
    return keys


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


# --- [[series.sessions]]: one date said differently (vcs/planning/overrides.py) ---------------

OVERRIDE = N_("sessions #%(number)s (%(date)s)")
NEAREST_ONE = N_(
    "%(date)s is not a date of the series' rule; the nearest one is %(nearest)s "
    "(a session outside the rule needs extra = true)"
)
NEAREST_TWO = N_(
    "%(date)s is not a date of the series' rule; the nearest ones are %(before)s and %(after)s "
    "(a session outside the rule needs extra = true)"
)
# How far on each side of a date the nearest occurrences are looked for: a yearly rule too.
NEAREST_SPAN = dt.timedelta(days=2 * 366)


def _label(number: int, date: Any) -> Phrase:
    shown = date.isoformat() if isinstance(date, dt.date) else date
    return Phrase(OVERRIDE, {"number": number, "date": shown or Phrase(N_("no date"))})


def _overrides(entry: dict[str, Any], bad: _Found) -> list[tuple[int, dict[str, Any]]]:
    """The checked [[series.sessions]] tables with their numbers in the file."""
    tables = entry.get("sessions", [])
    if not isinstance(tables, list):
        bad("sessions", "sessions.not-a-list", N_("must be a list of [[series.sessions]] tables"))
        return []
    found = []
    for number, table in enumerate(tables, 1):
        one = _Found()
        override = _override(table, one)
        label = _label(number, table.get("date") if isinstance(table, dict) else None)
        bad.problems += [replace(problem.at(label), field="") for problem in one.problems]
        if override is not None and not one.problems:
            found.append((number, override))
    numbers: dict[tuple[str, str], list[int]] = {}
    for number, override in found:
        numbers.setdefault(overrides.key(override), []).append(number)
    for (date, start), used_by in numbers.items():
        if len(used_by) > 1:
            which = Joined(tuple(_label(n, date) for n in used_by))
            bad(
                "sessions",
                "sessions.duplicate",
                N_("%(date)s is said more than once: %(which)s"),
                date=f"{date} {start}".strip(),
                which=which,
            )
    return found


def _override(table: Any, bad: _Found) -> dict[str, Any] | None:
    """One [[series.sessions]] table as the series keeps it (keys in the order a file writes
    them, text cleaned, the duration and start written one way); None when it is no table."""
    if not isinstance(table, dict):
        bad("sessions", "sessions.not-a-table", N_("must be a table ([[series.sessions]])"))
        return None
    for key in sorted(set(table) - set(overrides.KEYS)):
        bad.unknown(key, set(overrides.KEYS))
    found: dict[str, Any] = {}
    date = table.get("date")
    if isinstance(date, dt.date) and not isinstance(date, dt.datetime):
        date = date.isoformat()
    day = None
    if isinstance(date, str) and len(date) == 10:
        with contextlib.suppress(ValueError):
            day = dt.date.fromisoformat(date)
    if day is None:
        bad("date", "sessions.date", N_("%(value)r is not a date like 2027-02-09"), value=date)
    elif _in_range(dt.datetime.combine(day, dt.time()), "date", bad):
        found["date"] = day.isoformat()
    extra = table.get("extra", False)
    if not isinstance(extra, bool):
        bad("extra", "not-a-boolean", N_("must be true or false"))
    elif extra:
        found["extra"] = True
    if "start" in table:
        start = _override_start(table["start"], extra is True, bad)
        if start:
            found["start"] = start
    elif extra is True:
        bad(
            "start",
            "sessions.extra-needs-start",
            N_('a session outside the rule needs its start time, like start = "14:00"'),
        )
    if "duration" in table:
        minutes = _duration(table["duration"], bad)
        if minutes:
            found["duration"] = overrides.iso_duration(minutes)
    cancelled = table.get("cancelled", False)
    reason = table.get("reason")
    if not isinstance(cancelled, bool):
        bad("cancelled", "not-a-boolean", N_("must be true or false"))
    elif cancelled:
        found["cancelled"] = True
        found["reason"] = _cleaned(str(reason or ""), text.NOTE, "reason", bad)
        if not found["reason"]:
            bad("reason", "sessions.reason-missing", N_("say why the session is cancelled"))
    elif reason is not None:
        bad("reason", "sessions.reason-alone", N_("a reason goes with cancelled = true"))
    for name, kind in (("title", text.TITLE), ("topic", text.TOPIC), ("description", text.TEXT)):
        if name in table:
            lv, en = _bilingual(table, name, bad, kind=kind)
            if lv or en:
                found[name] = {"lv": lv, "en": en} if en else {"lv": lv}
    if "speakers" in table:
        try:
            speakers = check_speakers(table["speakers"])
        except VcsError as exc:
            bad.problems += [replace(problem, field="") for problem in exc.problems]
        else:
            if speakers:
                found["speakers"] = speakers
    if "place" in table:
        place = _place(table["place"], bad)
        if place:
            found["place"] = place
    if "registration" in table:
        registration, problems = registrations.check_settings(table["registration"])
        bad.problems += [replace(problem, field="") for problem in problems]
        if not problems:
            found["registration"] = registrations.without_defaults(registration)
    return {key: found[key] for key in overrides.KEYS if key in found}


def _override_start(value: Any, extra: bool, bad: _Found) -> str:
    """An override's start: a time of day ("13:00"), or for a session of the rule also a local
    date and time (moved to another day)."""
    if isinstance(value, str) and "T" not in value.upper():
        with contextlib.suppress(ValueError):
            value = dt.time.fromisoformat(value)
    if isinstance(value, dt.time) and value.tzinfo is None:
        return value.strftime("%H:%M")
    if not extra and isinstance(value, dt.datetime | str):
        moved = _local_datetime(value, "start", bad)
        return moved.isoformat(timespec="minutes") if moved else ""
    bad(
        "start",
        "sessions.start",
        N_('%(value)r is not a local time of day like "14:00"'),
        value=str(value),
    )
    return ""


def _check_dates(
    found: list[tuple[int, dict[str, Any]]],
    rrule: str,
    start: dt.datetime,
    tz: ZoneInfo,
    exdates: list[dt.datetime | None],
    bad: _Found,
) -> None:
    """Each override of the rule is about a date the rule gives; an extra one is not."""
    rule = recurrence.parse_rule(rrule, start, tz)
    skip = frozenset(value for value in exdates if value)
    for number, override in found:
        day = dt.date.fromisoformat(override["date"])
        middle = recurrence.to_local(dt.datetime.combine(day, dt.time()), tz)
        near = recurrence.expand(
            rule, start, tz, middle - NEAREST_SPAN, middle + NEAREST_SPAN, skip
        )
        dates_near = [overrides.local_date(value, tz) for value in near]
        where = (_label(number, override["date"]), "date")
        if override.get("extra"):
            if overrides.extra_start(override, tz) in near:
                bad.problems.append(
                    Problem(
                        "series.sessions.extra-is-in-the-rule",
                        N_("%(date)s %(start)s is a session of the rule already: leave out extra"),
                        {"date": override["date"], "start": override["start"]},
                        where,
                    )
                )
            continue
        if override["date"] in dates_near:
            continue
        before = [value for value in dates_near if value < override["date"]][-1:]
        after = [value for value in dates_near if value > override["date"]][:1]
        if before and after:
            message, params = NEAREST_TWO, {"before": before[0], "after": after[0]}
        else:
            message, params = NEAREST_ONE, {"nearest": (before or after or ["-"])[0]}
        bad.problems.append(
            Problem(
                "series.sessions.not-in-the-rule",
                message,
                {"date": override["date"], **params},
                where,
            )
        )


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
            report = materialize_series(
                db, series, now, settings.horizon, settings.host, actor=actor
            )
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
