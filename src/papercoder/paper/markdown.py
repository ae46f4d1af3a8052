"""Read a Markdown paper: ATX headings ("#", "##", ...) become sections.

The first level-1 heading is the title; the shallowest remaining heading level becomes level 1.
An "Abstract" heading (or, without one, the text between the title and the first section) is
the abstract. Images become their alt text in the captions; caption lines written as text
("Table 1: ...") stay where they are, next to their table.
"""

from __future__ import annotations

import re
from pathlib import Path

from papercoder.paper.headings import finish_sections, is_abstract, is_references, starts_appendix
from papercoder.paper.model import Paper, Section
from papercoder.paper.textfile import read_text_file

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_IMAGE = re.compile(r"^\s*!\[([^\]]*)\]\([^)]*\)\s*$")
_LETTERED = re.compile(r"^[A-Z](?:\.\d+)*\.?\s+\S")


def _front_matter(text: str) -> tuple[str, str]:
    """Split off a YAML front-matter block; return (title from it or "", the rest)."""
    if not text.startswith("---\n"):
        return "", text
    end = text.find("\n---", 4)
    if end < 0:
        return "", text
    block, rest = text[4:end], text[end + 4 :]
    match = re.search(r"^title:\s*['\"]?(.*?)['\"]?\s*$", block, re.MULTILINE)
    return (match.group(1) if match else ""), rest.lstrip("\n")


def _setext_to_atx(lines: list[str]) -> list[str]:
    """Rewrite setext headings (a line underlined with === or ---) as "#"/"##" headings."""
    out: list[str] = []
    in_code = False
    for line in lines:
        if _FENCE.match(line):
            in_code = not in_code
        underline = re.match(r"^\s{0,3}(=+|-+)\s*$", line)
        previous = out[-1] if out else ""
        if (
            underline
            and not in_code
            and previous.strip()
            and not _HEADING.match(previous)
            and not re.match(r"^\s*([-*+>|]|\d+[.)])\s", previous)
            and (len(out) < 2 or not out[-2].strip())
        ):
            out[-1] = ("# " if underline.group(1)[0] == "=" else "## ") + previous.strip()
            continue
        out.append(line)
    return out


def parse_markdown(text: str, *, source: str = "", keep_references: bool = False) -> Paper:
    """Turn Markdown text into a :class:`Paper`."""
    meta_title, text = _front_matter(text.replace("\r\n", "\n"))
    blocks: list[tuple[str, int, list[str]]] = [("", 0, [])]  # heading, markdown level, lines
    captions: list[str] = []
    in_code = False
    for line in _setext_to_atx(text.split("\n")):
        if _FENCE.match(line):
            in_code = not in_code
        elif not in_code:
            heading = _HEADING.match(line)
            if heading:
                name = re.sub(r"\s*\{#[^}]*\}$", "", heading.group(2)).strip()  # "{#anchor}"
                name = re.sub(r"^([*_]{1,2})(.+)\1$", r"\2", name).strip()  # "**1 Introduction**"
                blocks.append((name, len(heading.group(1)), []))
                continue
            image = _IMAGE.match(line)
            if image:
                if image.group(1).strip():
                    captions.append(image.group(1).strip())
                continue
        blocks[-1][2].append(line)

    title = meta_title
    if len(blocks) > 1 and blocks[1][1] == 1 and not title:
        title = blocks[1][0]
        lead = blocks[0][2] + blocks[1][2]
        blocks = [("", 0, lead)] + blocks[2:]
    if not title:
        title = Path(source).stem if source else "Untitled"
    top = min((level for _, level, _ in blocks[1:]), default=1)

    abstract = ""
    sections: list[Section] = []
    appendix = after_references = False
    for heading, level, lines in blocks[1:]:
        body = "\n".join(lines).strip()
        if is_abstract(heading) and not abstract and not sections:
            abstract = body
            continue
        if is_references(heading):
            after_references = True
        elif starts_appendix(heading) or (after_references and level == top and _LETTERED.match(heading)):
            appendix = True
        sections.append(Section(heading=heading, text=body, level=level - top + 1, appendix=appendix))
    lead = "\n".join(blocks[0][2]).strip()
    if lead and not abstract:
        abstract = lead
    elif lead:
        sections.insert(0, Section("Front matter", lead))
    return Paper(
        title=title,
        abstract=abstract,
        sections=finish_sections(sections, keep_references=keep_references),
        captions=captions,
        source=source,
        source_format="markdown",
    )


def read_markdown(path: Path, *, keep_references: bool = False) -> Paper:
    """Read a ``.md`` file into a :class:`Paper`."""
    warnings: list[str] = []
    paper = parse_markdown(
        read_text_file(path, warnings, what="Markdown"), source=str(path), keep_references=keep_references
    )
    paper.warnings.extend(warnings)
    return paper
