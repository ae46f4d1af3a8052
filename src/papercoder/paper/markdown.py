"""Read a Markdown paper: ATX headings ("#", "##", ...) become sections.

The first level-1 heading is the title; the shallowest remaining heading level becomes level 1.
An "Abstract" heading (or, without one, the text between the title and the first section) is
the abstract. Images become their alt text in the captions; caption lines written as text
("Table 1: ...") stay where they are, next to their table. Local images captioned "Figure N"
(in their alt text or the line under them) become the paper's figures.
"""

from __future__ import annotations

import re
from pathlib import Path

from papercoder.paper.headings import finish_sections, is_abstract, is_references, starts_appendix
from papercoder.paper.figures import Figure, make_figure
from papercoder.paper.model import Paper, Section
from papercoder.paper.texfigures import load_graphic
from papercoder.paper.textfile import read_text_file

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_IMAGE = re.compile(r"^\s*!\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'][^)]*)?\)\s*$")
_FIGURE_LABEL = re.compile(r"^[*_]*(?:Figure|Fig\.)\s*(\d+)", re.IGNORECASE)
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


def parse_markdown(
    text: str, *, source: str = "", keep_references: bool = False, images: list[tuple[str, str, str]] | None = None
) -> Paper:
    """Turn Markdown text into a :class:`Paper`; ``images`` receives each image's (alt text, target,
    the line after it), for the reader to load the figures."""
    meta_title, text = _front_matter(text.replace("\r\n", "\n"))
    blocks: list[tuple[str, int, list[str]]] = [("", 0, [])]  # heading, markdown level, lines
    captions: list[str] = []
    found: list[list[str]] = []  # [alt, target, the next line of text]
    in_code = False
    for line in _setext_to_atx(text.split("\n")):
        if found and not found[-1][2] and line.strip() and not _IMAGE.match(line):
            found[-1][2] = line.strip()
            for entry in reversed(found[:-1]):  # panels right before it share the caption under them
                if entry[2]:
                    break
                entry[2] = line.strip()
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
                found.append([image.group(1).strip(), image.group(2), ""])
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
    if images is not None:
        images.extend((alt, target, after) for alt, target, after in found)
    return Paper(
        title=title,
        abstract=abstract,
        sections=finish_sections(sections, keep_references=keep_references),
        captions=captions,
        source=source,
        source_format="markdown",
    )


def markdown_figures(images: list[tuple[str, str, str]], root: Path, warnings: list[str]) -> list[Figure]:
    """The local images of a Markdown paper as figures, numbered by their caption ("Figure 3: ...",
    in the alt text or the line under the image); panels of one figure side by side. Images at a
    URL are not fetched (one warning); nothing outside the paper's folder is read."""
    groups: dict[str, tuple[str, list, list[str]]] = {}
    remote = unnumbered = 0
    base = root.resolve()
    for alt, target, after in images:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            remote += 1
            continue
        label_text = next((t for t in (alt, after) if _FIGURE_LABEL.match(t)), "")
        if not label_text:
            unnumbered += 1
            continue
        label = f"Figure {_FIGURE_LABEL.match(label_text).group(1)}"
        path = (root / target).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            warnings.append(f"figures: {label} shows {target}, which is missing or outside the paper's folder; its caption is kept")
            continue
        image, problem = load_graphic(path)
        if problem:
            warnings.append(f"figures: {label}: {problem}; skipped")
            continue
        caption = re.sub(r"^[*_]+|[*_]+$", "", label_text).strip()
        groups.setdefault(label, (caption, [], []))
        groups[label][1].append(image)
        groups[label][2].append(target)
    if remote:
        warnings.append(f"figures: {remote} image(s) are links to the web, which papercoder does not fetch; their captions are kept")
    if unnumbered:
        warnings.append(f"figures: {unnumbered} image(s) have no \"Figure N\" caption, so no file can name them; left out")
    return [make_figure(label, caption, panels, ", ".join(targets)) for label, (caption, panels, targets) in groups.items()]


def read_markdown(path: Path, *, keep_references: bool = False) -> Paper:
    """Read a ``.md`` file into a :class:`Paper`."""
    warnings: list[str] = []
    images: list[tuple[str, str, str]] = []
    paper = parse_markdown(
        read_text_file(path, warnings, what="Markdown"), source=str(path), keep_references=keep_references, images=images
    )
    paper.figures = markdown_figures(images, path.parent, warnings)
    paper.warnings.extend(warnings)
    return paper
