"""Every problem a series file, the series form and a member file can report, by its code: in
Latvian on the Latvian staff pages (no English template left), and in English, unchanged, on the
CLI's `vcs:` lines.

The tables below are the specification: each row names a code, what causes it (a change to a
valid series entry, a valid form, or a member file's cells) and the words in both languages.
tests/unit/test_error_codes.py checks that every code the checks can raise has a row here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from markupsafe import escape
from starlette.testclient import TestClient

from tests.conftest import isolated_environ, make_settings
from tests.factories import NATIONAL, import_entries, national
from tests.integration.test_staff_access import ADMIN, EDITOR, csrf_of, log_in, staff_site
from tests.integration.test_staff_series import second_thursdays_form
from vcs.bootstrap import initialise
from vcs.cli import cli
from vcs.context import Context

TITLE_LIMIT = 300  # text.TITLE
LABEL_LIMIT = 100  # text.LABEL
REGIONS = "kurzeme, latgale, riga, vidzeme, zemgale"
COLUMNS = (
    "email, name, phone, municipality, organisation, position, language, follows, status, "
    "consent_at, consent_source, consent_text"
)
# A few sessions a series may have at most, so that "too many" is quick to cause.
MAX_PER_SERIES = "10"


@dataclass(frozen=True)
class Raw:
    """A value written into TOML as it is (a date-time with an offset)."""

    text: str


@dataclass(frozen=True)
class Case:
    """One problem: its code, where it is, what causes it, and what it says in each language."""

    code: str
    key: str  # the series key (or member column) the problem is placed under
    english: str
    latvian: str
    entry: dict[str, Any] | None = None  # changes to a valid [[series]] entry; None: not so
    form: dict[str, Any] | None = None  # changes to the valid series form; None: the form can't


def rule(code: str, rrule: str, english: str, latvian: str) -> Case:
    """A recurrence rule problem: the same rule typed into a file or the form's rule field."""
    return Case(
        f"series.rrule.{code}", "rrule", english, latvian, {"rrule": rrule}, {"rrule": rrule}
    )


