"""The meeting tool's participant report: which tool wrote it, and one line per row, checked.

Each tool writes its own CSV, and each has changed its headers over the years, so the format is
told from the header line, wherever in the file it is (docs/attendance.md lists the columns):

- Zoom (Reports > Usage > Participants): "Name (Original Name)", "User Email", "Join Time",
  "Leave Time", "Duration (Minutes)" (newer: "Email", "Join time", ...), sometimes after a
  meeting summary block. A person who rejoined has a row per stay.
- Microsoft Teams (the meeting's attendance report): a summary block, then "2. Participants" with
  "Name", "First Join", "Last Leave", "In-Meeting Duration" ("1h 2m 3s"), "Email",
  "Participant ID (UPN)", "Role"; the section ends at a blank line. Teams saves UTF-16 with tabs.
- Jitsi and BigBlueButton have no report of their own; staff export their attendance plug-in's
  list (or write one) with "Name", "Email", "Join", "Leave" and "Minutes".

Nothing here touches the database: review.py matches the lines to members and registrants.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vcs import spreadsheet
from vcs.errors import Phrase, Problem, VcsError
from vcs.i18n import N_
from vcs.membership.members import MemberError, normalise_email
from vcs.membership.members_csv import LINE

ZOOM, TEAMS, JITSI = "zoom", "teams", "jitsi"
TOOLS = (ZOOM, TEAMS, JITSI)
TOOL_NAMES = {ZOOM: "Zoom", TEAMS: "Microsoft Teams", JITSI: "Jitsi/BigBlueButton"}
# Header names (lower case) of each column a tool writes, newest spelling first.
COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    ZOOM: {
        "name": ("name (original name)", "name"),
        "email": ("user email", "email"),
        "join": ("join time",),
        "leave": ("leave time",),
        "minutes": ("duration (minutes)", "duration (mins)", "total duration (minutes)"),
    },
    TEAMS: {
        "name": ("name", "full name"),
        "email": ("email", "participant id (upn)"),
        "upn": ("participant id (upn)",),
        "join": ("first join", "join time"),
        "leave": ("last leave", "leave time"),
        "minutes": ("in-meeting duration", "duration"),
    },
    JITSI: {
        "name": ("name", "full name", "participant"),
        "email": ("email", "e-mail", "user email"),
        "join": ("join", "joined", "join time", "first join"),
        "leave": ("leave", "left", "leave time", "last leave"),
        "minutes": ("minutes", "minutes present", "duration (minutes)"),
    },
}
# What tells a header line of each tool from any other line (and from each other).
MARKS = {
    TEAMS: ("in-meeting duration",),
    ZOOM: ("name (original name)",),
    JITSI: ("name",),
}
# A header is looked for in this many first lines (Teams' summary block comes first).
HEADER_SEARCH = 60
# "1h 2m 3s", "45m 10s", "59s", "1 h 5 min"; Teams' In-Meeting Duration.
HMS_WORDS = re.compile(
    r"^(?:(\d+)\s*h(?:ours?)?)?\s*(?:(\d+)\s*m(?:in(?:utes?)?)?)?\s*(?:(\d+)\s*s(?:ec)?)?$"
)
# "1:02:03" or "62:03" (hours optional).
HMS_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})$")
TIME_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%y, %I:%M:%S %p",
    "%m/%d/%y %I:%M:%S %p",
    "%m/%d/%Y, %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y. %H:%M:%S",
    "%d.%m.%Y. %H:%M",
)


class ReportError(VcsError):
    """The report cannot be imported: every problem, each at its line (parameter `line`, 0 for
    the whole file); codes `attendance.report.*` (and `member.email.*` for an address)."""

    heading = N_("nothing was saved")

    def rows(self, lang: str) -> list[dict[str, str]]:
        """Each problem as line and reason in `lang`, for a table."""
        return [
            {"line": str(problem.params.get("line") or ""), "reason": problem.text(lang)}
            for problem in self.problems
        ]


@dataclass(frozen=True)
class ReportLine:
    """One row of the report: a stay of one person in the meeting."""

    line: int
    name: str
    email: str  # lower case; "" when the tool knew no address (a guest)
    joined: dt.datetime | None  # naive, in the tool's local time: only compared with each other
    left: dt.datetime | None
    minutes: float | None


@dataclass(frozen=True)
class Report:
    tool: str
    lines: tuple[ReportLine, ...]


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[Problem] = []

    def add(self, line: int, code: str, message: str, **params: Any) -> None:
        where = (self.source, Phrase(LINE, {"line": line})) if line else (self.source,)
        self.items.append(
            Problem(f"attendance.report.{code}", message, {**params, "line": line}, where)
        )

    def placed(self, line: int, found: Problem) -> None:
        where = (self.source, Phrase(LINE, {"line": line}))
        self.items.append(Problem(found.code, found.message, {**found.params, "line": line}, where))

    def error(self) -> ReportError:
        return ReportError(sorted(self.items, key=lambda p: int(p.params.get("line") or 0)))


def read_report(data: bytes, source: str) -> Report:
    """The report's tool and rows; ReportError with every problem, each at its line."""
    problems = _Problems(source)
    text = _decode(data, problems)
    if text is None:
        raise problems.error()
    lines = text.splitlines()
    found = _header(lines)
    if found is None:
        problems.add(
            0,
            "no-header",
            N_(
                "no line names the columns of a Zoom, Teams or Jitsi/BigBlueButton participant "
                "report (e.g. %(zoom)s; or %(teams)s)"
            ),
            zoom="Name (Original Name), User Email, Join Time, Leave Time, Duration (Minutes)",
            teams="Name, First Join, Last Leave, In-Meeting Duration, Email",
        )
        raise problems.error()
    tool, index, delimiter, columns = found
    rows: list[ReportLine] = []
    width = len(next(csv.reader([lines[index]], delimiter=delimiter)))
    for number, record in _records(lines, index + 1, delimiter, tool):
        row = _row(tool, number, record, width, columns, problems)
        if row is not None:
            rows.append(row)
    if not rows and not problems.items:
        problems.add(0, "empty", N_("the report lists nobody"))
    if problems.items:
        raise problems.error()
    return Report(tool, tuple(rows))


