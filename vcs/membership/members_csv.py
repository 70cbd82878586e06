"""Member CSV files (docs/members.md): every row checked before anything is saved; the export
writes the same format, so exporting and importing again changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import selectinload

from vcs.context import Context
from vcs.errors import Phrase, Problem, VcsError, translated
from vcs.i18n import N_
from vcs.membership.members import (
    EVERYTHING,
    FIELDS,
    FORMULA_START,
    LANGUAGE,
    LANGUAGES,
    MAX_LENGTHS,
    MISSING,
    NOTHING,
    OPTED_OUT,
    STATUSES,
    TEXT_KINDS,
    TOO_LONG,
    Follows,
    Lookups,
    MemberError,
    MemberSpec,
    check_spec,
    create_members,
    differences,
    find_by_emails,
    normalise_email,
    spec_of,
    status_error,
    update_member,
)
from vcs.states import MemberStatus
from vcs.storage.models import Member
from vcs.text import clean

COLUMNS = FIELDS
REQUIRED_COLUMNS = ("email", "name")
# What the export writes: Excel with Latvian regional settings splits on ";" and, with the
# byte order mark, reads UTF-8 (without it, it guesses Windows-1257 and breaks "ā", "š").
EXPORT_SEPARATOR = ";"
BOM = "\ufeff"
# Rows saved per flush: the progress bar moves per chunk.
CHUNK = 500
# Excel shows a long number such as a phone written without "+" as 3,71261E+10.
EXCEL_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?e\+?\d+$", re.IGNORECASE)
PHONE = re.compile(r"^\+?[0-9 ()./-]+$")
# Latvian spreadsheet dates: 23.11.2026 or 23.11.2026 14:05 (seconds optional).
LATVIAN_DATETIME = re.compile(
    r"^(\d{1,2})\.(\d{1,2})\.(\d{4})\.?(?:\s+(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?)?$"
)
NOT_COLUMNS = {
    "feed_token": N_("feed tokens are never in files; each member keeps theirs"),
    "id": N_("members are matched by email, not by id"),
}
# What a file-wide problem's message is called when it has a line and a column.
LINE = N_("line %(line)s")
COLUMN = N_("column %(number)s")


class MemberFileError(VcsError):
    """The file cannot be imported: problems with codes `member.*` (a value) and `csv.*` (the
    file), each placed in the file, the line and the column; their parameters `line` (0 for
    the whole file) and `column` say where, for a table."""

    heading = N_("nothing was saved")

    def rows(self, lang: str) -> list[dict[str, str]]:
        """Each problem as line, column and reason in `lang`, for a table."""
        return [
            {
                "line": str(problem.params.get("line") or ""),
                "column": translated(problem.params.get("column") or "", lang),
                "reason": problem.text(lang),
            }
            for problem in self.problems
        ]


@dataclass(frozen=True)
class RowOutcome:
    """What importing one row does (or, in a dry run, would do)."""

    line: int
    email: str
    outcome: str  # created, updated, unchanged
    changed: tuple[str, ...] = ()
    note: str = ""


@dataclass
class ImportReport:
    source: str
    dry_run: bool
    rows: list[RowOutcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)

    def summary(self) -> str:
        """The counts: "N created, M updated, K unchanged"."""
        return (
            f"{self.count('created')} created, {self.count('updated')} updated, "
            f"{self.count('unchanged')} unchanged"
        )


@dataclass
class _Row:
    line: int
    values: dict[str, Any]
    bad: bool = False


@dataclass
class _Plan:
    line: int
    spec: MemberSpec
    member: Member | None
    changed: tuple[str, ...]
    note: str

    @property
    def outcome(self) -> str:
        if self.member is None:
            return "created"
        return "updated" if self.changed else "unchanged"


class _Problems:
    """Problems in file order: by line, then by column."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[tuple[int, int, str, Problem]] = []

    def add(
        self, line: int, column: str | Phrase | None, found: Problem, order: int | None = None
    ) -> None:
        """`found` (a MemberError's problem, or a csv.* one) placed at a line and a column."""
        if order is None:
            order = COLUMNS.index(column) if column in COLUMNS else len(COLUMNS)
        where = (self.source, Phrase(LINE, {"line": line}), *([column] if column else []))
        params = {**found.params, "line": line, "column": column or ""}
        placed = Problem(found.code, found.message, params, where, found.field)
        self.items.append((line, order, placed.line(), placed))

    def file(
        self, line: int, column: str | Phrase | None, code: str, message: str, **params: Any
    ) -> None:
        """A problem with the file at a line (and a column), code `csv.<code>`."""
        self.add(line, column, Problem(f"csv.{code}", message, params))

    def whole_file(self, code: str, message: str, **params: Any) -> None:
        """A problem with the whole file, code `csv.<code>`."""
        problem = Problem(f"csv.{code}", message, {**params, "line": 0, "column": ""})
        self.items.append((0, 0, "", problem.at(self.source)))

    def __bool__(self) -> bool:
        return bool(self.items)

    def error(self) -> MemberFileError:
        return MemberFileError(problem for *_, problem in sorted(self.items, key=_order))