SERIES_CASES = [
    Case("series.unknown-key", "titel", "unknown key (did you mean 'title'?)",
         "nezināma atslēga (vai domājāt 'title'?)", {"titel": "X"}),
    Case("series.unknown-key", "place.floor", "unknown key", "nezināma atslēga",
         {"place": {"kind": "online", "floor": "2"}}),
    Case("series.missing", "duration", "missing", "trūkst", {"duration": None}),
    Case("series.not-text", "slug", "must be non-empty text", "jābūt tekstam, kas nav tukšs",
         {"slug": ""}, {"slug": ""}),
    Case("series.slug.pattern", "slug",
         "'Ne Derīgs' must be lowercase letters, digits and single hyphens",
         "'Ne Derīgs' drīkst būt tikai mazie latīņu burti, cipari un atsevišķas defises",
         {"slug": "Ne Derīgs"}, {"slug": "Ne Derīgs"}),
    Case("series.slug.too-long", "slug", "longer than 100 characters",
         "ir vairāk nekā 100 rakstzīmju", {"slug": "a" * 101}, {"slug": "a" * 101}),
    Case("series.empty", "title", "must not be empty", "nedrīkst būt tukšs", {"title": ""}),
    Case("series.not-bilingual", "title", 'must be text or { lv = "…", en = "…" }',
         'jābūt tekstam vai { lv = "…", en = "…" }', {"title": {"lv": "A", "de": "B"}}),
    Case("series.latvian-missing", "title.lv", "the Latvian text is required",
         "vajag tekstu latviski", {"title": {"lv": "", "en": "Series"}}, {"title_lv": ""}),
    Case("text.too-long", "title.lv",
         f"Too long: at most {TITLE_LIMIT} characters (this has {TITLE_LIMIT + 1}).",
         f"Pārāk garš: ne vairāk kā {TITLE_LIMIT} rakstzīmes (šeit ir {TITLE_LIMIT + 1}).",
         {"title": {"lv": "x" * (TITLE_LIMIT + 1)}}, {"title_lv": "x" * (TITLE_LIMIT + 1)}),
    Case("series.timezone.unknown", "timezone",
         "unknown time zone 'Europe/Rīga' (use an IANA name like Europe/Riga)",
         "nezināma laika josla 'Europe/Rīga' (izmantojiet IANA nosaukumu, piemēram, Europe/Riga)",
         {"timezone": "Europe/Rīga"}, {"timezone": "Europe/Rīga"}),
    Case("series.datetime.offset", "start",
         "2026-12-10T10:00:00+02:00 has an offset; give local time and a timezone",
         "2026-12-10T10:00:00+02:00 ir norādīta laika nobīde; norādiet vietējo laiku un laika "
         "joslu", {"start": Raw("2026-12-10T10:00:00+02:00")}),
    Case("series.datetime.invalid", "start",
         "'10.12.2026 10:00' is not a local date and time like 2026-12-10T10:00",
         "'10.12.2026 10:00' nav vietējais datums un laiks, piemēram, 2026-12-10T10:00",
         {"start": "10.12.2026 10:00"}, {"start": "10.12.2026 10:00"}),
    Case("series.datetime.year", "start",
         "1800-01-02T10:00:00: the year must be from 1900 to 2999",
         "1800-01-02T10:00:00: gadam jābūt no 1900 līdz 2999",
         {"start": "1800-01-02T10:00"}, {"start": "1800-01-02T10:00"}),
    Case("series.not-a-list", "exdates", "must be a list", "jābūt sarakstam",
         {"exdates": "2027-01-14T10:00"}),
    rule("freq-missing", "INTERVAL=2", "FREQ is missing", "trūkst FREQ"),
    rule("freq-too-fine", "FREQ=HOURLY",
         "FREQ=HOURLY is finer than DAILY; sessions repeat at most daily",
         "FREQ=HOURLY ir biežāks par DAILY; sesijas atkārtojas ne biežāk kā reizi dienā"),
    rule("freq-unknown", "FREQ=FORTNIGHTLY",
         "FREQ=FORTNIGHTLY is not DAILY, WEEKLY, MONTHLY or YEARLY",
         "FREQ=FORTNIGHTLY nav DAILY, WEEKLY, MONTHLY vai YEARLY"),
    rule("count-and-until", "FREQ=WEEKLY;COUNT=3;UNTIL=20270101",
         "COUNT and UNTIL cannot both be given (RFC 5545)",
         "COUNT un UNTIL nevar norādīt abus reizē (RFC 5545)"),
    rule("byday-mixed", "FREQ=MONTHLY;BYDAY=TH,2TH",
         "BYDAY=TH,2TH mixes plain and numbered weekdays; use one kind per series",
         "BYDAY=TH,2TH jauc vienkāršas un numurētas nedēļas dienas; vienā sērijā izmantojiet "
         "tikai vienu veidu"),
    rule("bymonthday-weekly", "FREQ=WEEKLY;BYMONTHDAY=10",
         "BYMONTHDAY cannot be used with FREQ=WEEKLY (RFC 5545 3.3.10)",
         "BYMONTHDAY nevar lietot kopā ar FREQ=WEEKLY (RFC 5545 3.3.10)"),
    rule("bysetpos-alone", "FREQ=MONTHLY;BYSETPOS=2",
         "BYSETPOS needs another BYxxx part to select from",
         "BYSETPOS vajag vēl kādu BYxxx daļu, no kuras izvēlēties"),
    rule("until-before-start", "FREQ=MONTHLY;BYDAY=2TH;UNTIL=20261201",
         "UNTIL (2026-12-01 23:59) is before the first start (2026-12-10 10:00)",
         "UNTIL (2026-12-01 23:59) ir pirms pirmā sākuma (2026-12-10 10:00)"),
    rule("no-occurrence", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
         "the first start 2026-12-10 10:00 is not an occurrence of the rule, and the rule gives "
         "no session in the 5 years after it",
         "pirmais sākums 2026-12-10 10:00 neatbilst noteikumam, un 5 gados pēc tā noteikums "
         "nedod nevienu sesiju"),
    rule("start-not-occurrence", "FREQ=MONTHLY;BYDAY=1TH",
         "the first start 2026-12-10 10:00 is not an occurrence of the rule; its first "
         "occurrence is 2027-01-07 10:00",
         "pirmais sākums 2026-12-10 10:00 neatbilst noteikumam; pirmā reize pēc noteikuma ir "
         "2027-01-07 10:00"),
    rule("empty", "RRULE:", "the rule is empty (e.g. FREQ=MONTHLY;BYDAY=2TH)",
         "noteikums ir tukšs (piemēram, FREQ=MONTHLY;BYDAY=2TH)"),
    rule("not-name-value", "FREQ", "'FREQ' is not NAME=VALUE",
         "'FREQ' nav pierakstīts kā NOSAUKUMS=VĒRTĪBA"),
    rule("part-unsupported", "FREQ=WEEKLY;BYHOUR=10",
         "BYHOUR is not supported (use FREQ, INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY, "
         "BYMONTH, BYSETPOS, WKST)",
         "BYHOUR netiek atbalstīts (izmantojiet FREQ, INTERVAL, COUNT, UNTIL, BYDAY, "
         "BYMONTHDAY, BYMONTH, BYSETPOS, WKST)"),
    rule("part-twice", "FREQ=WEEKLY;FREQ=DAILY", "FREQ is given twice",
         "FREQ ir norādīts divreiz"),
    rule("empty-item", "FREQ=WEEKLY;BYDAY=TH,,FR", "empty item in 'TH,,FR'",
         "tukšs vienums sarakstā 'TH,,FR'"),
    rule("not-positive", "FREQ=WEEKLY;INTERVAL=0",
         "INTERVAL=0 must be a whole number of at least 1",
         "INTERVAL=0: jābūt veselam skaitlim, ne mazākam par 1"),
    rule("too-large", "FREQ=WEEKLY;INTERVAL=99999999999", "INTERVAL=99999999999… is too large",
         "INTERVAL=99999999999… ir pārāk liels"),
    rule("not-a-number", "FREQ=MONTHLY;BYMONTHDAY=x", "BYMONTHDAY=X is not a number",
         "BYMONTHDAY=X nav skaitlis"),
    rule("out-of-range", "FREQ=MONTHLY;BYMONTHDAY=32",
         "BYMONTHDAY=32 is out of range (1..31 or -31..-1)",
         "BYMONTHDAY=32 ir ārpus pieļaujamām robežām (1..31 vai -31..-1)"),
    rule("out-of-range", "FREQ=YEARLY;BYMONTH=13", "BYMONTH=13 is out of range (1..12)",
         "BYMONTH=13 ir ārpus pieļaujamām robežām (1..12)"),
    rule("not-a-weekday", "FREQ=WEEKLY;WKST=XX",
         "WKST=XX is not a weekday (MO, TU, WE, TH, FR, SA, SU)",
         "WKST=XX nav nedēļas diena (MO, TU, WE, TH, FR, SA, SU)"),
    rule("byday-token", "FREQ=WEEKLY;BYDAY=THU",
         "BYDAY=THU is not a weekday like TH, 2TH or -1FR",
         "BYDAY=THU nav nedēļas diena, piemēram, TH, 2TH vai -1FR"),
    rule("byday-numbered-freq", "FREQ=WEEKLY;BYDAY=2TH",
         "BYDAY=2TH: a numbered weekday needs FREQ=MONTHLY or YEARLY",
         "BYDAY=2TH: numurētai nedēļas dienai vajag FREQ=MONTHLY vai YEARLY"),
    rule("byday-number-range", "FREQ=MONTHLY;BYDAY=6TH",
         "BYDAY=6TH: the number must be 1..5 or -5..-1",
         "BYDAY=6TH: skaitlim jābūt 1..5 vai -5..-1"),
    rule("until-format", "FREQ=WEEKLY;UNTIL=2027",
         "UNTIL=2027 is not a date (20270630) or a date-time (20270630T000000Z)",
         "UNTIL=2027 nav datums (20270630) vai datums ar laiku (20270630T000000Z)"),
    Case("series.duration.invalid", "duration",
         "'x' is not an ISO 8601 duration like PT1H30M",
         "'x' nav ISO 8601 ilgums, piemēram, PT1H30M", {"duration": "x"}, {"duration": "x"}),
    Case("series.duration.too-long", "duration", "PT20000M is longer than 7 days",
         "PT20000M: ilgums pārsniedz 7 dienas", {"duration": "PT20000M"}, {"duration": "20000"}),
    Case("series.duration.zero", "duration", "PT0M must be longer than zero",
         "PT0M: ilgumam jābūt lielākam par nulli", {"duration": "PT0M"}, {"duration": "0"}),
    Case("series.region.national", "region",
         'a national series has no region (use scope = "region")',
         'visa tīkla sērijai nav reģiona (izmantojiet scope = "region")',
         {"region": "vidzeme"}),
    Case("series.region.missing", "region",
         'scope = "region" needs region = "<planning region slug>"',
         'ja scope = "region", vajag region = "<plānošanas reģiona slug>"',
         {"scope": "region"}, {"scope": "region", "region": ""}),
    Case("series.scope.invalid", "scope", "must be \"national\" or \"region\", not 'world'",
         "jābūt \"national\" vai \"region\", nevis 'world'",
         {"scope": "world"}, {"scope": "world"}),
    Case("series.place.not-a-table", "place", 'must be a table like { kind = "online" }',
         'jābūt tabulai, piemēram, { kind = "online" }', {"place": "online"}),
    Case("series.place.kind", "place.kind", "must be online, venue or hybrid, not 'boat'",
         "jābūt online, venue vai hybrid, nevis 'boat'",
         {"place": {"kind": "boat"}}, {"place_kind": "boat"}),
    Case("series.place.needs-venue", "place.venue", "a venue meeting needs its venue",
         "klātienes sanāksmei jānorāda norises vieta",
         {"place": {"kind": "venue", "address": "Rīgas iela 1"}},
         {"place_kind": "venue", "place_venue": "", "place_address": "Rīgas iela 1"}),
    Case("series.place.needs-address", "place.address", "a hybrid meeting needs its address",
         "hibrīdai sanāksmei jānorāda adrese",
         {"place": {"kind": "hybrid", "venue": "Jauniešu centrs"}},
         {"place_kind": "hybrid", "place_venue": "Jauniešu centrs", "place_address": ""}),
    Case("series.organiser.email", "organiser.email", "'nav-adrese' is not an e-mail address",
         "'nav-adrese' nav e-pasta adrese",
         {"organiser": {"email": "nav-adrese"}}, {"organiser_email": "nav-adrese"}),
    Case("series.not-a-table", "organiser", "must be a table { … }", "jābūt tabulai { … }",
         {"organiser": "Anna"}),
    Case("series.unknown-key", "organiser.mail", "unknown key (did you mean 'email'?)",
         "nezināma atslēga (vai domājāt 'email'?)", {"organiser": {"mail": "a@cesis.lv"}}),
    Case("series.tags.too-long", "tags",
         f"'xxxxxxxxxxxxxxxxxxxx'…: Too long: at most {LABEL_LIMIT} characters (this has "
         f"{LABEL_LIMIT + 1}).",
         f"'xxxxxxxxxxxxxxxxxxxx'…: Pārāk garš: ne vairāk kā {LABEL_LIMIT} rakstzīmes (šeit ir "
         f"{LABEL_LIMIT + 1}).",
         {"tags": ["x" * (LABEL_LIMIT + 1)]}, {"tags": "x" * (LABEL_LIMIT + 1)}),
    Case("series.visibility.invalid", "visibility",
         "must be \"public\" or \"members\", not 'secret'",
         "jābūt \"public\" vai \"members\", nevis 'secret'",
         {"visibility": "secret"}, {"visibility": "secret"}),
    Case("series.livestream.not-a-table", "livestream",
         'must be a table like { provider = "static", watch_url = "…" }',
         'jābūt tabulai, piemēram, { provider = "static", watch_url = "…" }',
         {"livestream": "static"}),
    Case("series.livestream.provider", "livestream.provider",
         "must be one of static, youtube, not 'zoom'",
         "jābūt vienam no: static, youtube, nevis 'zoom'",
         {"livestream": {"provider": "zoom"}}, {"livestream_provider": "zoom"}),
    Case("series.livestream.other-provider", "livestream.watch_url",
         "not a setting of the youtube provider",
         "tas nav nodrošinātāja youtube iestatījums",
         {"livestream": {"provider": "youtube", "watch_url": "https://x.lv"}}),
    Case("series.unknown-key", "livestream.watch_ur",
         "unknown key (did you mean 'watch_url'?)", "nezināma atslēga (vai domājāt 'watch_url'?)",
         {"livestream": {"provider": "static", "watch_ur": "https://x.lv"}}),
    Case("series.url.scheme", "livestream.watch_url", "'ftp://x.lv' is not an http(s) address",
         "'ftp://x.lv' nav http(s) adrese",
         {"livestream": {"watch_url": "ftp://x.lv"}}, {"watch_url": "ftp://x.lv"}),
    Case("text.url-spaces", "livestream.watch_url",
         "A web address cannot contain spaces, line breaks or control characters.",
         "Tīmekļa adresē nedrīkst būt atstarpju, rindiņu pārtraukumu vai vadības rakstzīmju.",
         {"livestream": {"watch_url": "https://x.lv/a b"}}, {"watch_url": "https://x.lv/a b"}),
    Case("series.url.placeholder", "livestream.watch_url",
         "only {date}, {slug} and {id} can be filled in",
         "aizpildīt var tikai {date}, {slug} un {id}",
         {"livestream": {"watch_url": "https://x.lv/{room}"}},
         {"watch_url": "https://x.lv/{room}"}),
    Case("series.livestream.privacy", "livestream.privacy",
         "must be one of public, unlisted, private, not 'secret'",
         "jābūt vienam no: public, unlisted, private, nevis 'secret'",
         {"livestream": {"provider": "youtube", "privacy": "secret"}},
         {"livestream_provider": "youtube", "privacy": "secret"}),
    Case("series.livestream.stream-id", "livestream.stream_id",
         "must be the id of a YouTube live stream, as text",
         "jābūt YouTube tiešraides straumes ID, rakstītam kā teksts",
         {"livestream": {"provider": "youtube", "stream_id": 5}}),
    Case("series.funding.text-missing", "funding.text", "a funding statement needs its text (lv)",
         "finansējuma norādei vajag tekstu (lv)",
         {"funding": {"project": "Nr. 1"}}, {"funding_project": "Nr. 1"}),
    Case("series.not-a-boolean", "active", "must be true or false", "jābūt true vai false",
         {"active": "yes"}),
    # [[series.sessions]]: the rule gives 2027-01-14 and 2027-02-11 (second Thursdays).
    Case("series.sessions.not-a-list", "sessions", "must be a list of [[series.sessions]] tables",
         "jābūt [[series.sessions]] tabulu sarakstam", {"sessions": "2027-01-14"}),
    Case("series.sessions.not-a-table", "sessions #1 (no date): sessions",
         "must be a table ([[series.sessions]])", "jābūt tabulai ([[series.sessions]])",
         {"sessions": ["2027-01-14"]}),
    Case("series.sessions.date", "sessions #1 (14.01.2027): date",
         "'14.01.2027' is not a date like 2027-02-09", "'14.01.2027' nav datums formā 2027-02-09",
         {"sessions": [{"date": "14.01.2027"}]}),
    Case("series.sessions.duplicate", "sessions",
         "2027-01-14 is said more than once: sessions #1 (2027-01-14) and sessions #2 (2027-01-14)",
         "2027-01-14 ir norādīts vairāk nekā vienu reizi: 1. sesija (2027-01-14) un 2. sesija "
         "(2027-01-14)",
         {"sessions": [{"date": "2027-01-14"}, {"date": "2027-01-14"}]}),
    Case("series.sessions.extra-needs-start", "sessions #1 (2027-01-20): start",
         'a session outside the rule needs its start time, like start = "14:00"',
         'sesijai ārpus noteikuma vajag sākuma laiku, piemēram, start = "14:00"',
         {"sessions": [{"date": "2027-01-20", "extra": True}]}),
    Case("series.sessions.start", "sessions #1 (2027-01-20): start",
         "'2027-01-20T10:00' is not a local time of day like \"14:00\"",
         "'2027-01-20T10:00' nav vietējais laiks formā \"14:00\"",
         {"sessions": [{"date": "2027-01-20", "extra": True, "start": "2027-01-20T10:00"}]}),
    Case("series.sessions.reason-missing", "sessions #1 (2027-01-14): reason",
         "say why the session is cancelled", "norādiet, kāpēc sesija atcelta",
         {"sessions": [{"date": "2027-01-14", "cancelled": True}]}),
    Case("series.sessions.reason-alone", "sessions #1 (2027-01-14): reason",
         "a reason goes with cancelled = true", "iemeslu norāda tikai kopā ar cancelled = true",
         {"sessions": [{"date": "2027-01-14", "reason": "Slimība"}]}),
    Case("series.sessions.not-in-the-rule", "sessions #1 (2027-01-15): date",
         "2027-01-15 is not a date of the series' rule; the nearest ones are 2027-01-14 and "
         "2027-02-11 (a session outside the rule needs extra = true)",
         "2027-01-15 nav sērijas noteikuma datums; tuvākie ir 2027-01-14 un 2027-02-11 (sesijai "
         "ārpus noteikuma vajag extra = true)",
         {"sessions": [{"date": "2027-01-15", "topic": "Tēma"}]}),
    Case("series.sessions.extra-is-in-the-rule", "sessions #1 (2027-01-14): date",
         "2027-01-14 10:00 is a session of the rule already: leave out extra",
         "2027-01-14 10:00 jau ir noteikuma sesija: izlaidiet extra",
         {"sessions": [{"date": "2027-01-14", "extra": True, "start": "10:00"}]}),
]  # fmt: skip
# Found when a checked series is saved: unknown names, and more sessions than allowed.
SAVE_CASES = [
    Case("series.region.unknown", "region",
         f"unknown planning region 'latgalee' (known: {REGIONS})",
         f"nezināms plānošanas reģions 'latgalee' (zināmie: {REGIONS})",
         {"scope": "region", "region": "latgalee"}, {"scope": "region", "region": "latgalee"}),
    Case("series.place.municipality-unknown", "place.municipality", "unknown municipality 'nav'",
         "nezināma pašvaldība 'nav'",
         {"place": {"kind": "online", "municipality": "nav"}}, {"place_municipality": "nav"}),
    Case("series.rrule.too-many", "rrule",
         f"gives 12 sessions within 180 days, more than the allowed {MAX_PER_SERIES} "
         "(sessions.max_per_series)",
         f"sesiju skaits 180 dienās būtu 12, bet atļauts ne vairāk kā {MAX_PER_SERIES} "
         "(sessions.max_per_series)",
         {"rrule": "FREQ=DAILY;COUNT=12", "start": "2030-01-03T10:00"},
         {"rrule": "FREQ=DAILY;COUNT=12", "start": "2030-01-03T10:00"}),
]  # fmt: skip
# Problems with a whole file: (code, file content or None for no file, English, Latvian).
FILE_CASES = [
    ("series.file.missing", None, "no such file", "šāda faila nav"),
    ("series.file.not-toml", "[[series]\n",
     "not valid TOML: Expected ']]' at the end of an array declaration (at line 1, column 9)",
     "nav derīgs TOML: Expected ']]' at the end of an array declaration (at line 1, column 9)"),
    ("series.file.too-deep", "x = " + "[" * 1000 + "]" * 1000 + "\n",
     "not valid TOML: nested too deeply", "nav derīgs TOML: pārāk dziļa ligzdošana"),
    # A name longer than the file system allows.
    ("series.file.unreadable", None, "File name too long",
     "failu sistēmas kļūda: File name too long"),
    ("series.file.top-level-key", "[network]\nname = 1\n",
     "unknown top-level key 'network' (use [[series]])",
     "nezināma augšējā līmeņa atslēga 'network' (izmantojiet [[series]])"),
    ("series.file.no-series", "series = []\n", "no [[series]] entries",
     "nav neviena [[series]] ieraksta"),
    ("series.file.not-a-table", "series = [1]\n", "series #1: must be a table ([[series]])",
     "1. sērija: jābūt tabulai ([[series]])"),
]  # fmt: skip


