"""The Paper: what every reader produces and every later stage consumes."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from papercoder.paper.figures import Figure

FIGURES_FOLDER = "paper/figures"  # where a run keeps the images, relative to paper.md


@dataclass
class Section:
    """One section of a paper: its heading as the paper writes it, its depth, its text."""

    heading: str
    text: str
    level: int = 1  # 1 = section, 2 = subsection, 3 = subsubsection
    appendix: bool = False  # after LaTeX \appendix or an "Appendix" heading: dropped first when space is short


@dataclass
class Paper:
    """A paper as plain structured text, independent of the format it came in."""

    title: str
    abstract: str = ""
    sections: list[Section] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)  # "Figure 1: ...", "Table 2: ..."
    source: str = ""  # where it was read from (a path or an arXiv id)
    source_format: str = ""  # pdf, latex, markdown, s2orc, text
    warnings: list[str] = field(default_factory=list)  # things the reader noticed and survived
    figures: list[Figure] = field(default_factory=list)  # the figures as images, where the format and the file allow

    def to_markdown(self) -> str:
        """Render as Markdown: title, abstract, sections with heading levels, captions."""
        parts: list[str] = [f"# {self.title.strip() or 'Untitled'}"]
        if self.abstract.strip():
            parts.append("## Abstract\n\n" + self.abstract.strip())
        for section in self.sections:
            hashes = "#" * min(6, section.level + 1)
            body = section.text.strip()
            parts.append(f"{hashes} {section.heading.strip()}" + (f"\n\n{body}" if body else ""))
        if self.captions:
            files = {figure.label: figure.file_name for figure in self.figures}
            shown = []
            for caption in self.captions:
                label = re.match(r"((?:Figure|Table|Algorithm) \d+)\s*[:.]", caption.strip())
                image = files.get(label.group(1)) if label else None
                shown.append(caption.strip() + (f"\n\n![{label.group(1)}]({FIGURES_FOLDER}/{image})" if label and image else ""))
            parts.append("## Figure and table captions\n\n" + "\n\n".join(shown))
        return "\n\n".join(parts).rstrip() + "\n"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``papercoder ingest --format json``); figures without their images."""
        data = asdict(self)
        data["figures"] = [figure.meta() for figure in self.figures]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Paper":
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["sections"] = [Section(**s) for s in data.get("sections", [])]
        known = {f.name for f in fields(Figure)} - {"data"}  # the index's "file" is derived from the label
        data["figures"] = [Figure(**{k: v for k, v in f.items() if k in known}) for f in data.get("figures", [])]
        return cls(**data)
