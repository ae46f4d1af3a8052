"""Take floats and footnotes out of a PDF page's flow, by position and font size.

pypdf reads a page in content-stream order, and LaTeX writes a float (a table, a figure) and the
footnotes where they sit on the page, not where the sentence is: a table at the top of a page
lands in the middle of the sentence that runs over from the page before, footnotes in the middle
of the sentence that runs on into the next column. With each line's position, font size and the
gaps between its runs we can tell them apart from the prose:

- a **caption** ("Table 2: ...") runs on while the next line follows closely below it; a wide gap
  ends it, whatever the words say;
- a **table** is the run of lines next to its caption (above it, or below a caption that sits on
  top) that are not prose: set in another size than the body, or split into cells by wide gaps.
  Its rows join the caption, cells separated by " | ", since hyperparameters live in tables;
- **figure text** (axis labels, boxes of a diagram) is the run of such lines above a figure's
  caption, short body-size lines included once a clearly non-prose one is among them: dropped;
- a **footnote** is a run of small lines at the bottom of a column that opens with a marker
  ("1", "∗", "†"): it goes to the end of its section.

What cannot be told apart this way stays in the flow: a table set in the body's font with
single spaces between its cells reads as text, as before.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from typing import NamedTuple

from papercoder.paper.headings import COMMON_HEADINGS
from papercoder.paper.lines import CAPTION, MID_SENTENCE, Line, caption_goes_on, join_lines


class PdfLine(NamedTuple):
    """A line of a page as read, with where it starts and the runs a wide gap separates."""

    text: str
    bold: bool
    size: float  # the largest font size of its visible text
    x: float | None = None  # of its first visible run; None when the producer gave no position
    y: float | None = None
    cells: tuple[str, ...] = ()  # the text split at wide horizontal gaps (one cell: plain prose)


_SIZE_TOLERANCE = 0.06  # a line within 6% of the body's size is in the body's font
_SMALL = 0.9  # footnotes are set at least 10% smaller than the body
_GAP = 1.9  # a vertical gap above this many body sizes ends a caption (floats are set apart)
_SAME_COLUMN = 8  # lines starting within this many body sizes of each other share a column
_FOOTNOTE_ZONE = 0.3  # footnotes sit in the lowest 30% of the page
_FOOTNOTE = re.compile(r"^(?:\d{1,2}|[∗*†‡§¶])(?!\d)")
_HEADING_START = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2}){0,3}|[A-Z](?:\.\d{1,2}){0,3})\.?\s+[A-Z]")
_LABEL = re.compile(r"^(Table|Figure|Fig\.|Algorithm)\s*(\d+|[A-Z]\.?\d+)", re.IGNORECASE)


def body_size(pages: list[list[PdfLine]]) -> float:
    """The font size most of the document's characters are set in."""
    counts: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            counts[round(line.size * 2) / 2] += len(line.text)
    return counts.most_common(1)[0][0] if counts else 0.0


def arrange(lines: list[PdfLine], body: float, page_height: float) -> list[Line]:
    """A page's lines for :func:`structure_lines`: the flow as text, captions (tables joined) and
    footnotes as their own kinds, figure text left out."""
    if body <= 0 or not lines:
        return [Line(line.text, line.bold) for line in lines]
    page = _Page(lines, body, page_height)
    page.take_captions()
    page.take_footnotes()
    return page.result()