def member_row(**cells: str) -> str:
    """A valid row of MEMBER_HEADER with `cells` changed."""
    values = {"email": "", "name": "Anna Ozola", "phone": "", "municipality": "", "language": "",
              "follows": "", "status": "", "consent_at": ""} | cells  # fmt: skip
    return ";".join(values[column] for column in MEMBER_HEADER.split(";"))


MEMBER_HEADER = "email;name;phone;municipality;language;follows;status;consent_at"
LONG_ADDRESS = "a" * 64 + "@" + ".".join(["b" * 63] * 3) + ".lv"
# Problems with one cell, one row each: (code, column, cells, English, Latvian).
CELL_CASES = [
    ("member.missing", "email", {"email": ""}, "missing", "trūkst"),
    ("member.email.with-name", "email", {"email": "Anna <anna@cesis.lv>"},
     "'Anna <anna@cesis.lv>': write the address alone, without a name",
     "'Anna <anna@cesis.lv>': rakstiet tikai adresi, bez vārda"),
    ("member.email.space", "email", {"email": "anna ozola@cesis.lv"},
     "'anna ozola@cesis.lv' contains a space", "'anna ozola@cesis.lv' satur atstarpi"),
    ("member.email.no-at", "email", {"email": "anna(at)cesis.lv"},
     "'anna(at)cesis.lv' is not an e-mail address (it needs one @)",
     "'anna(at)cesis.lv' nav e-pasta adrese (tajā jābūt vienai @ zīmei)"),
    ("member.email.invalid", "email", {"email": "@cesis.lv"},
     "'@cesis.lv' is not an e-mail address", "'@cesis.lv' nav e-pasta adrese"),
    ("member.email.formula", "email", {"email": "=cmd@cesis.lv"},
     "'=cmd@cesis.lv' starts with '='", "'=cmd@cesis.lv' sākas ar '='"),
    ("member.email.diacritics", "email", {"email": "jānis@cesis.lv"},
     "'jānis@cesis.lv': letters with diacritics before the @ are not deliverable",
     "'jānis@cesis.lv': uz adresi, kurā pirms @ ir burti ar garumzīmēm vai mīkstinājuma "
     "zīmēm, vēstules netiek piegādātas"),
    ("member.email.local-part", "email", {"email": "anna..ozola@cesis.lv"},
     "'anna..ozola@cesis.lv': the part before the @ is not valid",
     "'anna..ozola@cesis.lv': daļa pirms @ nav derīga"),
    ("member.email.domain", "email", {"email": "anna@cesis"},
     "'anna@cesis': 'cesis' is not a domain name", "'anna@cesis': 'cesis' nav domēna vārds"),
    ("member.too-long", "email", {"email": LONG_ADDRESS}, "longer than 254 characters",
     "ir vairāk nekā 254 rakstzīmju"),
    ("member.missing", "name", {"name": ""}, "missing", "trūkst"),
    ("member.too-long", "name", {"name": "N" * 201}, "longer than 200 characters",
     "ir vairāk nekā 200 rakstzīmju"),
    ("member.phone.shortened", "phone", {"phone": "3,71261E+10"},
     "'3,71261E+10' is a number a spreadsheet shortened: format the column as text",
     "'3,71261E+10' ir izklājlapas saīsināts skaitlis: formatējiet kolonnu kā tekstu"),
    ("member.phone.invalid", "phone", {"phone": "zvaniet"},
     "'zvaniet' is not a phone number like +371 26123456",
     "'zvaniet' nav tālruņa numurs, piemēram, +371 26123456"),
    ("member.language", "language", {"language": "de"}, "must be lv or en, not 'de'",
     "jābūt lv vai en, nevis 'de'"),
    ("member.status", "status", {"status": "aktīvs"},
     "must be one of pending, active, unsubscribed, bounced, not 'aktīvs'",
     "jābūt vienam no: pending, active, unsubscribed, bounced, nevis 'aktīvs'"),
    ("member.consent-at.invalid", "consent_at", {"consent_at": "vakar"},
     "'vakar' is not a date and time like 2026-11-23T14:05:00+02:00 or 23.11.2026 14:05",
     "'vakar' nav datums un laiks, piemēram, 2026-11-23T14:05:00+02:00 vai 23.11.2026 14:05"),
    ("member.consent-at.future", "consent_at", {"consent_at": "2099-01-01T10:00"},
     "'2099-01-01T10:00' is in the future", "'2099-01-01T10:00' ir nākotnē"),
    ("member.municipality.unknown", "municipality", {"municipality": "Cēsis"},
     "unknown municipality 'Cēsis' (did you mean 'Cēsu novads' (cesu-novads)?); give its name "
     "or slug from config/network.toml",
     "nezināma pašvaldība 'Cēsis' (vai domājāt 'Cēsu novads' (cesu-novads)?); norādiet tās "
     "nosaukumu vai slug no config/network.toml"),
    ("member.municipality.unknown", "municipality", {"municipality": "Zzz"},
     "unknown municipality 'Zzz'; give its name or slug from config/network.toml",
     "nezināma pašvaldība 'Zzz'; norādiet tās nosaukumu vai slug no config/network.toml"),
    ("member.follows.alone", "follows", {"follows": "all|vidzeme"},
     "all and none stand alone, without slugs",
     "all un none raksta vienus pašus, bez sēriju un reģionu adresēm"),
    ("member.follows.ambiguous", "follows", {"follows": "vidzeme"},
     "'vidzeme' is both a series and a region: write series:vidzeme or region:vidzeme",
     "'vidzeme' ir gan sērija, gan reģions: rakstiet series:vidzeme vai region:vidzeme"),
    ("member.follows.kind", "follows", {"follows": "grupa:x"},
     "'grupa:x': write series:SLUG or region:SLUG",
     "'grupa:x': rakstiet series:SLUG vai region:SLUG"),
    ("member.follows.unknown", "follows", {"follows": "series:qqqqqqqqqq"},
     "unknown series 'qqqqqqqqqq'", "nezināma sērija 'qqqqqqqqqq'"),
    ("member.follows.unknown", "follows", {"follows": f"series:{NATIONAL[:-1]}"},
     f"unknown series '{NATIONAL[:-1]}' (did you mean 'series:{NATIONAL}'?)",
     f"nezināma sērija '{NATIONAL[:-1]}' (vai domājāt 'series:{NATIONAL}'?)"),
    ("member.follows.unknown", "follows", {"follows": "region:qqqqqqqqqq"},
     "unknown planning region 'qqqqqqqqqq'", "nezināms plānošanas reģions 'qqqqqqqqqq'"),
    ("member.follows.unknown", "follows", {"follows": "region:kurzem"},
     "unknown planning region 'kurzem' (did you mean 'region:kurzeme'?)",
     "nezināms plānošanas reģions 'kurzem' (vai domājāt 'region:kurzeme'?)"),
    ("member.follows.unknown", "follows", {"follows": "nekas"},
     "unknown series or region 'nekas'", "nezināma sērija vai reģions 'nekas'"),
    ("member.follows.unknown", "follows", {"follows": "zemgal"},
     "unknown series or region 'zemgal' (did you mean 'region:zemgale'?)",
     "nezināma sērija vai reģions 'zemgal' (vai domājāt 'region:zemgale'?)"),
]  # fmt: skip
# Problems of a row or the header as a whole: (code, line, column, English, Latvian); the file
# for them is CSV_FILES[code].
ROW_CASES = [
    ("csv.email-twice", 3, "email", "'anna@cesis.lv' is already on line 2",
     "'anna@cesis.lv' jau ir 2. rindā"),
    ("csv.unnamed-column", 4, "column 3", "a value under a column with no name",
     "vērtība kolonnā, kurai nav nosaukuma"),
    ("csv.row-width", 5, "",
     "has 5 values but the header has 4 columns (a value with the separator in it needs quotes)",
     "vērtību skaits (5) nesakrīt ar kolonnu skaitu galvenē (4); vērtību, kurā ir atdalītājs, "
     "jāraksta pēdiņās"),
    ("csv.column-twice", 1, "phone", "appears twice", "ir divreiz"),
    ("csv.not-a-column", 1, "id", "not a member column: members are matched by email, not by id",
     "tā nav dalībnieku kolonna: dalībniekus atpazīst pēc e-pasta adreses, nevis pēc id"),
    ("csv.not-a-column", 1, "feed_token",
     "not a member column: feed tokens are never in files; each member keeps theirs",
     "tā nav dalībnieku kolonna: kalendāra saišu atslēgas failos nekad nav; katrs dalībnieks "
     "patur savējo"),
    ("csv.unknown-column", 1, "emial",
     f"unknown column (did you mean 'email'?); the columns are {COLUMNS}",
     f"nezināma kolonna (vai domājāt 'email'?); kolonnas ir: {COLUMNS}"),
    ("csv.unknown-column", 1, "vecums", f"unknown column; the columns are {COLUMNS}",
     f"nezināma kolonna; kolonnas ir: {COLUMNS}"),
    ("csv.column-missing", 1, "name", "column missing (email and name are required)",
     "trūkst kolonnas (email un name ir obligātas)"),
    ("csv.utf-16", 0, "", 'is UTF-16; save it as "CSV UTF-8"',
     "ir UTF-16 kodējumā; saglabājiet to kā „CSV UTF-8“"),
    ("csv.not-utf-8", 2, "",
     'is not UTF-8; save it as "CSV UTF-8" (plain "CSV" from Excel on Latvian Windows is '
     "Windows-1257)",
     "nav UTF-8 kodējumā; saglabājiet to kā „CSV UTF-8“ (parastais „CSV“ no Excel latviešu "
     "Windows vidē ir Windows-1257 kodējumā)"),
    ("csv.no-header", 0, "",
     "the first line must name the columns, e.g. " + COLUMNS.replace(", ", ";"),
     "pirmajā rindā jābūt kolonnu nosaukumiem, piemēram, " + COLUMNS.replace(", ", ";")),
    ("csv.value-too-long", 2, "", "a value is longer than 131072 characters",
     "kādā vērtībā ir vairāk nekā 131072 rakstzīmju"),
    ("csv.unreadable", 2, "", "cannot be read (';' expected after '\"'); check the quotes",
     "nevar nolasīt (';' expected after '\"'); pārbaudiet pēdiņas"),
]  # fmt: skip
CSV_FILES = {
    "csv.email-twice": "email;name;;status\nanna@cesis.lv;Anna;;\nanna@cesis.lv;Anna;;\n"
    "janis@cesis.lv;Jānis;x;\nilze@cesis.lv;Ilze;;;x\n",
    "csv.column-twice": "email;phone;phone;id;feed_token;emial;vecums\n",
    "csv.utf-16": "email;name\n".encode("utf-16"),
    "csv.not-utf-8": "email;name\njanis@cesis.lv;Jānis\n".encode("cp1257"),
    "csv.no-header": "\nanna@cesis.lv;Anna\n",
    "csv.value-too-long": "email;name\nanna@cesis.lv;" + "x" * 140_000 + "\n",
    "csv.unreadable": 'email;name\nanna@cesis.lv;"Anna" Ozola\n',
}
for _same in ("csv.unnamed-column", "csv.row-width"):
    CSV_FILES[_same] = CSV_FILES["csv.email-twice"]
