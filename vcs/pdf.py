"""PDF documents vcs prints (attendance sheets, certificates): one page setup, one font, one emblem.

fpdf2 writes the PDF. The core PDF fonts have no ā, č, ģ, ķ, ļ, ņ, š or ž, so every document
embeds DejaVu Sans (static/fonts, free licence in static/fonts/LICENSE), subset to the glyphs
used. Text is drawn as text, so `pypdf` reads it back in tests and screen readers read it.
"""

from __future__ import annotations

import logging

from fpdf import FPDF

from vcs.paths import STATIC_DIR

FONT = "DejaVu"
FONTS_DIR = STATIC_DIR / "fonts"
EU_EMBLEM = STATIC_DIR / "eu-emblem.svg"
# The emblem's <title> (for screen readers on the web) is no drawing; fpdf2 says so each time.
logging.getLogger("fpdf.svg").setLevel(logging.ERROR)
# fontTools says every table it subsets (hundreds of lines a certificate) at INFO.
logging.getLogger("fontTools").setLevel(logging.WARNING)


def document(title: str, language: str, orientation: str = "portrait") -> FPDF:
    """An A4 document with the embedded font, `title` in its metadata, margins of 15 mm."""
    pdf = FPDF(orientation="P" if orientation == "portrait" else "L", unit="mm", format="A4")
    pdf.add_font(FONT, "", str(FONTS_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONTS_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(title)
    pdf.set_lang(language)
    pdf.set_creator("vcs")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_font(FONT, size=10)
    return pdf


def eu_emblem(pdf: FPDF, x: float, y: float, width: float = 24) -> None:
    """The EU emblem (flag), `width` mm wide, at (x, y); funded documents carry it."""
    pdf.image(str(EU_EMBLEM), x=x, y=y, w=width)


def as_bytes(pdf: FPDF) -> bytes:
    return bytes(pdf.output())
