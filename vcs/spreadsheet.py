"""CSV files for Excel in Latvia: the one writer of the exports staff open in a spreadsheet.

Excel with Latvian regional settings splits on ";" and reads UTF-8 only after a byte order mark;
lines end in CRLF. A cell that starts with = + - @ is a formula to Excel, so a name typed by a
visitor ("=HYPERLINK(...)") is written with a leading apostrophe and stays text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

BOM = "\ufeff"


def safe_cell(value: str) -> str:
    """`value` as text Excel will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def excel_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """The header and rows as a CSV file for Excel in Latvia (BOM, `;`, CRLF, safe cells)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for cells in rows:
        writer.writerow([safe_cell(cell) for cell in cells])
    return (BOM + buffer.getvalue()).encode("utf-8")