for _same in ("csv.not-a-column", "csv.unknown-column", "csv.column-missing"):
    CSV_FILES[_same] = CSV_FILES["csv.column-twice"]


# -- helpers -------------------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


def entry_of(number: int, changes: dict[str, Any]) -> dict[str, Any]:
    """A valid series entry (every second Thursday, as the form's), with `changes`."""
    entry: dict[str, Any] = {
        "slug": f"s{number}",
        "title": {"lv": "Otrās ceturtdienas", "en": "Second Thursdays"},
        "rrule": "FREQ=MONTHLY;BYDAY=2TH",
        "start": "2026-12-10T10:00",
        "duration": "PT90M",
    }
    entry.update(changes)
    return {key: value for key, value in entry.items() if value is not None}


def series_file(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(
        "\n".join(
            "[[series]]\n" + "".join(f"{toml_value(k)} = {toml_value(v)}\n" for k, v in e.items())
            for e in entries
        ),
        encoding="utf-8",
    )
    return path


def label(number: int, entry: dict[str, Any]) -> str:
    return f"series #{number} ({entry.get('slug', 'no slug')})"


def cli_lines(tmp_path: Path, *args: str, **environ: str) -> list[str]:
    """What a refused command printed: `vcs: nothing was saved:` and the problems."""
    result = CliRunner().invoke(cli, list(args), env=isolated_environ(tmp_path, **environ))
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    lines = result.stderr.splitlines()
    assert lines[0] == "vcs: nothing was saved:", result.stderr
    return lines[1:]


def installation(tmp_path: Path) -> Context:
    """An initialised installation with few sessions allowed a series, the national series and
    a series named like a planning region (vidzeme)."""
    settings = make_settings(tmp_path, VCS_SESSIONS_MAX_PER_SERIES=MAX_PER_SERIES)
    context = Context.from_settings(settings)
    initialise(context)
    import_entries(context, tmp_path, national(), national(slug="vidzeme"))
    return context


def shows_in_latvian(html: str, latvian: str, english: str) -> str | None:
    """Why the page does not say `latvian` (and only that), or None."""
    if str(escape(latvian)) not in html:
        return f"no Latvian {latvian!r}"
    if english != latvian and str(escape(english)) in html:
        return f"English {english!r} left"
    return None


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Context]:
    context = installation(tmp_path)
    yield context
    context.close()