class _Page:
    def __init__(self, lines: list[PdfLine], body: float, height: float) -> None:
        self.lines = lines
        self.body = body
        self.height = height
        self.taken: dict[int, Line | None] = {}  # index -> what replaces the line (None: dropped)
        self.median = statistics.median(len(line.text) for line in lines)

    # what a line is
    def _in_body_font(self, line: PdfLine) -> bool:
        return abs(line.size - self.body) <= _SIZE_TOLERANCE * self.body

    def _not_prose(self, line: PdfLine) -> bool:
        """Set in another size than the body, or split into cells: a float's content."""
        return not self._in_body_font(line) or len(line.cells) > 1

    def _headingish(self, line: PdfLine) -> bool:
        text = line.text.strip()
        return line.bold and (bool(_HEADING_START.match(text)) or text.rstrip(":").lower() in COMMON_HEADINGS)

    def _is_caption(self, index: int) -> bool:
        text = self.lines[index].text.strip()
        if not CAPTION.match(text):
            return False
        before = self.lines[index - 1].text.strip() if index else ""
        return not MID_SENTENCE.search(before)  # "... as shown in" / "Table 2: ..." is one sentence

    def _below(self, upper: PdfLine, lower: PdfLine) -> bool | None:
        """Does ``lower`` follow ``upper`` closely, on the next line down in the same column?
        None: the producer gave no positions."""
        if upper.y is None or lower.y is None or upper.x is None or lower.x is None:
            return None
        return 0 < upper.y - lower.y <= _GAP * self.body and abs(upper.x - lower.x) <= _SAME_COLUMN * self.body

    # captions and their floats
    def take_captions(self) -> None:
        index = 0
        while index < len(self.lines):
            if index in self.taken or not self._is_caption(index):
                index += 1
                continue
            end = self._caption_end(index)
            label = _LABEL.match(self.lines[index].text.strip())
            kind = label.group(1).lower() if label else ""
            before = self._content_before(index, figure=kind in ("figure", "fig."))
            rows: list[int] = []
            if kind == "table":
                rows = before or self._content_after(end)
            elif before:
                for k in before:  # text inside a figure: not prose, not a heading
                    self.taken[k] = None
            caption = join_lines([self.lines[k].text for k in range(index, end + 1)])
            if rows:
                caption += "\n" + "\n".join(_row(self.lines[k]) for k in rows)
                for k in rows:
                    self.taken[k] = None
            for k in range(index, end + 1):
                self.taken[k] = None
            self.taken[index] = Line(caption, kind="caption")
            index = end + 1

    def _caption_end(self, start: int) -> int:
        """The caption's last line: lines follow while they sit closely below the one before."""
        end = start
        while end + 1 < len(self.lines) and end + 1 - start < 12 and end + 1 not in self.taken:
            upper, lower = self.lines[end], self.lines[end + 1]
            if self._is_caption(end + 1) or len(lower.cells) > 1 or self._headingish(lower):
                break
            close = self._below(upper, lower)
            if close is None:  # no positions: the words decide, as for formats without a layout
                texts = [self.lines[k].text.strip() for k in range(start, end + 1)]
                close = caption_goes_on(texts, lower.text.strip(), self.median)
            if not close:
                break
            end += 1
        return end

    def _content_before(self, caption: int, *, figure: bool) -> list[int]:
        """The float content right before a caption (in stream order): non-prose lines above it;
        for a figure also short lines, once a clearly non-prose one is among them."""
        top = self.lines[caption]
        run: list[int] = []
        k = caption - 1
        while k >= 0 and k not in self.taken and len(run) < 80:
            line = self.lines[k]
            if self._headingish(line) or (line.y is not None and top.y is not None and line.y <= top.y):
                break
            if not (self._not_prose(line) or (figure and self._short(line))):
                break
            run.append(k)
            k -= 1
        run.reverse()
        while run and not self._not_prose(self.lines[run[0]]):
            run.pop(0)  # a short line of prose before the figure's own text stays prose
        return run

    def _content_after(self, end: int) -> list[int]:
        """The rows of a table under its caption: non-prose lines below it."""
        bottom = self.lines[end]
        run: list[int] = []
        k = end + 1
        while k < len(self.lines) and k not in self.taken and self._not_prose(self.lines[k]):
            line = self.lines[k]
            if self._headingish(line) or (line.y is not None and bottom.y is not None and line.y >= bottom.y):
                break
            run.append(k)
            k += 1
        return run

    def _short(self, line: PdfLine) -> bool:
        text = line.text.strip()
        return len(text) < 40 and not text.endswith((".", "!", "?", ":", ";"))

    # footnotes
    def take_footnotes(self) -> None:
        zone = _FOOTNOTE_ZONE * self.height
        index = 0
        while index < len(self.lines):
            if not self._footnote_start(index, zone):
                index += 1
                continue
            end = index
            while (end + 1 < len(self.lines) and end + 1 not in self.taken
                   and self._footnote_goes_on(self.lines[index], self.lines[end], self.lines[end + 1])):
                end += 1
            text = join_lines([self.lines[k].text for k in range(index, end + 1)])
            if re.search(r"[A-Za-z]{3}", text):
                for k in range(index, end + 1):
                    self.taken[k] = None
                self.taken[index] = Line("Footnote: " + _FOOTNOTE.sub("", text, count=1).strip(), kind="footnote")
            index = end + 1

    def _footnote_start(self, index: int, zone: float) -> bool:
        line = self.lines[index]
        if index in self.taken or line.y is None or line.y > zone or line.size > _SMALL * self.body:
            return False
        if not _FOOTNOTE.match(line.text.strip()):
            return False
        previous = self.lines[index - 1] if index else None
        return previous is None or previous.y is None or previous.y > line.y

    def _footnote_goes_on(self, first: PdfLine, upper: PdfLine, lower: PdfLine) -> bool:
        """Is ``lower`` the next line of the footnote that ``first`` opens? Not when it opens a
        footnote of its own: a marker where the first one's marker stands."""
        if lower.size > _SMALL * self.body or not self._below(upper, lower):
            return False
        new_marker = bool(_FOOTNOTE.match(lower.text.strip())) and abs((lower.x or 0) - (first.x or 0)) <= 1.0
        return not new_marker

    def result(self) -> list[Line]:
        out: list[Line] = []
        for index, line in enumerate(self.lines):
            if index in self.taken:
                replaced = self.taken[index]
                if replaced is not None:
                    out.append(replaced)
            else:
                out.append(Line(line.text, line.bold))
        return out


def _row(line: PdfLine) -> str:
    return " | ".join(cell.strip() for cell in line.cells) if len(line.cells) > 1 else line.text.strip()
