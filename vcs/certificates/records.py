"""Records for a funded series' project report (issue 17, item 5): per period, the sessions,
who attended each, the hours, as a CSV file for Excel and a PDF of attendance sheets.

    vcs certificates export SERIES --from DATE --to DATE --csv FILE | --pdf FILE
    /staff/series/{slug}/records

Only a series with a funding statement has records: they are what an EU project's report asks
for (dates, topics, speakers, attendees and their academic hours, the project number and the
emblem). Sessions are those not cancelled whose local date lies in the period, both ends
included. An attendee's hours are the session's academic hours when they were there long
enough for a certificate (.issue.eligible), else none; the minutes the meeting tool counted are
given beside them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import selectinload

from vcs import dates, pdf, spreadsheet
from vcs.config import Settings
from vcs.errors import VcsError
from vcs.i18n import N_, gettext_for, localized
from vcs.planning import wording
from vcs.states import SessionStatus
from vcs.storage.models import Attendance, Certificate, Member, Series, Session

from . import hours, issue

CSV_COLUMNS = (
    "session", "date", "start", "end", "title", "name", "organisation", "municipality",
    "attendance", "minutes_present", "academic_hours", "certificate",
)  # fmt: skip


@dataclass(frozen=True)
class Attendee:
    """One line of an attendance sheet."""

    name: str
    organisation: str
    municipality: str
    attendance: str  # room, online
    minutes_present: int | None  # None: marked by staff
    counted_minutes: int  # the session's length when eligible, else 0
    certificate: str  # the code of a certificate that stands, else ""


@dataclass(frozen=True)
class Sheet:
    """One session and who attended it."""

    session: Session
    attendees: list[Attendee]

    @property
    def counted_minutes(self) -> int:
        return sum(attendee.counted_minutes for attendee in self.attendees)


@dataclass(frozen=True)
class Records:
    """A funded series' records for a period."""

    series: Series
    start: dt.date
    end: dt.date
    sheets: list[Sheet]

    @property
    def attendances(self) -> int:
        return sum(len(sheet.attendees) for sheet in self.sheets)

    @property
    def counted_minutes(self) -> int:
        return sum(sheet.counted_minutes for sheet in self.sheets)


def collect(db: Db, settings: Settings, slug: str, start: dt.date, end: dt.date) -> Records:
    """The records of series `slug` from `start` to `end` (local dates, both included)."""
    series = db.scalars(select(Series).where(Series.slug == slug)).first()
    if series is None:
        raise VcsError.one("records.unknown-series", N_("there is no series %(slug)s"), slug=slug)
    if not series.funding_text_lv:
        raise VcsError.one(
            "records.not-funded",
            N_("series %(slug)s has no funding statement, so it has no project records"),
            slug=slug,
        )
    if end < start:
        raise VcsError.one("records.period", N_("the period ends before it starts"), field="to")
    tz = ZoneInfo(series.timezone)
    first = dt.datetime.combine(start, dt.time(), tz).astimezone(dt.UTC)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
    found = db.scalars(
        select(Session)
        .where(
            Session.series_id == series.id,
            Session.status != SessionStatus.CANCELLED,
            Session.start >= first,
            Session.start < after,
        )
        .options(selectinload(Session.series))
        .order_by(Session.start)
    ).all()
    return Records(series, start, end, [_sheet(db, settings, session) for session in found])


def _sheet(db: Db, settings: Settings, session: Session) -> Sheet:
    rows = db.execute(
        select(Attendance, Member, Certificate)
        .outerjoin(Member, Member.id == Attendance.member_id)
        .outerjoin(Certificate, Certificate.attendance_id == Attendance.id)
        .where(Attendance.session_id == session.id)
        .options(selectinload(Member.municipality))
        .order_by(Attendance.name, Attendance.id)
    ).all()
    attendees = []
    for attendance, member, certificate in rows:
        standing = certificate is not None and certificate.revoked_at is None
        attendees.append(
            Attendee(
                name=attendance.name or (member.name if member else ""),
                organisation=member.organisation if member else "",
                municipality=member.municipality.name if member and member.municipality else "",
                attendance=attendance.attendance,
                minutes_present=attendance.minutes,
                counted_minutes=issue.session_minutes(session)
                if issue.eligible(attendance, session, settings)
                else 0,
                certificate=certificate.code if standing else "",
            )
        )
    return Sheet(session, attendees)


def period_words(records: Records, lang: str) -> str:
    """ "2026. gada 1. decembris – 2027. gada 31. janvāris"."""
    tz = ZoneInfo(records.series.timezone)

    def day(value: dt.date) -> str:
        noon = dt.datetime.combine(value, dt.time(12), tz)
        return dates.format_datetime(noon, lang, tz, "date").split(", ", 1)[-1]

    return f"{day(records.start)} – {day(records.end)}"


# -- CSV ------------------------------------------------------------------------------------


