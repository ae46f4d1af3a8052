"""Read a plain-text paper: the first line is the title, numbered lines are headings.

Text copied out of a PDF (or written by hand) carries the same signals as a PDF without fonts,
so it goes through the same line structuring: numbered headings that follow on from each other,
the usual unnumbered names, blank lines between paragraphs.
"""

from __future__ import annotations

from pathlib import Path

from papercoder.paper.headings import finish_sections
from papercoder.paper.lines import Line, structure_lines
from papercoder.paper.model import Paper, Section
from papercoder.paper.textfile import read_text_file


def parse_text(text: str, *, source: str = "", keep_references: bool = False) -> Paper:
    """Turn plain text into a :class:`Paper`."""
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    title = lines.pop(0).strip() if lines else "Untitled"
    found = structure_lines([Line(line) for line in lines])
    sections = list(found.sections)
    front = "\n\n".join(found.front)
    abstract = found.abstract
    if front and not abstract and sections:
        abstract = front
    elif front:
        sections.insert(0, Section("Text" if not sections else "Front matter", front))
    return Paper(
        title=title,
        abstract=abstract,
        sections=finish_sections(sections, keep_references=keep_references),
        captions=found.captions,
        source=source,
        source_format="text",
    )


def read_text(path: Path, *, keep_references: bool = False) -> Paper:
    """Read a ``.txt`` file into a :class:`Paper`."""
    warnings: list[str] = []
    paper = parse_text(read_text_file(path, warnings), source=str(path), keep_references=keep_references)
    paper.warnings.extend(warnings)
    return paper
