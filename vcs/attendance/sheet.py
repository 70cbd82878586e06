"""The printable attendance sheet: the evidence an EU-funded project keeps that a meeting took
place and who came, signed in the room.

One A4 sheet (more when many registered): the session as wording.py says it (title, topic, time,
place, organiser), the EU emblem with the funding statement and project number when its series
is funded, then one row per registered registrant (room first, then online) with a column to
sign, and empty rows to the end of the page for those who come unregistered.
"""

from __future__ import annotations

from fpdf import FPDF
from sqlalchemy.orm import Session as Db

from vcs import pdf as documents
from vcs.attendance.records import name_key
from vcs.i18n import gettext_for
from vcs.planning import registrations, wording
from vcs.planning.registrations import REGISTERED, ROOM
from vcs.storage.models import Registration, Session

# Columns: number, name, municipality, how they take part, signature (mm; 180 mm of text width).
WIDTHS = (10.0, 56.0, 38.0, 28.0, 48.0)
ROW_HEIGHT = 9.0
LABEL_WIDTH = 38.0
HEADER_HEIGHT = 8.0
FOOTER_SPACE = 12.0
# Empty rows at least, for people who come without registering; then the page is filled.
EMPTY_ROWS = 5


def filename(session: Session) -> str:
    """apmeklejuma-lapa-<id>.pdf: the download's name, without letters a file system may mangle."""
    return f"apmeklejuma-lapa-{session.id}.pdf"


def rows_of(db: Db, session_id: int) -> list[Registration]:
    """The registered registrants, in the room first, then online, each by name."""
    found = [row for row in registrations.registrants(db, session_id) if row.status == REGISTERED]
    return sorted(found, key=lambda row: (row.attendance != ROOM, name_key(row.name), row.email))


def attendance_sheet(db: Db, session: Session, lang: str) -> bytes:
    """The sheet's PDF in `lang` (Latvian for the project's records)."""
    _ = gettext_for(lang)
    title = wording.title(session, lang)
    pdf = documents.document(f"{_('Attendance sheet')}: {title}", lang)
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    _heading(pdf, session, lang)
    _table_header(pdf, lang)
    bottom = pdf.h - pdf.b_margin - FOOTER_SPACE
    how = {ROOM: _("In the room"), registrations.ONLINE: _("Online")}
    number = 0
    for row in rows_of(db, session.id):
        number += 1
        _next_row(pdf, session, lang, bottom)
        _row(pdf, str(number), row.name, row.municipality, how.get(row.attendance, ""))
    empty = 0
    while empty < EMPTY_ROWS or pdf.get_y() + ROW_HEIGHT <= bottom:
        number += 1
        empty += 1
        _next_row(pdf, session, lang, bottom)
        _row(pdf, str(number), "", "", "")
    _footer(pdf, session, lang)
    return documents.as_bytes(pdf)


def _heading(pdf: FPDF, session: Session, lang: str) -> None:
    _ = gettext_for(lang)
    funding = wording.funding_block(session, lang)
    if funding is not None:
        top = pdf.get_y()
        documents.eu_emblem(pdf, pdf.l_margin, top, width=27)
        pdf.set_xy(pdf.l_margin + 31, top + 6)
        pdf.set_font(documents.FONT, "B", 11)
        pdf.cell(text=funding.funded_by)
        pdf.set_xy(pdf.l_margin, top + 22)
    pdf.set_font(documents.FONT, "B", 16)
    pdf.cell(text=_("Attendance sheet"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(documents.FONT, "B", 13)
    pdf.multi_cell(0, 6, wording.title(session, lang), align="L", new_x="LMARGIN", new_y="NEXT")
    topic = wording.topic(session, lang)
    if topic:
        pdf.set_font(documents.FONT, "", 11)
        pdf.multi_cell(0, 5.5, topic, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    facts = [
        (_("Date and time"), wording.when(session, lang)),
        (_("Place"), wording.place_line(session, lang)),
        (_("Organiser"), wording.organiser(session)),
    ]
    if funding is not None:
        facts.append((_("Funding"), funding.statement))
        facts.append((_("Project No."), funding.project))
    for label, value in facts:
        if not value:
            continue
        pdf.set_font(documents.FONT, "B", 10)
        pdf.cell(LABEL_WIDTH, 5.5, f"{label}:")
        pdf.set_font(documents.FONT, "", 10)
        pdf.multi_cell(0, 5.5, value, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def _table_header(pdf: FPDF, lang: str) -> None:
    _ = gettext_for(lang)
    labels = (_("No."), _("Name, surname"), _("Municipality"), _("Taking part"), _("Signature"))
    pdf.set_font(documents.FONT, "B", 9)
    pdf.set_fill_color(230, 230, 230)
    for width, label in zip(WIDTHS, labels, strict=True):
        pdf.cell(width, HEADER_HEIGHT, label, border=1, fill=True)
    pdf.ln(HEADER_HEIGHT)
    pdf.set_font(documents.FONT, "", 9)


def _next_row(pdf: FPDF, session: Session, lang: str, bottom: float) -> None:
    """A new page (with the table's header again) when the row would not fit."""
    if pdf.get_y() + ROW_HEIGHT > bottom:
        _footer(pdf, session, lang)
        pdf.add_page()
        _table_header(pdf, lang)


def _row(pdf: FPDF, number: str, name: str, municipality: str, how: str) -> None:
    for width, text in zip(WIDTHS, (number, name, municipality, how, ""), strict=True):
        pdf.cell(width, ROW_HEIGHT, _fit(pdf, text, width - 2), border=1)
    pdf.ln(ROW_HEIGHT)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """`text` shortened with "…" to fit one cell (a long municipality never breaks the table)."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _footer(pdf: FPDF, session: Session, lang: str) -> None:
    _ = gettext_for(lang)
    pdf.set_xy(pdf.l_margin, pdf.h - pdf.b_margin - 6)
    pdf.set_font(documents.FONT, "", 8)
    when = wording.when(session, lang)
    text = f"{wording.title(session, lang)} · {when}"
    page = _("Page %(page)s of %(pages)s", page=pdf.page_no(), pages="{nb}")
    pdf.cell(150, 6, _fit(pdf, text, 148))
    pdf.cell(30, 6, page, align="R")