def _decode(data: bytes, problems: _Problems) -> str | None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    else:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            problems.add(
                line, "not-utf-8", N_('is not UTF-8; save the report as "CSV UTF-8" and try again')
            )
            return None
    problems.add(0, "not-utf-16", N_("is not readable as UTF-16; download the report again"))
    return None


def _delimiter(line: str) -> str:
    if "\t" in line:
        return "\t"
    return ";" if line.count(";") > line.count(",") else ","


def _header(lines: list[str]) -> tuple[str, int, str, dict[str, int]] | None:
    """(tool, index of the header line, delimiter, column -> position), or None."""
    for index, line in enumerate(lines[:HEADER_SEARCH]):
        if not line.strip():
            continue
        delimiter = _delimiter(line)
        names = [
            cell.strip().lstrip(spreadsheet.BOM).lower()
            for cell in next(csv.reader([line], delimiter=delimiter))
        ]
        for tool in (TEAMS, ZOOM, JITSI):
            if not all(mark in names for mark in MARKS[tool]):
                continue
            columns = _positions(names, COLUMNS[tool])
            has_time = "minutes" in columns or ("join" in columns and "leave" in columns)
            if "email" in columns and has_time:
                return tool, index, delimiter, columns
    return None


def _positions(names: list[str], aliases: dict[str, tuple[str, ...]]) -> dict[str, int]:
    found = {}
    for column, spellings in aliases.items():
        for spelling in spellings:
            if spelling in names:
                found[column] = names.index(spelling)
                break
    return found


def _records(
    lines: list[str], start: int, delimiter: str, tool: str
) -> Iterable[tuple[int, list[str]]]:
    """(line number, cells) after the header; Teams' participants end at the blank line before
    the next section, the other reports at the end of the file."""
    for index in range(start, len(lines)):
        line = lines[index]
        if not line.strip():
            if tool == TEAMS:
                return
            continue
        yield index + 1, next(csv.reader([line], delimiter=delimiter))