# -- the series form ------------------------------------------------------------------------------


def test_every_problem_of_the_series_form_reads_in_latvian_beside_the_form(
    site: Context, tmp_path: Path
) -> None:
    client = staff_site(site, tmp_path)
    log_in(client, EDITOR)
    html = client.get("/staff/series/new").text
    wrong = []
    for number, case in enumerate(SERIES_CASES + SAVE_CASES, 1):
        if case.form is None:
            continue
        fields = second_thursdays_form(html, slug=f"forma-{number}", action="save")
        try:
            response = client.post("/staff/series/new", data={**fields, **case.form})
        except Exception as exc:  # a crash is one more case to report
            wrong.append(f"{case.code} ({case.form}): {exc!r}")
            continue
        problem = shows_in_latvian(response.text, case.latvian, case.english)
        if response.status_code != 400 or problem:
            wrong.append(f"{case.code} ({case.form}): {response.status_code}, {problem}")
    assert not wrong, "\n".join(wrong)


# -- series files on the command line --------------------------------------------------------


def test_every_problem_of_a_series_entry_is_its_english_line_on_the_cli(tmp_path: Path) -> None:
    filed = [case for case in SERIES_CASES if case.entry is not None]
    entries = [entry_of(n, case.entry or {}) for n, case in enumerate(filed, 1)]
    path = series_file(tmp_path / "series.toml", entries)
    assert CliRunner().invoke(cli, ["init"], env=isolated_environ(tmp_path)).exit_code == 0
    printed = cli_lines(tmp_path, "series", "import", str(path))
    expected = [
        f"{path}: {label(n, entry)}: {case.key}: {case.english}"
        for n, (case, entry) in enumerate(zip(filed, entries, strict=True), 1)
    ]
    missing = [line for line in expected if line not in printed]
    assert not missing, "\n".join(["not printed:", *missing, "printed:", *printed])


