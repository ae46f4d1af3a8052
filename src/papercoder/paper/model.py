"""The Paper: what every reader produces and every later stage consumes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
            parts.append("## Figure and table captions\n\n" + "\n\n".join(c.strip() for c in self.captions))
        return "\n\n".join(parts).rstrip() + "\n"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``papercoder ingest --format json``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Paper":
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["sections"] = [Section(**s) for s in data.get("sections", [])]
        return cls(**data)
