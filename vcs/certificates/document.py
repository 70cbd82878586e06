"""A certificate of participation as a PDF: one A4 page, landscape, in the holder's language.

What it says comes from where every page and e-mail gets it: the session's words from
vcs.planning.wording (title, topic, speakers, organiser, the funding statement with the project
number and the EU emblem), dates from vcs.dates, hours from .hours. The QR code (segno) holds the
verification address, which is printed in full under it for readers of paper, with the code.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import segno
from fpdf import FPDF

from vcs import dates, pdf
from vcs.config import Settings
from vcs.i18n import gettext_for, localized
from vcs.network import network_name
from vcs.planning import sessions, wording
from vcs.storage.models import Certificate, Session

from . import codes, hours

ACCENT = (138, 28, 43)  # the site's carmine (static/vcs.css --accent)
INK = (27, 31, 36)
MUTED = (74, 83, 96)
WIDTH, HEIGHT = 297, 210  # A4 landscape, mm
LEFT, RIGHT = 24, 273
QR_SIZE = 36
FACTS_RIGHT = 218  # the facts stay left of the QR code
LABEL_WIDTH = 42


def filename(certificate: Certificate) -> str:
    """The attachment's and download's file name."""
    return f"certificate-{certificate.code}.pdf"


def qr_png(url: str) -> io.BytesIO:
    """The QR code of `url` as a PNG (medium error correction, the standard quiet zone)."""
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buffer, kind="png", scale=10, border=4)
    buffer.seek(0)
    return buffer


def render(settings: Settings, certificate: Certificate, session: Session) -> bytes:
    """The certificate's PDF, in the language it was issued in."""
    lang = certificate.language
    _ = gettext_for(lang)
    doc = pdf.document(_("Certificate of participation"), lang, "landscape")
    doc.set_auto_page_break(auto=False)
    doc.add_page()
    _frame(doc)
    url = codes.certificate_url(settings, certificate.code)

    doc.set_text_color(*MUTED)
    doc.set_font(pdf.FONT, size=11)
    doc.set_xy(LEFT, 18)
    doc.cell(RIGHT - LEFT, 6, network_name(settings, lang), align="C")
    doc.set_text_color(*ACCENT)
    doc.set_font(pdf.FONT, "B", 26)
    doc.set_xy(LEFT, 27)
    doc.cell(RIGHT - LEFT, 12, _("Certificate of participation"), align="C")

    doc.set_text_color(*INK)
    doc.set_font(pdf.FONT, size=12)
    doc.set_xy(LEFT, 44)
    doc.cell(RIGHT - LEFT, 7, _("This certifies that"), align="C")
    doc.set_font(pdf.FONT, "B", 24)
    doc.set_xy(LEFT, 52)
    doc.cell(RIGHT - LEFT, 12, certificate.name, align="C")
    doc.set_font(pdf.FONT, size=12)
    doc.set_xy(LEFT, 66)
    doc.cell(RIGHT - LEFT, 7, _("took part in the event"), align="C")

    series_title = localized(session.series, "title", lang)
    title = wording.title(session, lang)
    doc.set_font(pdf.FONT, "B", 15)
    doc.set_xy(LEFT, 74)
    doc.multi_cell(RIGHT - LEFT, 7, series_title, align="C")
    if title != series_title:
        doc.set_font(pdf.FONT, "B", 13)
        doc.set_x(LEFT)
        doc.multi_cell(RIGHT - LEFT, 6.5, title, align="C")
    topic = wording.topic(session, lang)
    if topic:
        doc.set_font(pdf.FONT, size=11)
        doc.set_x(LEFT + 20)
        doc.multi_cell(RIGHT - LEFT - 40, 5.5, topic, align="C")

    tz = sessions.timezone(session)
    facts = [
        (_("Date"), dates.format_datetime(session.start, lang, tz, "date")),
        (_("Duration"), hours.in_words(certificate.minutes, lang)),
    ]
    speakers = wording.speakers(session)
    if speakers:
        facts.append((_("Speakers"), "\n".join(speakers)))
    if wording.organiser(session):
        facts.append((_("Organiser"), wording.organiser(session)))
    _facts(doc, facts, max(doc.get_y() + 5, 100))

    funding = wording.funding_block(session, lang)
    if funding is not None:
        _funding(doc, funding)
    _verification(doc, _, certificate.code, url)
    return pdf.as_bytes(doc)


def _frame(doc: FPDF) -> None:
    doc.set_draw_color(*ACCENT)
    doc.set_line_width(1.2)
    doc.rect(8, 8, WIDTH - 16, HEIGHT - 16)
    doc.set_line_width(0.3)
    doc.rect(11, 11, WIDTH - 22, HEIGHT - 22)


def _facts(doc: FPDF, facts: list[tuple[str, str]], top: float) -> None:
    doc.set_y(top)
    for label, value in facts:
        y = doc.get_y()
        doc.set_xy(LEFT, y)
        doc.set_text_color(*MUTED)
        doc.set_font(pdf.FONT, size=10)
        doc.cell(LABEL_WIDTH, 5.5, label)
        doc.set_text_color(*INK)
        doc.set_font(pdf.FONT, size=10.5)
        doc.set_xy(LEFT + LABEL_WIDTH, y)
        doc.multi_cell(FACTS_RIGHT - LEFT - LABEL_WIDTH, 5.5, value)
        doc.set_y(doc.get_y() + 1.2)


def _funding(doc: FPDF, funding: wording.Funding) -> None:
    top = 162
    pdf.eu_emblem(doc, LEFT, top, width=27)
    doc.set_xy(LEFT + 31, top)
    doc.set_text_color(*INK)
    doc.set_font(pdf.FONT, "B", 10)
    doc.cell(0, 5, funding.funded_by)
    doc.set_font(pdf.FONT, size=8.5)
    doc.set_xy(LEFT + 31, top + 6)
    doc.multi_cell(FACTS_RIGHT - LEFT - 31 - 8, 4.2, funding.line)


def _verification(doc: FPDF, gettext: Callable[..., str], code: str, url: str) -> None:
    x, y = RIGHT - QR_SIZE, 128
    doc.image(qr_png(url), x=x, y=y, w=QR_SIZE, h=QR_SIZE)
    doc.set_text_color(*INK)
    doc.set_font(pdf.FONT, "B", 9)
    doc.set_xy(RIGHT - 90, y + QR_SIZE + 1)
    doc.cell(90, 4.5, f"{gettext('Certificate code')}: {code}", align="R")
    doc.set_font(pdf.FONT, size=7.5)
    doc.set_text_color(*MUTED)
    doc.set_xy(RIGHT - 90, y + QR_SIZE + 6)
    doc.cell(90, 4, gettext("Check that it is genuine:"), align="R")
    doc.set_xy(RIGHT - 110, y + QR_SIZE + 10)
    doc.cell(110, 4, url, align="R")