def test_a_problem_found_when_saving_is_its_english_line_on_the_cli(tmp_path: Path) -> None:
    site = installation(tmp_path)
    site.close()
    environ = {"VCS_SESSIONS_MAX_PER_SERIES": MAX_PER_SERIES}
    for number, case in enumerate(SAVE_CASES, 1):
        assert case.entry is not None
        entry = entry_of(number, case.entry)
        path = series_file(tmp_path / f"save-{number}.toml", [entry])
        printed = cli_lines(tmp_path, "series", "import", str(path), **environ)
        assert printed == [f"{path}: {label(1, entry)}: {case.key}: {case.english}"], case.code


def test_a_problem_with_a_whole_series_file_is_its_english_line_on_the_cli(
    tmp_path: Path,
) -> None:
    assert CliRunner().invoke(cli, ["init"], env=isolated_environ(tmp_path)).exit_code == 0
    for code, content, english, _latvian in FILE_CASES:
        path = tmp_path / (f"{code}.toml" if code != "series.file.unreadable" else "x" * 300)
        if content is not None:
            path.write_text(content, encoding="utf-8")
        assert cli_lines(tmp_path, "series", "import", str(path)) == [f"{path}: {english}"], code
    twice = series_file(tmp_path / "twice.toml", [entry_of(1, {}), entry_of(1, {})])
    assert cli_lines(tmp_path, "series", "import", str(twice)) == [
        f"{twice}: slug 's1' is used by more than one series: series #1 and series #2"
    ]


