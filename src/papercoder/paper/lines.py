"""Recover a paper's structure from its lines of text (PDF and plain-text papers).

A PDF gives lines, not sections. Headings are recognised as numbered lines whose numbers follow
on from the previous heading ("2.1" after "2", "3" after "2.4"), the usual unnumbered names
("Abstract", "References"), and lettered appendix headings ("A Proofs") once the references or
an "Appendix" heading have been seen. When the PDF tells us which lines are bold, a heading must
also be bold: body lines that happen to start with a number are then never mistaken for one.
Lines are joined into paragraphs, words broken by end-of-line hyphens are mended, and figure and
table captions are collected apart from the text.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from papercoder.paper.headings import COMMON_HEADINGS, UNNUMBERED_HEADINGS, is_abstract, is_references, starts_appendix
from papercoder.paper.model import Section


@dataclass
class Line:
    """One line of text; ``bold`` is None when the format says nothing about fonts.

    ``kind`` is "text" for the flow of the paper. A reader that knows the page's layout (the PDF
    reader) also hands over whole "caption"s (a table's rows included) and "footnote"s, taken out
    of the sentences they sat in: captions are collected, footnotes go to the end of their section.
    """

    text: str
    bold: bool | None = None
    kind: str = "text"


@dataclass
class Structure:
    """What :func:`structure_lines` found."""

    front: list[str] = field(default_factory=list)  # paragraphs before the first heading
    abstract: str = ""
    sections: list[Section] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)


_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+(\S.*)$")
_LETTERED = re.compile(r"^([A-Z](?:\.\d{1,2}){0,3})\.?\s+(\S.*)$")
_APPENDIX = re.compile(r"^(?:appendix|appendices)(?:\s+[A-Z](?:\.\d+)*)?\b\s*[.:]?\s*(.*)$", re.IGNORECASE)
_ROMAN = re.compile(r"^([IVXL]{1,6})\.\s+(\S.*)$")
_LETTER_SUBSECTION = re.compile(r"^([A-Z])\.\s+(\S.*)$")
_INLINE_ABSTRACT = re.compile(r"^(Abstract|ABSTRACT)\s*[—–:.-]\s*(\S.*)$")
# "Algorithm 1." opens many body sentences ("Algorithm 1. In step 6 we ..."): only a colon makes it a caption
CAPTION = re.compile(r"^(?:(?:Figure|Fig\.|Table)\s*(?:\d+|[A-Z]\.?\d+)\s*[:.|]|Algorithm\s*(?:\d+|[A-Z]\.?\d+)\s*:)")
# a line ending so is continued by the next one ("... as shown in" / "Figure 3. The curves ...")
MID_SENTENCE = re.compile(r"(?:[,;]|\b(?:of|in|see|and|or|the|to|with|by|from|on|for|as|at|our|its|their))$")
# Alone on a line, these are headings whatever their font (small caps are often not bold).
_ALWAYS_HEADINGS = frozenset({"abstract", "references", "bibliography", "appendix", "appendices"})
_SENTENCE_END = (".", "!", "?", ":")
# Prefixes whose end-of-line hyphen is a real one ("self-|consistency", "co-|occurring").
_KEEP_HYPHEN = frozenset(
    "self non real cross multi state well semi fine zero pre post co high low long short large small "
    "two three task world human open closed end top".split()
)


def _plausible_heading_text(text: str) -> bool:
    """A heading's words: short, starting with a capital, not ending like a sentence."""
    text = text.strip()
    if not (1 <= len(text) <= 100) or len(text.split()) > 14:
        return False
    if not text[0].isupper() or text.endswith((".", ",", ";", "-", "=")):
        return False
    if re.search(r"(?:\.\s*){3,}\d*$|…\s*\d*$", text):  # a table of contents' dot leader
        return False
    visible = [c for c in text if not c.isspace()]
    letters = sum(c.isalpha() for c in visible)
    return letters >= 0.6 * len(visible) and "=" not in text


def _roman_value(numeral: str) -> int | None:
    """The value of a Roman numeral up to L, or None when it is not one ("IIV")."""
    values = {"I": 1, "V": 5, "X": 10, "L": 50}
    total = 0
    for index, char in enumerate(numeral):
        value = values[char]
        following = values[numeral[index + 1]] if index + 1 < len(numeral) else 0
        total += -value if value < following else value
    return total if total > 0 and _to_roman(total) == numeral else None


def _to_roman(value: int) -> str:
    out = ""
    for number, letters in ((50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while value >= number:
            out += letters
            value -= number
    return out


def _follows(current: list[int], candidate: list[int], *, lenient: bool) -> bool:
    """Does ``candidate`` come right after ``current`` in a numbering ("2.4" -> "2.5", "3", "2.4.1")?"""
    n = len(candidate)
    if n > len(current) + 1 or any(k < 1 for k in candidate):
        return False
    if n == len(current) + 1:
        return candidate[:-1] == current and candidate[-1] == 1
    if candidate[: n - 1] != current[: n - 1]:
        return lenient and candidate > current
    step = candidate[n - 1] - current[n - 1]
    return 1 <= step <= (3 if lenient else 2)


def join_lines(lines: list[str]) -> str:
    """Join wrapped lines; a word broken by an end-of-line hyphen is marked with ``_BREAK``, to be
    mended or kept once the whole document is known (:func:`_resolve_breaks`)."""
    out = ""
    for raw in lines:
        text = raw.strip()
        if not text:
            continue
        if not out:
            out = text
        elif out.endswith("-") and len(out) > 1 and out[-2].isalpha():
            out = out[:-1] + (_BREAK if text[0].isalpha() else "-") + text
        elif out.endswith(("—", "–")):
            out += text
        else:
            out += " " + text
    return out


_BREAK = "\ue000"  # where a line ended in a hyphen inside a word: mended or kept at the end
_BROKEN = re.compile(r"([A-Za-z][A-Za-z-]*)" + _BREAK + r"([A-Za-z][A-Za-z-]*)")
_WORD = re.compile(r"[A-Za-z](?:[A-Za-z-]*[A-Za-z])?")
# Short words that stand alone often and also begin many words ("over-fitting", "with-out").
_FUNCTION_WORDS = frozenset(
    "and for the with without over under any some every all out per not but can may its our their there "
    "where when what which who how one two each more most less into onto upon within after before between "
    "through while then than this that these those".split()
)


def _vocabulary(texts: list[str]) -> Counter[str]:
    """How often each word (hyphenated compounds as one word) occurs, leaving out broken words."""
    counts: Counter[str] = Counter()
    for text in texts:
        unbroken = re.sub(r"\S*" + _BREAK + r"\S*", " ", text)
        counts.update(word.lower() for word in _WORD.findall(unbroken))
    return counts


def _mend(left: str, right: str, vocabulary: Counter[str]) -> str:
    """``left`` and ``right`` of a word broken at a line end, joined or hyphenated.

    The document decides when it spells the word elsewhere (joined or hyphenated, whichever is
    more frequent). Otherwise: compounds ("state-of-the-", "to-German"), capitals ("Cosine-Beta"),
    prefixes that keep their hyphen and two halves that are both words of the document
    ("model-free") keep it; anything else ("optimi-zation") is one word.
    """
    joined, hyphenated = (left + right).lower(), (left + "-" + right).lower()
    if vocabulary[joined] != vocabulary[hyphenated]:
        return left + right if vocabulary[joined] > vocabulary[hyphenated] else left + "-" + right
    last = left.split("-")[-1].lower()
    keep = (
        "-" in left
        or "-" in right
        or not right[0].islower()
        or last in _KEEP_HYPHEN
        or (len(last) >= 3 and last not in _FUNCTION_WORDS and vocabulary[last] > 0 and vocabulary[right.lower()] > 0)
    )
    return left + "-" + right if keep else left + right


def _resolve_breaks(text: str, vocabulary: Counter[str]) -> str:
    if _BREAK not in text:
        return text
    text = _BROKEN.sub(lambda m: _mend(m.group(1), m.group(2), vocabulary), text)
    return text.replace(_BREAK, "-")  # a break between things that are not words keeps its hyphen


class _Scanner:
    def __init__(self, lines: list[Line], *, fonts_known: bool = False, numbered_paper: bool = False) -> None:
        lengths = [len(line.text.strip()) for line in lines if line.text.strip()]
        self.median = statistics.median(lengths) if lengths else 0
        self.fonts_known = fonts_known
        # A paper that numbers its sections leaves only front and back matter unnumbered; without
        # fonts to go by, a lone "Results" line is then a figure's label, not a heading.
        self.numbered_paper = numbered_paper
        self.numbers: list[int] = []
        self.letters: list[int] = []
        self.after_references = False
        self.in_appendix = False
        self.roman = 0  # IEEE style: "II. RELATED WORK", then "A. Datasets" below it
        self.roman_letter = 0

    def _bold_ok(self, line: Line) -> bool:
        return not self.fonts_known or bool(line.bold)

    def heading(self, line: Line) -> tuple[str, int] | None:
        """(heading, level) when this line is a heading; updates the numbering state."""
        text = re.sub(r"\s+", " ", line.text.strip())
        if not text:
            return None
        if not self._bold_ok(line) and text.rstrip(":").lower() not in _ALWAYS_HEADINGS:
            return None
        name = text.rstrip(":").lower()
        if name in COMMON_HEADINGS and (not self.numbered_paper or name in UNNUMBERED_HEADINGS):
            bare = text.rstrip(":")
            if is_references(bare):
                self.after_references = True
            if starts_appendix(bare):
                self.in_appendix = True
            return bare, 1
        match = _APPENDIX.match(text)
        if match and (not match.group(1) or _plausible_heading_text(match.group(1))):
            self.in_appendix = True
            return text, 1
        match = _NUMBERED.match(text)
        if match and _plausible_heading_text(match.group(2)) and not self.in_appendix:
            candidate = [int(k) for k in match.group(1).split(".")]
            if _follows(self.numbers, candidate, lenient=self.fonts_known):
                self.numbers = candidate
                return f"{match.group(1)} {match.group(2)}", len(candidate)
        ieee = self._ieee_heading(text)
        if ieee:
            return ieee
        match = _LETTERED.match(text)
        if match and (self.after_references or self.in_appendix) and _plausible_heading_text(match.group(2)):
            label = match.group(1)
            candidate = [ord(label[0]) - ord("A") + 1] + [int(k) for k in label.split(".")[1:]]
            if _follows(self.letters, candidate, lenient=False):
                self.letters = candidate
                self.in_appendix = True
                return f"{label} {match.group(2)}", len(candidate)
        return None

    def _ieee_heading(self, text: str) -> tuple[str, int] | None:
        """Roman-numbered sections and their lettered subsections, as IEEE styles number them."""
        if self.in_appendix or self.after_references:
            return None
        short = self.fonts_known or len(text) < 0.9 * self.median  # body lines run the full width
        match = _ROMAN.match(text)
        if match and short and _plausible_heading_text(match.group(2)):
            value = _roman_value(match.group(1))
            if value is not None and 1 <= value - self.roman <= 2 and (self.roman or value == 1):
                self.roman, self.roman_letter = value, 0
                return f"{match.group(1)}. {match.group(2)}", 1
        match = _LETTER_SUBSECTION.match(text)
        if match and self.roman and short and _plausible_heading_text(match.group(2)):
            if ord(match.group(1)) - ord("A") == self.roman_letter:
                self.roman_letter += 1
                return f"{match.group(1)}. {match.group(2)}", 2
        return None

    def continues_heading(self, heading: str, line: Line) -> bool:
        """Is ``line`` the second line of a heading too long for one line? Needs font information."""
        text = line.text.strip()
        return (
            self.fonts_known
            and bool(line.bold)
            and 0 < len(text) <= 60
            and len(heading) >= 0.5 * self.median
            and not text.endswith((".", ",", ";"))
            and not _NUMBERED.match(text)
        )


def _paragraphs(lines: list[str], median: float) -> list[str]:
    """Group lines into paragraphs: a blank line, or a short line ending a sentence, ends one."""
    paragraphs: list[str] = []
    current: list[str] = []
    for raw in lines:
        text = raw.strip()
        if not text:
            if current:
                paragraphs.append(join_lines(current))
                current = []
            continue
        current.append(text)
        if text.endswith(_SENTENCE_END) and len(text) < 0.8 * median:
            paragraphs.append(join_lines(current))
            current = []
    if current:
        paragraphs.append(join_lines(current))
    return [p for p in paragraphs if p]


def caption_goes_on(caption: list[str], following: str, median: float) -> bool:
    """Does the caption continue on the ``following`` line? A period, or a short line followed
    by a capitalised one, ends it; so does a blank line or the next caption."""
    last = caption[-1]
    if not following or CAPTION.match(following) or len(caption) >= 10 or last.endswith("."):
        return False
    return not (len(last) < 0.75 * median and not following[0].islower())


def _take_captions(lines: list[str], median: float) -> tuple[list[str], list[str]]:
    """Split out "Figure 3: ..." / "Table 1. ..." captions (up to the line ending the sentence)."""
    body: list[str] = []
    captions: list[str] = []
    i = 0
    while i < len(lines):
        text = lines[i].strip()
        before = body[-1].strip() if body else ""
        if CAPTION.match(text) and not MID_SENTENCE.search(before):  # captions open a paragraph
            caption = [text]
            i += 1
            while i < len(lines) and caption_goes_on(caption, lines[i].strip(), median):
                caption.append(lines[i].strip())
                i += 1
            captions.append(join_lines(caption))
            continue
        body.append(lines[i])
        i += 1
    return body, captions


def _count_numbered(lines: list[Line], *, fonts_known: bool) -> int:
    """How many numbered headings a scan finds."""
    scanner = _Scanner(lines, fonts_known=fonts_known)
    return sum(1 for line in lines if scanner.heading(line) and _NUMBERED.match(line.text.strip()))


def _headings_are_bold(lines: list[Line], numbered: int) -> bool:
    """Do the fonts tell headings apart? Yes when bold lines alone give (nearly) as many numbered
    headings as the numbering alone does (``numbered``).

    Then bold is required of every heading; a paper whose headings are set in a plain font (or a
    format without fonts) is read from the numbering alone.
    """
    if not any(line.bold for line in lines):
        return False
    with_fonts = _count_numbered(lines, fonts_known=True)
    return with_fonts >= 2 and with_fonts >= 0.7 * numbered


def structure_lines(lines: list[Line]) -> Structure:
    """Find headings, paragraphs and captions in a paper's lines (in reading order)."""
    numbered = _count_numbered(lines, fonts_known=False)
    fonts_known = _headings_are_bold(lines, numbered)
    scanner = _Scanner(lines, fonts_known=fonts_known, numbered_paper=not fonts_known and numbered >= 3)
    result = Structure()
    front: list[str] = []
    blocks: list[tuple[str, int, bool, list[str]]] = []  # heading, level, appendix, lines
    footnotes: dict[int, list[str]] = {}  # block index (-1: front matter) -> its footnotes
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.kind != "text":
            if line.kind == "caption":
                result.captions.append(line.text.strip())
            else:
                footnotes.setdefault(len(blocks) - 1, []).append(line.text.strip())
            i += 1
            continue
        inline = _INLINE_ABSTRACT.match(line.text.strip())
        if inline and not blocks:  # "Abstract—We ..." (IEEE): heading and text on one line
            blocks.append(("Abstract", 1, False, [inline.group(2)]))
            i += 1
            continue
        found = scanner.heading(line)
        if found is None:
            if blocks and scanner.fonts_known and line.bold and len(line.text.strip()) <= 80:
                # a bold run-in heading ("Implementation details"): its own paragraph, in bold
                blocks[-1][3].extend(["", f"**{line.text.strip()}**", ""])
            else:
                (blocks[-1][3] if blocks else front).append(line.text)
            i += 1
            continue
        heading, level = found
        i += 1
        while i < len(lines) and scanner.continues_heading(heading, lines[i]):
            heading = join_lines([heading, lines[i].text])
            i += 1
        blocks.append((heading, level, scanner.in_appendix, []))

    median = scanner.median
    front_body, front_captions = _take_captions(front, median)
    result.front = _paragraphs(front_body, median) + footnotes.get(-1, [])
    result.captions.extend(front_captions)
    for index, (heading, level, appendix, body_lines) in enumerate(blocks):
        body, captions = _take_captions(body_lines, median)
        result.captions.extend(captions)
        text = "\n\n".join(_paragraphs(body, median) + footnotes.get(index, []))
        if is_abstract(heading) and not result.abstract and not result.sections:
            result.abstract = text
            continue
        result.sections.append(Section(heading=heading, text=text, level=level, appendix=appendix))
    return _mended(result)


def _mended(result: Structure) -> Structure:
    """Every broken word of the document joined or hyphenated, as the document spells it elsewhere."""
    texts = [*result.front, result.abstract or "", *result.captions, *(s.heading + "\n" + s.text for s in result.sections)]
    vocabulary = _vocabulary(texts)
    result.front = [_resolve_breaks(t, vocabulary) for t in result.front]
    result.abstract = _resolve_breaks(result.abstract, vocabulary) if result.abstract else result.abstract
    result.captions = [_resolve_breaks(t, vocabulary) for t in result.captions]
    for section in result.sections:
        section.heading = _resolve_breaks(section.heading, vocabulary)
        section.text = _resolve_breaks(section.text, vocabulary)
    return result
