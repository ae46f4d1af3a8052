"""Read a PDF paper with pypdf: text in reading order, fonts for headings and the title.

pypdf returns a page's text in content-stream order, which for papers typeset by LaTeX is
column by column: the two columns of a conference paper come out in order. Its text visitor
also reports each run's font and position, so we know which lines are bold (headings), which
run is the largest on the first page (the title), and can re-read by position the rare page
that a producer wrote row by row across both columns. Running headers, footers and page numbers that repeat on
many pages are dropped before the lines are structured.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import NamedTuple

from papercoder.errors import InputError
from papercoder.paper.headings import finish_sections
from papercoder.paper.lines import structure_lines
from papercoder.paper.pdflayout import PdfLine, arrange, body_size
from papercoder.paper.pdffigures import pdf_figures
from papercoder.paper.model import Paper, Section

_BOLD_FONT = re.compile(r"bold|medi|semi|heavy|black|demi|cmbx|cmssbx|\.b$|-b$|,b$", re.IGNORECASE)
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)
_ARXIV_STAMP = re.compile(r"^arXiv:\d{4}\.\d{4,5}(?:v\d+)?\s+\[[^\]]+\]")
# Where and how the paper was published, printed on its first page (a footer of the left column,
# often inside the abstract as read): not part of the text.
_VENUE = re.compile(
    r"^(?:\d{1,2}(?:st|nd|rd|th)\s+(?:Annual\s+)?Conference on\b.{0,160}"
    r"|Preprint\.?(?:\s+(?:Under review|Work in progress)\.?)?"
    r"|Under review as a conference paper at\b.{0,60}"
    r"|Published as a conference paper at\b.{0,60}"
    r"|Proceedings of the\b.{0,160}\b(?:Conference|Workshop|Symposium)\b.{0,160}"
    r"|Copyright \d{4} by the author\(s\)\.?"
    r"|Accepted (?:at|to|in|for)\b.{0,80}\b(?:19|20)\d\d\.?)$",
    re.IGNORECASE,
)
# Sums, products and integrals of TeX's extension font (text and display sizes) come out as the
# letters at their codes; its delimiters and other glyphs are left alone (they often decode right).
_CMEX = str.maketrans({"P": "∑", "Q": "∏", "R": "∫", "X": "∑", "Y": "∏", "Z": "∫"})
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
# TeX fonts set an accent as its own spacing glyph before the letter ("Poincar´e"); composed
# here with the combining form. "⁄=" is how some fonts extract "≠".
_SPACING_ACCENTS = {"´": "\u0301", "`": "\u0300", "¨": "\u0308", "ˆ": "\u0302", "˜": "\u0303", "˝": "\u030b",
                    "ˇ": "\u030c", "¯": "\u0304", "˘": "\u0306", "˚": "\u030a", "¸": "\u0327"}
_ACCENTED = re.compile("([" + "".join(k for k in _SPACING_ACCENTS if k != "`") + "])([A-Za-zıȷ])")


def compose_glyphs(text: str) -> str:
    """Spacing accents joined to the letter after them ("Poincar´e" -> "Poincaré"), "⁄=" -> "≠"."""
    text = text.replace("⁄=", "≠")
    if not _ACCENTED.search(text):
        return text
    text = _ACCENTED.sub(lambda m: ("i" if m.group(2) == "ı" else "j" if m.group(2) == "ȷ" else m.group(2)) + _SPACING_ACCENTS[m.group(1)], text)
    return unicodedata.normalize("NFC", text)


class _Chunk(NamedTuple):
    """A run of text as pypdf's visitor reports it: where it starts, its font."""

    text: str
    bold: bool
    size: float
    x: float | None
    y: float | None


_CELL_GAP = 1.2  # a horizontal gap wider than this many font sizes separates table cells