# -- member files ----------------------------------------------------------------------------


def cell_file() -> str:
    """Every cell problem, one a row from line 2 on."""
    rows = [member_row(**{"email": f"m{n}@cesis.lv", **cells}) for n, (_, _, cells, _, _) in
            enumerate(CELL_CASES)]  # fmt: skip
    return "\n".join([MEMBER_HEADER, *rows]) + "\n"


def table_rows(html: str) -> list[tuple[str, str, str]]:
    """The problem table of the import page: line, column, reason (as the page has them)."""
    found = re.findall(
        r"<tr><td>(\d*)</td><td>(?:<code>(.*?)</code>)?</td><td>(.*?)</td></tr>", html, re.DOTALL
    )
    return [(line, column, reason) for line, column, reason in found]


def upload(client: TestClient, data: str | bytes) -> str:
    token = csrf_of(client.get("/staff/members/import").text)
    body = data.encode("utf-8") if isinstance(data, str) else data
    response = client.post(
        "/staff/members/import",
        data={"csrf_token": token},
        files={"file": ("members.csv", body, "text/csv")},
    )
    assert response.status_code == 400, response.text[:2000]
    return response.text


def test_every_problem_of_a_member_file_reads_in_latvian_on_the_upload_page(
    site: Context, tmp_path: Path
) -> None:
    client = staff_site(site, tmp_path)
    log_in(client, ADMIN)
    wrong = []
    rows = table_rows(upload(client, cell_file()))
    for line, (code, column, _cells, english, latvian) in enumerate(CELL_CASES, 2):
        if (str(line), column, str(escape(latvian))) not in rows:
            wrong.append(f"{code}: line {line}, {column}: no Latvian {latvian!r}")
        if english != latvian and any(str(escape(english)) == reason for *_, reason in rows):
            wrong.append(f"{code}: English {english!r} left")
    pages = {code: upload(client, data) for code, data in CSV_FILES.items()}
    translated_columns = {"column 3": "3. kolonna"}
    for code, line, column, english, latvian in ROW_CASES:
        shown = (str(line or ""), translated_columns.get(column, column), str(escape(latvian)))
        if shown not in table_rows(pages[code]):
            wrong.append(f"{code}: {shown} not in {table_rows(pages[code])}")
        if english != latvian and str(escape(english)) in pages[code]:
            wrong.append(f"{code}: English {english!r} left")
    assert not wrong, "\n".join(wrong)


def test_every_problem_of_a_member_file_is_its_english_line_on_the_cli(tmp_path: Path) -> None:
    site = installation(tmp_path)
    site.close()
    path = tmp_path / "members.csv"
    path.write_text(cell_file(), encoding="utf-8")
    printed = cli_lines(tmp_path, "members", "import", str(path))
    assert printed == [
        f"{path}: line {line}: {column}: {english}"
        for line, (_code, column, _cells, english, _lv) in enumerate(CELL_CASES, 2)
    ]
    for code, line, column, english, _latvian in ROW_CASES:
        data = CSV_FILES[code]
        path = tmp_path / f"{code}.csv"
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        place = ": ".join(
            [str(path), *([f"line {line}"] if line else []), *([column] if column else [])]
        )
        assert f"{place}: {english}" in cli_lines(tmp_path, "members", "import", str(path)), code


def table_codes() -> set[str]:
    """Every code the tables above cause."""
    codes = {case.code for case in SERIES_CASES + SAVE_CASES}
    codes |= {case[0] for case in FILE_CASES} | {"series.slug.duplicate"}
    return codes | {case[0] for case in CELL_CASES} | {case[0] for case in ROW_CASES}
