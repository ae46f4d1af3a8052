"""Build small paper-like PDFs for tests with fpdf2: one or two columns, bold headings,
running headers and page numbers, exactly where we put them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF

STYLES = {"title": ("B", 16), "h": ("B", 11), "body": ("", 10), "small": ("", 9), "drawing": ("", 60)}
# "drawing" is not text: a small vector plot (a frame, axes and a curve) 28 mm tall, as a figure above its caption


@dataclass
class PageSpec:
    """Columns of (style, text) lines; one column spans the page, two split it."""

    columns: list[list[tuple[str, str]]] = field(default_factory=list)


def body(*lines: str) -> list[tuple[str, str]]:
    return [("body", line) for line in lines]


def build_pdf(
    path: Path,
    pages: list[PageSpec],
    *,
    header: str | list[str] | None = "Preprint. Under review.",  # a list: one per page, cycling
    page_numbers: bool = True,
    owner_password: str | None = None,
    user_password: str | None = None,
    stamp: str | None = None,  # arXiv's vertical identifier line on the first page, in a big font
    interleave: bool = False,
) -> Path:
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    if owner_password is not None:
        pdf.set_encryption(owner_password=owner_password, user_password=user_password)
    for number, page in enumerate(pages, start=1):
        pdf.add_page()
        if header:
            pdf.set_font("Helvetica", "", 8)
            pdf.text(20, 10, header if isinstance(header, str) else header[(number - 1) % len(header)])
        if stamp and number == 1:
            with pdf.rotation(90, 8, 220):
                pdf.set_font("Times", "", 20)
                pdf.text(8, 220, stamp)
        width = 180 / max(1, len(page.columns))
        placed = []  # (row, column, x, y, style, text)
        for index, column in enumerate(page.columns):
            y = 22.0
            for row, (style, text) in enumerate(column):
                placed.append((row, index, 15 + index * (width + 5), y, style, text))
                y += STYLES[style][1] * 0.5
        if interleave:  # row by row across the columns, as some producers write pages
            placed.sort(key=lambda item: (item[0], item[1]))
        for _, _, x, y, style, text in placed:
            if style == "drawing":
                pdf.rect(x, y - 4, width - 10, 26)
                pdf.line(x + 3, y + 19, x + width - 14, y + 19)
                pdf.line(x + 3, y + 19, x + (width - 10) / 2, y + 2)
                continue
            weight, size = STYLES[style]
            pdf.set_font("Times", weight, size)
            pdf.text(x, y, text)
        if page_numbers:
            pdf.set_font("Helvetica", "", 8)
            pdf.text(103, 287, str(number))
    pdf.output(str(path))
    return path


def blank_pdf(path: Path, pages: int = 2) -> Path:
    """Pages with a drawing and no text, like a scan without OCR."""
    pdf = FPDF(format="A4", unit="mm")
    for _ in range(pages):
        pdf.add_page()
        pdf.rect(20, 20, 170, 250, style="F")
    pdf.output(str(path))
    return path


def pieces_pdf(path: Path, pages: list[list[list[tuple[float | None, str]]]], *, size: int = 10) -> Path:
    """Pages of rows, each row pieces of text placed at x (mm) on one line: a line with an inline
    font change (x None: right after the piece before), or the cells of a table row, as a content
    stream writes them (row by row)."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    for rows in pages:
        pdf.add_page()
        y = 22.0
        for row in rows:
            end = 15.0
            for x, text in row:
                pdf.set_font("Times", "", size)
                at = end if x is None else x
                pdf.text(at, y, text)
                end = at + pdf.get_string_width(text)
            y += size * 0.5
    pdf.output(str(path))
    return path


def placed_pdf(path: Path, pages: list[list[tuple[float, float, float, str, str]]]) -> Path:
    """Pages of text runs placed exactly: (x mm, y mm from the top, font size pt, style "" or "B",
    text), written in the order given, which is the order a reader meets them in the stream."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    for runs in pages:
        pdf.add_page()
        for x, y, size, style, text in runs:
            pdf.set_font("Times", style, size)
            pdf.text(x, y, text)
    pdf.output(str(path))
    return path