class _PageText:
    """Assembles chunks into lines: per line whether it is bold, its largest font size, where it
    starts and its cells (the runs that wide gaps separate)."""

    def __init__(self) -> None:
        self.lines: list[PdfLine] = []
        self._start()

    def _start(self) -> None:
        self._text: list[str] = []
        self._bold_chars = 0
        self._chars = 0
        self._size = 0.0
        self._at: tuple[float, float] | None = None
        self._cells: list[list[str]] = [[]]
        self._end: float | None = None  # estimated right end of the last visible run
        self._base: tuple[float, float] | None = None  # (y, size) of the line's main text
        self._scripts: list[tuple[float, float]] = []  # open sub/superscripts, innermost last

    def _script_marks(self, chunk: _Chunk) -> str:
        """"^{" / "_{" opening a smaller run set above or below the text before it, "}" for each
        script this run leaves; TeX math flattens to "10000 2i/dmodel" without them."""
        y, size = chunk.y, chunk.size
        if self._base is None or size >= 0.95 * self._base[1]:
            closing = "}" * len(self._scripts)
            self._scripts = []
            if self._base is None or size >= self._base[1]:
                self._base = (y, size)  # type: ignore[assignment]
            return closing
        closing = ""
        while self._scripts and size >= 0.95 * (self._scripts[-2][1] if len(self._scripts) > 1 else self._base[1]):
            self._scripts.pop()
            closing += "}"
        ref_y, ref_size = self._scripts[-1] if self._scripts else self._base
        if size < 0.85 * ref_size and abs(y - ref_y) > 0.1 * ref_size:  # type: ignore[operator]
            self._scripts.append((y, size))  # type: ignore[arg-type]
            return closing + ("^{" if y > ref_y else "_{")  # type: ignore[operator]
        return closing

    def add(self, chunk: _Chunk) -> None:
        pieces = chunk.text.split("\n")
        for k, piece in enumerate(pieces):
            if k:
                self._end_line()
            visible = sum(not c.isspace() for c in piece)
            # the chunk's position is that of its first text, even after leading line breaks
            placed = chunk.x is not None and chunk.y is not None and not any(p.strip() for p in pieces[:k])
            if visible and placed:
                marks = self._script_marks(chunk)
                if marks:
                    lead = len(piece) - len(piece.lstrip())
                    piece = piece[:lead].rstrip() + marks + piece[lead:] if marks[-1] == "{" else marks + piece
                if self._at is None:
                    self._at = (chunk.x, chunk.y)  # type: ignore[assignment]
                elif self._end is not None and chunk.x - self._end > _CELL_GAP * chunk.size:  # type: ignore[operator]
                    self._cells.append([])
                self._end = chunk.x + len(piece) * chunk.size * _GLYPH_WIDTH  # type: ignore[operator]
            elif visible:
                self._end = None  # no position: the next run cannot be measured against this one
            self._text.append(piece)
            self._cells[-1].append(piece)
            self._chars += visible
            if chunk.bold:
                self._bold_chars += visible
            if visible:
                self._size = max(self._size, chunk.size)

    def _end_line(self) -> None:
        if self._scripts:
            self._text.append("}" * len(self._scripts))
            self._cells[-1].append("}" * len(self._scripts))
        text = "".join(self._text).strip()
        if text:
            cells = tuple(c for c in ("".join(cell).strip() for cell in self._cells) if c)
            x, y = self._at if self._at else (None, None)
            self.lines.append(PdfLine(text, self._bold_chars >= 0.8 * self._chars > 0, self._size, x, y, cells))
        self._start()

    def finish(self) -> list[PdfLine]:
        self._end_line()
        return self.lines


def _chunk(text: str, font: object, size: float, matrix: object, ctm: object) -> _Chunk:
    name = str(font.get("/BaseFont", "")) if isinstance(font, dict) else ""
    bold = bool(_BOLD_FONT.search(name.split("+")[-1]))
    if "CMEX" in name.upper():  # TeX's big operators, extracted as the letters at their codes
        text = text.translate(_CMEX)
    try:
        m = [float(v) for v in matrix]  # type: ignore[union-attr]
        c = [float(v) for v in ctm]  # type: ignore[union-attr]
        x, y = c[0] * m[4] + c[2] * m[5] + c[4], c[1] * m[4] + c[3] * m[5] + c[5]
        return _Chunk(text, bold, size * (abs(m[3] * c[3]) or 1.0), x, y)
    except (TypeError, ValueError, IndexError):
        return _Chunk(text, bold, size, None, None)


def _interleaved(chunks: list[_Chunk], middle: float) -> bool:
    """Does the content stream jump between the two columns of the page on most rows?

    LaTeX writes a page column by column, and pypdf then reads it in order; a few producers
    write row by row across the columns, which pypdf would read as "left half, right half".
    """
    visible = [c for c in chunks if c.text.strip()]
    if len(visible) < 8 or any(c.x is None or c.y is None for c in visible):
        return False
    sides = [c.x >= middle for c in visible]  # type: ignore[operator]
    jumps = sum(1 for a, b in zip(sides, sides[1:]) if a != b)
    return jumps >= max(6, 0.25 * len(sides)) and _two_columns(visible, middle)