def _order(item: tuple[int, int, str, Problem]) -> tuple[int, int, str]:
    return item[0], item[1], item[2]


# -- reading -----------------------------------------------------------------------------------


def import_members(
    context: Context,
    data: bytes,
    source: str,
    actor: str,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Check every row of a member file, then create and update members in one transaction.

    Raises MemberFileError listing every problem; then nothing is saved. Members not in the
    file are left alone. `progress(done, total)` is called as rows are checked and saved.
    """
    problems = _Problems(source)
    settings = context.settings
    rows = read_rows(data, problems, settings.tz, context.clock.now())
    if problems and not rows:
        raise problems.error()
    report = ImportReport(source, dry_run)
    total = len(rows) * (1 if dry_run else 2)
    try:
        with context.database.session() as db:
            lookups = Lookups.load(db)
            existing = find_by_emails(db, [r.values["email"] for r in rows if "email" in r.values])
            seen: dict[str, int] = {}
            plans = []
            for done, row in enumerate(rows, 1):
                plan = _plan(row, lookups, existing, seen, problems)
                if plan is not None:
                    plans.append(plan)
                if progress and (done % CHUNK == 0 or done == len(rows)):
                    progress(done % CHUNK or CHUNK, total)
            if problems:
                raise problems.error()
            report.rows = [
                RowOutcome(p.line, p.spec.email, p.outcome, p.changed, p.note) for p in plans
            ]
            if dry_run:
                return report
            for start in range(0, len(plans), CHUNK):
                chunk = plans[start : start + CHUNK]
                new = [plan.spec for plan in chunk if plan.member is None]
                if new:
                    create_members(db, new, actor, lookups)
                for plan in chunk:
                    if plan.member is not None and plan.changed:
                        update_member(db, plan.member, plan.spec, actor, lookups)
                db.flush()
                if progress:
                    progress(len(chunk), total)
    except IntegrityError:
        changed = Problem(
            "csv.changed", N_("members changed while the file was imported; run it again")
        )
        raise MemberFileError([changed.at(source)]) from None
    return report


def read_rows(data: bytes, problems: _Problems, tz: ZoneInfo, now: dt.datetime) -> list[_Row]:
    """The rows of a member file with each cell checked on its own (no database needed)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.whole_file("utf-16", N_('is UTF-16; save it as "CSV UTF-8"'))
        return []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.file(
            line,
            None,
            "not-utf-8",
            N_(
                'is not UTF-8; save it as "CSV UTF-8" (plain "CSV" from Excel on Latvian Windows '
                "is Windows-1257)"
            ),
        )
        return []
    first = text.split("\n", 1)[0]
    if not first.strip():
        problems.whole_file(
            "no-header",
            N_("the first line must name the columns, e.g. %(columns)s"),
            columns=EXPORT_SEPARATOR.join(COLUMNS),
        )
        return []
    separator = ";" if first.count(";") >= first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    header = [name.strip().lstrip(BOM).lower() for name in next(reader)]
    columns = _check_header(header, problems)
    if problems:
        return []
    rows = []
    previous_end = reader.line_num
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                # The csv module's own limit, far above any column's (vcs/text.py); the row
                # starts on the line after the one before it ended.
                problems.file(
                    previous_end + 1,
                    None,
                    "value-too-long",
                    N_("a value is longer than %(limit)s characters"),
                    limit=csv.field_size_limit(),
                )
            else:
                problems.file(
                    reader.line_num,
                    None,
                    "unreadable",
                    N_("cannot be read (%(reason)s); check the quotes"),
                    reason=str(exc),
                )
            break
        line, previous_end = previous_end + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        row = _read_row(line, record, header, columns, problems, tz, now)
        if row is not None:
            rows.append(row)
    return rows


def _check_header(header: list[str], problems: _Problems) -> dict[int, str]:
    """The named columns by position; every unknown, repeated or missing one is a problem."""
    columns: dict[int, str] = {}
    for index, name in enumerate(header):
        if not name:
            continue
        if name in columns.values():
            problems.file(1, name, "column-twice", N_("appears twice"))
        elif name in COLUMNS:
            columns[index] = name
        elif name in NOT_COLUMNS:
            problems.file(
                1,
                name,
                "not-a-column",
                N_("not a member column: %(why)s"),
                why=Phrase(NOT_COLUMNS[name]),
            )
        else:
            hint = difflib.get_close_matches(name, COLUMNS, n=1, cutoff=0.6)
            known = ", ".join(COLUMNS)
            if hint:
                problems.file(
                    1,
                    name,
                    "unknown-column",
                    N_("unknown column (did you mean %(hint)r?); the columns are %(columns)s"),
                    hint=hint[0],
                    columns=known,
                )
            else:
                problems.file(
                    1,
                    name,
                    "unknown-column",
                    N_("unknown column; the columns are %(columns)s"),
                    columns=known,
                )
    for name in REQUIRED_COLUMNS:
        if name not in header:
            missing = Problem(
                "csv.column-missing", N_("column missing (email and name are required)")
            )
            problems.add(1, name, missing, len(COLUMNS) + 1)
    return columns


def _read_row(
    line: int,
    record: list[str],
    header: list[str],
    columns: dict[int, str],
    problems: _Problems,
    tz: ZoneInfo,
    now: dt.datetime,
) -> _Row | None:
    width = len(header)
    if len(record) > width and not any(cell.strip() for cell in record[width:]):
        record = record[:width]  # separators a spreadsheet left after the last column
    if len(record) != width:
        problems.file(
            line,
            None,
            "row-width",
            N_(
                "has %(values)s values but the header has %(columns)s columns (a value with the "
                "separator in it needs quotes)"
            ),
            values=len(record),
            columns=width,
        )
        return None
    row = _Row(line, {})
    for index, cell in enumerate(record):
        text = _unguard(cell.strip())
        column = columns.get(index)
        if column is None:
            if text:
                problems.file(
                    line,
                    Phrase(COLUMN, {"number": index + 1}),
                    "unnamed-column",
                    N_("a value under a column with no name"),
                )
                row.bad = True
            continue
        try:
            row.values[column] = _cell(column, text, tz, now)
        except MemberError as exc:
            problems.add(line, column, exc.problems[0])
            row.bad = True
    return row


def _cell(column: str, text: str, tz: ZoneInfo, now: dt.datetime) -> Any:
    """One cell's value; MemberError says what is wrong with it."""
    if column == "email":
        return normalise_email(text)
    if column in TEXT_KINDS:
        # A name typed with Alt+Enter is one name on two lines; see vcs/text.py.
        text = clean(text, TEXT_KINDS[column])
    limit = MAX_LENGTHS.get(column)
    if limit and len(text) > limit:
        raise MemberError(column, "too-long", TOO_LONG, limit=limit)
    if column == "name" and not text:
        raise MemberError(column, "missing", MISSING)
    if column == "phone":
        return _phone(text)
    if column == "municipality":
        return text or None  # resolved against the network later
    if column == "language":
        language = text.lower() or "lv"
        if language not in LANGUAGES:
            raise MemberError(column, "language", LANGUAGE, value=text)
        return language
    if column == "status":
        status = text.lower() or MemberStatus.PENDING
        if status not in STATUSES:
            raise status_error(text)
        return status
    if column == "consent_at":
        return _consent_at(text, tz, now)
    return text


def _phone(text: str) -> str:
    if not text:
        return ""
    if EXCEL_NUMBER.match(text):
        raise MemberError(
            "phone",
            "phone.shortened",
            N_("%(value)r is a number a spreadsheet shortened: format the column as text"),
            value=text,
        )
    digits = sum(char.isdigit() for char in text)
    if not PHONE.match(text) or digits < 5:
        raise MemberError(
            "phone",
            "phone.invalid",
            N_("%(value)r is not a phone number like +371 26123456"),
            value=text,
        )
    return text


def _consent_at(text: str, tz: ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    if not text:
        return None
    value: dt.datetime | None = None
    match = LATVIAN_DATETIME.match(text)
    try:
        if match:
            day, month, year, hour, minute, second = (int(g or 0) for g in match.groups())
            value = dt.datetime(year, month, day, hour, minute, second)  # noqa: DTZ001
        else:
            value = dt.datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None:
        raise MemberError(
            "consent_at",
            "consent-at.invalid",
            N_(
                "%(value)r is not a date and time like 2026-11-23T14:05:00+02:00 or "
                "23.11.2026 14:05"
            ),
            value=text,
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    if value > now + dt.timedelta(minutes=5):
        raise MemberError(
            "consent_at", "consent-at.future", N_("%(value)r is in the future"), value=text
        )
    return value.replace(microsecond=0)


def _unguard(text: str) -> str:
    """Undo the apostrophe the export puts before a value a spreadsheet would take for a formula."""
    if text.startswith("'") and len(text) > 1 and text[1] in FORMULA_START:
        return text[1:]
    return text


# -- checking against the directory ------------------------------------------------------------


def _plan(
    row: _Row,
    lookups: Lookups,
    existing: dict[str, Member],
    seen: dict[str, int],
    problems: _Problems,
) -> _Plan | None:
    values = dict(row.values)
    bad = row.bad
    email = values.get("email")
    if email is not None:
        if email in seen:
            problems.file(
                row.line,
                "email",
                "email-twice",
                N_("%(address)r is already on line %(first)s"),
                address=email,
                first=seen[email],
            )
            bad = True
        else:
            seen[email] = row.line
    try:
        if values.get("municipality") is not None:
            values["municipality"] = lookups.municipality(values["municipality"]).slug
    except MemberError as exc:
        problems.add(row.line, exc.problems[0].field, exc.problems[0])
        bad = True
    try:
        if "follows" in values:
            values["follows"] = parse_follows(values["follows"], lookups)
    except MemberError as exc:
        problems.add(row.line, exc.problems[0].field, exc.problems[0])
        bad = True
    if bad or email is None:
        return None
    member = existing.get(email)
    # A column the file does not have leaves that field of an existing member as it is.
    base = spec_of(member) if member else MemberSpec(email=email, name=values["name"])
    spec = replace(base, **values)
    note = ""
    if member is not None and member.status in OPTED_OUT and spec.status not in OPTED_OUT:
        note = (
            f"status: kept {member.status} (the file says {spec.status}); a member who left "
            "subscribes again at /subscribe"
        )
        spec = replace(spec, status=member.status)
    try:
        check_spec(spec, lookups)
    except MemberError as exc:
        problems.add(row.line, exc.problems[0].field, exc.problems[0])
        return None
    changed = differences(member, spec) if member else FIELDS
    return _Plan(row.line, spec, member, changed, note)


def parse_follows(text: str, lookups: Lookups) -> Follows:
    """`all`, `none` or `|`-separated series and region slugs, optionally `series:`/`region:`."""
    words = [word.strip().lower() for word in text.split("|") if word.strip()]
    if not words or words == ["all"]:
        return EVERYTHING
    if words == ["none"]:
        return NOTHING
    if "all" in words or "none" in words:
        raise MemberError("follows", "follows.alone", N_("all and none stand alone, without slugs"))
    series: set[str] = set()
    regions: set[str] = set()
    for word in words:
        kind, _, slug = word.rpartition(":")
        if kind == "series" and slug in lookups.series:
            series.add(slug)
        elif kind == "region" and slug in lookups.regions:
            regions.add(slug)
        elif not kind and slug in lookups.series and slug in lookups.regions:
            raise MemberError(
                "follows",
                "follows.ambiguous",
                N_(
                    "%(slug)r is both a series and a region: write series:%(slug)s or "
                    "region:%(slug)s"
                ),
                slug=slug,
            )
        elif not kind and slug in lookups.series:
            series.add(slug)
        elif not kind and slug in lookups.regions:
            regions.add(slug)
        else:
            raise _unknown_follow(word, kind, lookups)
    return Follows(False, frozenset(series), frozenset(regions))


# Each kind of slug, without and with a hint, so each reads naturally in Latvian.
UNKNOWN_FOLLOW = {
    ("series", False): N_("unknown series %(slug)r"),
    ("series", True): N_("unknown series %(slug)r (did you mean %(hint)r?)"),
    ("region", False): N_("unknown planning region %(slug)r"),
    ("region", True): N_("unknown planning region %(slug)r (did you mean %(hint)r?)"),
    ("", False): N_("unknown series or region %(slug)r"),
    ("", True): N_("unknown series or region %(slug)r (did you mean %(hint)r?)"),
}


def _unknown_follow(word: str, kind: str, lookups: Lookups) -> MemberError:
    if kind not in ("", "series", "region"):
        return MemberError(
            "follows",
            "follows.kind",
            N_("%(word)r: write series:SLUG or region:SLUG"),
            word=word,
        )
    slug = word.rpartition(":")[2]
    choices = {
        "series": [f"series:{s}" for s in lookups.series],
        "region": [f"region:{r}" for r in lookups.regions],
    }
    pool = choices.get(kind) or choices["series"] + choices["region"]
    close = difflib.get_close_matches(word if kind else f"x:{slug}", pool, n=1, cutoff=0.6)
    if not kind:
        close = close or difflib.get_close_matches(
            slug, [*lookups.series, *lookups.regions], n=1, cutoff=0.6
        )
    message = UNKNOWN_FOLLOW[kind, bool(close)]
    if close:
        return MemberError("follows", "follows.unknown", message, slug=slug, hint=close[0])
    return MemberError("follows", "follows.unknown", message, slug=slug)


# -- writing -------------------------------------------------------------------------------------


def export_members(db: Db, tz: ZoneInfo) -> bytes:
    """Every member in the import format: UTF-8 with a byte order mark, `;`, CRLF lines."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=EXPORT_SEPARATOR, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    query = (
        select(Member)
        .options(
            selectinload(Member.municipality),
            selectinload(Member.followed_series),
            selectinload(Member.followed_regions),
        )
        .order_by(Member.email)
    )
    for member in db.scalars(query):
        writer.writerow(member_row(spec_of(member), tz))
    return (BOM + buffer.getvalue()).encode("utf-8")


def member_row(spec: MemberSpec, tz: ZoneInfo) -> list[str]:
    """One member as the cells of a file row, in COLUMNS order."""
    cells = {
        "email": spec.email,
        "name": spec.name,
        "phone": spec.phone,
        "municipality": spec.municipality or "",
        "organisation": spec.organisation,
        "position": spec.position,
        "language": spec.language,
        "follows": str(spec.follows),
        "status": spec.status,
        "consent_at": (
            spec.consent_at.astimezone(tz).isoformat(timespec="seconds") if spec.consent_at else ""
        ),
        "consent_source": spec.consent_source,
        "consent_text": spec.consent_text,
    }
    return [_guard(column, cells[column]) for column in COLUMNS]


def _guard(column: str, text: str) -> str:
    # A name like "=HYPERLINK(…)" would run as a formula when staff open the file (CSV
    # injection); the apostrophe makes it text, and the import takes it off again. A phone
    # (+371 …) holds only digits and punctuation, so it is left as written.
    if column != "phone" and text.startswith(FORMULA_START):
        return "'" + text
    return text
