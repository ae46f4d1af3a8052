"""What a heading means, whatever the format: references, appendix, abstract.

Every reader asks the same questions of a heading ("is this the bibliography?", "does the
appendix start here?"), so the answers live in one place and agree across formats.
"""

from __future__ import annotations

import re

from papercoder.paper.model import Section

# The usual unnumbered section names of ML papers, lower-cased, without trailing punctuation.
COMMON_HEADINGS = frozenset(
    {
        "abstract",
        "introduction",
        "related work",
        "related works",
        "background",
        "preliminaries",
        "method",
        "methods",
        "methodology",
        "approach",
        "experiments",
        "experimental setup",
        "experimental results",
        "results",
        "evaluation",
        "discussion",
        "analysis",
        "conclusion",
        "conclusions",
        "conclusion and future work",
        "conclusions and future work",
        "limitations",
        "broader impact",
        "broader impacts",
        "ethics statement",
        "ethical considerations",
        "impact statement",
        "reproducibility statement",
        "acknowledgements",
        "acknowledgments",
        "acknowledgement",
        "acknowledgment",
        "references",
        "bibliography",
        "appendix",
        "appendices",
        "supplementary material",
        "supplementary materials",
    }
)

# The headings a paper that numbers its sections still leaves unnumbered: front and back matter.
UNNUMBERED_HEADINGS = frozenset(
    name
    for name in COMMON_HEADINGS
    if name.startswith(("abstract", "acknowledg", "reference", "bibliograph", "append", "supplementary"))
    or name in {"broader impact", "broader impacts", "ethics statement", "ethical considerations",
                "impact statement", "reproducibility statement", "limitations"}
)

_NUMBER_PREFIX = re.compile(r"^(?:[A-Z]|\d+)(?:\.\d+)*\.?\s+")


def bare_heading(heading: str) -> str:
    """The heading without its number, lower-cased: "7 Conclusion." -> "conclusion"."""
    text = _NUMBER_PREFIX.sub("", heading.strip())
    return re.sub(r"\s+", " ", text).strip(" .:").lower()


def is_references(heading: str) -> bool:
    """True for the bibliography heading ("References", "7 References", "Bibliography")."""
    return bare_heading(heading) in {"references", "bibliography", "reference", "literature cited"}


def is_abstract(heading: str) -> bool:
    return bare_heading(heading) == "abstract"


def starts_appendix(heading: str) -> bool:
    """True for a heading that opens the appendix: "Appendix", "Appendices", "Appendix A: Proofs"."""
    text = heading.strip().lower()
    return bool(re.match(r"^(?:[a-z](?:\.\d+)*\.?\s+)?(?:appendix|appendices|supplementary material)\b", text))


def finish_sections(sections: list[Section], *, keep_references: bool) -> list[Section]:
    """Drop the references (and their subsections) unless asked to keep them.

    Sections after a references section that are not appendix-like are kept: some papers put
    the bibliography before the appendix, some after the acknowledgements.
    """
    if keep_references:
        return sections
    kept: list[Section] = []
    skipping_level: int | None = None
    for section in sections:
        if skipping_level is not None:
            if section.level > skipping_level:
                continue
            skipping_level = None
        if is_references(section.heading):
            skipping_level = section.level
            continue
        kept.append(section)
    return kept