_GLYPH_WIDTH = 0.5  # an average glyph is about half an em wide in the fonts papers use
_PROSE_CHARS = 20  # a line of a column of prose holds more characters than a table cell


def _two_columns(visible: list[_Chunk], middle: float) -> bool:
    """Is this really two columns of prose? A jump between the halves on most rows also comes from
    a one-column line written in two runs (an inline formula or font change) and from table rows.

    Two columns means: hardly any row's left-half text runs on past the gutter, and both halves
    hold rows of prose (many characters a row), not the short cells of a table.
    """
    left: dict[int, list[float]] = {}  # row -> [characters, estimated right end]
    right: dict[int, float] = {}  # row -> characters
    for c in visible:
        row = round(c.y)  # type: ignore[arg-type]
        chars = len(c.text.strip())
        if c.x < middle:  # type: ignore[operator]
            entry = left.setdefault(row, [0.0, 0.0])
            entry[0] += chars
            entry[1] = max(entry[1], c.x + len(c.text) * c.size * _GLYPH_WIDTH)  # type: ignore[operator]
        else:
            right[row] = right.get(row, 0.0) + chars
    if len(left) < 5 or len(right) < 5:
        return False
    crossing = sum(1 for _, end in left.values() if end > middle * 1.3)
    if crossing > 0.1 * len(left):
        return False
    return _median([n for n, _ in left.values()]) >= _PROSE_CHARS and _median(list(right.values())) >= _PROSE_CHARS


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def _by_columns(chunks: list[_Chunk], middle: float) -> list[_Chunk]:
    """The chunks of a row-by-row page re-read column by column, with line breaks between rows.

    Text above the right column (a title block) comes first and text below it (a footer, a
    page number) last, whatever its side.
    """
    visible = [c for c in chunks if c.text.strip()]
    right = [c.y for c in visible if c.x >= middle]  # type: ignore[operator]
    top, bottom = (max(right), min(right)) if right else (float("inf"), float("-inf"))

    def key(c: _Chunk) -> tuple:
        region = 0 if c.y > top + 1 else 2 if c.y < bottom - 1 else 1  # type: ignore[operator]
        return (region, region == 1 and c.x >= middle, -round(c.y), c.x)  # type: ignore[arg-type,operator]

    visible.sort(key=key)
    out: list[_Chunk] = []
    for previous, chunk in zip([None, *visible], visible):
        text = chunk.text.replace("\n", " ")
        if previous is not None:
            same_row = key(previous)[:3] == key(chunk)[:3]
            text = (" " if same_row else "\n") + text
        out.append(chunk._replace(text=text))
    return out


def _open(path: Path):
    """A PdfReader, or an InputError saying why the file cannot be read."""
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns loudly about harmless quirks
    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            try:
                unlocked = reader.decrypt("")
            except Exception:  # a missing crypto backend or an odd handler: still "encrypted"
                unlocked = 0
            if not unlocked:
                raise InputError(
                    f"{path} is an encrypted PDF that needs a password; save an unencrypted copy and try again."
                )
        pages = list(reader.pages)
    except InputError:
        raise
    except Exception as exc:  # whatever a damaged file makes pypdf raise, the file is the problem
        raise InputError(f"{path} is not a readable PDF (truncated or corrupt: {exc}); re-download or re-export it.")
    if not pages:
        raise InputError(f"{path} is a PDF with no pages; re-export the paper.")
    return reader, pages


def _page_lines(page) -> list[PdfLine]:
    """(text, bold, font size) for each line of a page, in reading order."""
    chunks: list[_Chunk] = []

    def visit(text, cm, tm, font, size):  # pypdf's visitor signature
        chunks.append(_chunk(text, font, size, tm, cm))

    try:
        page.extract_text(visitor_text=visit)
        middle = float(page.mediabox.width) / 2
        if _interleaved(chunks, middle):
            chunks = _by_columns(chunks, middle)
    except Exception:  # one broken page (bad font, odd operator) should not lose the paper
        pass
    collected = _PageText()
    for chunk in chunks:
        collected.add(chunk)
    return collected.finish()