def as_csv(records: Records) -> bytes:
    """One line per attendee and session, for Excel in Latvia (vcs/spreadsheet.py; decimal
    commas), like the registrations export."""
    tz = ZoneInfo(records.series.timezone)

    def lines() -> Iterator[list[str]]:
        for sheet in records.sheets:
            session = sheet.session
            start, end = session.start.astimezone(tz), session.end.astimezone(tz)
            for attendee in sheet.attendees:
                yield [
                    str(session.id),
                    start.strftime("%Y-%m-%d"),
                    start.strftime("%H:%M"),
                    end.strftime("%H:%M"),
                    wording.title(session, "lv"),
                    attendee.name,
                    attendee.organisation,
                    attendee.municipality,
                    attendee.attendance,
                    "" if attendee.minutes_present is None else str(attendee.minutes_present),
                    hours.number(attendee.counted_minutes, "lv"),
                    attendee.certificate,
                ]

    return spreadsheet.excel_csv(CSV_COLUMNS, lines())


# -- PDF ------------------------------------------------------------------------------------


def as_pdf(records: Records, lang: str) -> bytes:
    """The attendance sheets: a cover with the project and the totals, then one per session."""
    _ = gettext_for(lang)
    series = records.series
    title = _("Attendance records")
    doc = pdf.document(f"{title}: {localized(series, 'title', lang)}", lang, "portrait")
    doc.add_page()
    doc.set_font(pdf.FONT, "B", 16)
    _line(doc, 8, title)
    doc.set_font(pdf.FONT, "B", 12)
    _line(doc, 6.5, localized(series, "title", lang))
    doc.set_font(pdf.FONT, size=10)
    _line(doc, 5.5, _fact(_("Period"), period_words(records, lang)))
    if series.organiser_name:
        _line(doc, 5.5, _fact(_("Organiser"), series.organiser_name))
    first = records.sheets[0].session if records.sheets else None
    funding = wording.funding_block(first, lang) if first is not None else None
    if funding is not None:
        _funding(doc, funding)
    doc.ln(3)
    doc.set_font(pdf.FONT, "B", 10)
    _line(
        doc,
        5.5,
        " · ".join(
            (
                _fact(_("Sessions"), len(records.sheets)),
                _fact(_("Attendances"), records.attendances),
                _fact(
                    _("Academic hours of all attendees"),
                    hours.number(records.counted_minutes, lang),
                ),
            )
        ),
    )
    for sheet in records.sheets:
        _sheet_pages(doc, sheet, lang)
    return pdf.as_bytes(doc)


def _fact(label: str, value: object) -> str:
    return f"{label}: {value}"


def _line(doc: FPDF, height: float, text: str) -> None:
    """A paragraph across the page; the next one starts at the left margin below it."""
    doc.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")


def _funding(doc: FPDF, funding: wording.Funding) -> None:
    doc.ln(2)
    top = doc.get_y()
    pdf.eu_emblem(doc, doc.l_margin, top, width=24)
    doc.set_xy(doc.l_margin + 28, top)
    doc.set_font(pdf.FONT, "B", 9.5)
    doc.cell(0, 5, funding.funded_by)
    doc.set_xy(doc.l_margin + 28, top + 5.5)
    doc.set_font(pdf.FONT, size=9)
    doc.multi_cell(0, 4.5, funding.line, new_x="LMARGIN", new_y="NEXT")
    doc.set_y(max(doc.get_y(), top + 17))


def _sheet_pages(doc: FPDF, sheet: Sheet, lang: str) -> None:
    _ = gettext_for(lang)
    session = sheet.session
    doc.ln(6)
    if doc.get_y() > doc.h - 70:
        doc.add_page()
    doc.set_font(pdf.FONT, "B", 12)
    _line(doc, 6.5, wording.title(session, lang))
    doc.set_font(pdf.FONT, size=9.5)
    lines = [wording.when(session, lang), wording.place_line(session, lang)]
    if wording.topic(session, lang):
        lines.append(_fact(_("Topic"), wording.topic(session, lang)))
    if wording.speakers(session):
        lines.append(_fact(_("Speakers"), "; ".join(wording.speakers(session))))
    lines.append(
        _fact(_("Duration"), hours.in_words(issue.session_minutes(session), lang))
        + f" ({issue.session_minutes(session)} min)"
    )
    for line in lines:
        _line(doc, 5, line)
    doc.ln(1.5)
    if not sheet.attendees:
        _line(doc, 5, _("No attendance has been recorded."))
        return
    doc.set_font(pdf.FONT, size=8.5)
    how = {"room": _("in the room"), "online": _("online")}
    with doc.table(
        col_widths=(9, 44, 40, 23, 16, 16, 32),
        text_align=("RIGHT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "LEFT"),
        line_height=4.6,
        first_row_as_headings=True,
    ) as table:
        heading = table.row()
        for text in (
            _("No."), _("Name"), _("Organisation"), _("Taking part"), _("Minutes"),
            _("Acad. hours"), _("Certificate"),
        ):  # fmt: skip
            heading.cell(text)
        for number, attendee in enumerate(sheet.attendees, 1):
            row = table.row()
            present = attendee.minutes_present
            for text in (
                str(number),
                attendee.name,
                ", ".join(p for p in (attendee.organisation, attendee.municipality) if p),
                how.get(attendee.attendance, attendee.attendance),
                _("marked") if present is None else str(present),
                hours.number(attendee.counted_minutes, lang),
                attendee.certificate,
            ):
                row.cell(text)
    doc.ln(1)
    doc.set_font(pdf.FONT, "B", 9.5)
    _line(
        doc,
        5,
        _fact(_("Attendees"), len(sheet.attendees))
        + " · "
        + _fact(_("Academic hours of all attendees"), hours.number(sheet.counted_minutes, lang)),
    )