def _row(
    tool: str,
    number: int,
    record: list[str],
    width: int,
    columns: dict[str, int],
    problems: _Problems,
) -> ReportLine | None:
    if len(record) > width and not any(cell.strip() for cell in record[width:]):
        record = record[:width]
    if len(record) != width:
        problems.add(
            number,
            "row-width",
            N_(
                "has %(values)s values but the header has %(columns)s columns (a value with the "
                "separator in it needs quotes)"
            ),
            values=len(record),
            columns=width,
        )
        return None

    def cell(column: str) -> str:
        position = columns.get(column)
        return record[position].strip() if position is not None else ""

    name = " ".join(cell("name").split())[:200]
    address = cell("email") or cell("upn")
    email = ""
    bad = False
    if address:
        try:
            email = normalise_email(address)
        except MemberError as exc:
            problems.placed(number, exc.problems[0])
            bad = True
    joined, left = _time(cell("join")), _time(cell("leave"))
    minutes: float | None = None
    text = cell("minutes")
    if text:
        minutes = duration_minutes(text)
        if minutes is None:
            problems.add(
                number,
                "duration",
                N_("%(value)r is not a length of time like 45 (minutes) or 1h 2m 3s"),
                value=text,
            )
            bad = True
    if joined is not None and left is not None and left < joined:
        problems.add(
            number,
            "left-before-joined",
            N_("leaves (%(left)s) before joining (%(joined)s)"),
            left=cell("leave"),
            joined=cell("join"),
        )
        bad = True
    if minutes is None and not bad and (joined is None or left is None):
        problems.add(
            number,
            "no-duration",
            N_("says neither how long the person was there nor when they joined and left"),
        )
        bad = True
    if not name and not email and not bad:
        problems.add(number, "nobody", N_("has neither a name nor an e-mail address"))
        bad = True
    return None if bad else ReportLine(number, name, email, joined, left, minutes)


def duration_minutes(text: str) -> float | None:
    """Minutes in "45", "45.5", "1h 2m 3s", "1:02:03"; None when it is none of them."""
    value = text.strip().lower().replace(",", ".")
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number >= 0 and number == number and number != float("inf"):
        return number
    for pattern in (HMS_WORDS, HMS_CLOCK):
        match = pattern.match(value)
        if match and any(match.groups()) and value:
            hours, minutes, seconds = (int(group or 0) for group in match.groups())
            return hours * 60 + minutes + seconds / 60
    return None


def _time(text: str) -> dt.datetime | None:
    value = " ".join(text.split())
    if not value:
        return None
    for pattern in TIME_FORMATS:
        try:
            return dt.datetime.strptime(value, pattern)  # noqa: DTZ007 - compared among themselves
        except ValueError:
            continue
    return None


def minutes_present(rows: Iterable[ReportLine]) -> int:
    """One person's minutes in the meeting. A single row says it (Teams' In-Meeting Duration
    already leaves out the time between stays); several stays (Zoom's rejoins) are added up,
    overlaps counted once (two devices at once) when every row says when."""
    stays = list(rows)
    added = sum(_length(row) for row in stays)
    spans = sorted((row.joined, row.left) for row in stays if row.joined and row.left)
    if len(stays) > 1 and len(spans) == len(stays):
        covered, overlapped = 0.0, False
        start, end = spans[0]
        for joined, left in spans[1:]:
            if joined > end:
                covered += (end - start).total_seconds() / 60
                start, end = joined, left
            else:
                end, overlapped = max(end, left), True
        covered += (end - start).total_seconds() / 60
        if overlapped:  # else the tool's own durations stand (Zoom rounds each stay up)
            added = min(added, covered)
    return round(added)


def _length(row: ReportLine) -> float:
    if row.minutes is not None:
        return row.minutes
    if row.joined and row.left:
        return (row.left - row.joined).total_seconds() / 60
    return 0.0