def _repeated_margins(pages: list[list[PdfLine]]) -> set[str]:
    """Texts (digits masked) that sit in the first or last two lines of many pages."""
    counts: Counter[str] = Counter()
    for lines in pages:
        seen = {_mask(line.text) for line in lines[:2] + lines[-2:]}
        counts.update(seen)
    threshold = max(2, len(pages) // 3)  # a third: odd and even pages often carry different headers
    return {text for text, n in counts.items() if n >= threshold} if len(pages) >= 3 else set()


def _mask(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", " ", text.strip().lower()))


def _clean_pages(pages: list[list[PdfLine]]) -> list[list[PdfLine]]:
    repeated = _repeated_margins(pages)
    cleaned = []
    for number, lines in enumerate(pages):
        keep = []
        for index, line in enumerate(lines):
            text = line.text
            in_margin = index < 2 or index >= len(lines) - 2
            if in_margin and (_mask(text) in repeated or _PAGE_NUMBER.match(text)):
                continue
            if _ARXIV_STAMP.match(text) or (number == 0 and len(text) <= 240 and _VENUE.match(text.strip())):
                continue
            keep.append(line._replace(text=_glyphs(text), cells=tuple(_glyphs(c) for c in line.cells)))
        cleaned.append(keep)
    return cleaned


def _glyphs(text: str) -> str:
    return compose_glyphs(text.translate(_LIGATURES))


def _title(reader, first_page: list[PdfLine], fallback: str,
           raw_first_page: list[PdfLine] | None = None) -> str:
    """The first-page run of lines in the largest font; else the metadata title; else the file name.

    The run is looked for on the cleaned page (no arXiv stamp there), then on the page as read
    (``raw_first_page``): a running header that repeats the title (ICML style) makes the
    cleaning drop the title line itself.
    """
    raw = [line for line in raw_first_page or [] if not line.text.lstrip().lower().startswith("arxiv:")]
    for page in (first_page, raw):
        picked = _largest_run(page)
        if picked and not _SECTION_NAME.match(picked.strip()):  # "Abstract" set large is not the title
            return picked
    try:
        meta = reader.metadata
        title = (meta.title or "").strip() if meta else ""
    except Exception:
        title = ""
    if title and not re.search(r"\.(docx?|tex|pdf)$|^untitled|^microsoft word", title, re.IGNORECASE):
        return title
    return first_page[0].text if first_page else fallback


# A heading a first page may set larger than its body: never a paper's title
_SECTION_NAME = re.compile(r"(?i)^(?:\d+(?:\.\d+)*\.?\s+)?(?:abstract|introduction|keywords|contents|preface|summary)\s*[.:]?$")


def _largest_run(first_page: list[PdfLine]) -> str:
    """The consecutive top lines in a font clearly larger than the page's body, joined; or ``""``."""
    top = first_page[:12]
    if top:
        largest = max(line.size for line in top)
        body_sizes = sorted(line.size for line in first_page)
        typical = body_sizes[len(body_sizes) // 2]
        if largest > typical * 1.15:
            picked: list[str] = []
            for line in top:
                if abs(line.size - largest) < 0.5:
                    picked.append(line.text)
                elif picked:
                    break
            if picked:
                return " ".join(picked)
    return ""


def _height(page) -> float:
    try:
        return float(page.mediabox.height)
    except Exception:  # no usable media box: a US letter page
        return 792.0


def read_pdf(path: Path, *, keep_references: bool = False) -> Paper:
    """Read a PDF paper into a :class:`Paper`."""
    reader, pages = _open(path)
    raw = [_page_lines(page) for page in pages]
    visible = sum(len(line.text) for lines in raw for line in lines)
    if visible < 20 * len(pages) and visible < 200:
        raise InputError(
            f"{path} has no extractable text: it looks like a scanned PDF and needs OCR first "
            "(for example `ocrmypdf in.pdf out.pdf`)."
        )
    cleaned = _clean_pages(raw)
    title = _title(reader, cleaned[0] if cleaned else [], path.stem, raw[0] if raw else None)
    body = body_size(cleaned)
    lines = [line for page, lines_of in zip(pages, cleaned) for line in arrange(lines_of, body, _height(page))]
    found = structure_lines(lines)
    sections = found.sections
    if not sections and not found.abstract:
        sections = [Section("Text", "\n\n".join(found.front))]
    elif not found.abstract:
        front = [p for p in found.front if title not in p]
        if sum(len(p) for p in front) > 400:
            sections = [Section("Front matter", "\n\n".join(front))] + sections
    paper = Paper(
        title=title,
        abstract=found.abstract,
        sections=finish_sections(sections, keep_references=keep_references),
        captions=found.captions,
        source=str(path),
        source_format="pdf",
    )
    paper.figures = pdf_figures(path, found.captions, paper.warnings)
    return paper
