"""Read s2orc / GROBID JSON, as written by allenai's s2orc-doc2json (and CORD-19).

This is the input format of the original PaperCoder scripts, so existing datasets can be reused.
Paragraphs carry their section name and number; consecutive paragraphs of one section become a
:class:`Section`. GROBID's ``EQUATION`` placeholders become the formulas of ``eq_spans``;
figure and table captions (with their label, and a table's content, where hyperparameters
live) come from ``ref_entries``; the bibliography from ``bib_entries`` (kept only on request).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from papercoder.errors import InputError
from papercoder.paper.headings import finish_sections, starts_appendix
from papercoder.paper.model import Paper, Section


def looks_like_s2orc(data: Any) -> bool:
    """True for a JSON object with s2orc's body: ``pdf_parse.body_text`` or a top-level ``body_text``."""
    if not isinstance(data, dict):
        return False
    parse = data.get("pdf_parse")
    holder = parse if isinstance(parse, dict) else data
    return isinstance(holder.get("body_text"), list)


def _paragraph_text(items: Any) -> str:
    if isinstance(items, str):
        return items.strip()
    if isinstance(items, list):
        return "\n\n".join(str(p.get("text", "")).strip() for p in items if isinstance(p, dict)).strip()
    return ""


def _with_equations(paragraph: dict[str, Any]) -> str:
    """The paragraph's text with each ``EQUATION`` placeholder replaced by the formula GROBID
    kept in ``eq_spans[].raw_str`` (and its number), so the model sees the math."""
    text = str(paragraph.get("text") or "")
    spans = [span for span in paragraph.get("eq_spans") or [] if isinstance(span, dict) and span.get("raw_str")]
    # from the last span back, so earlier offsets stay valid as the text grows
    for span in sorted(spans, key=lambda span: span["start"] if isinstance(span.get("start"), int) else -1, reverse=True):
        formula = f"${' '.join(str(span['raw_str']).split())}$"
        if span.get("eq_num"):
            formula += f" {span['eq_num']}"
        start, end, placeholder = span.get("start"), span.get("end"), str(span.get("text") or "EQUATION")
        if isinstance(start, int) and isinstance(end, int) and text[start:end] == placeholder:
            text = text[:start] + formula + text[end:]
        elif placeholder in text:  # offsets that do not match: replace the first placeholder left
            text = text.replace(placeholder, formula, 1)
    return text


def _caption(entry: dict[str, Any]) -> str:
    """A figure or table entry as one caption: its label ("Table 2:"), text and table content."""
    text = " ".join(str(entry.get("text") or "").split())
    kind = str(entry.get("type_str") or entry.get("type") or "").lower()
    label = {"table": "Table", "figure": "Figure"}.get(kind)
    number = str(entry.get("num") or "").strip()
    if label and number and text and not re.match(rf"(?i)^(?:{label}|fig\.?)\s*\S+", text):
        text = f"{label} {number}: {text}"
    content = str(entry.get("content") or "").strip() if kind == "table" else ""
    return f"{text}\n{content}".strip() if content else text


# A "title" that is a licence or permission sentence (Google's papers put one above the title)
_NOT_A_TITLE = re.compile(r"(?i)\b(?:permission|attribution|licen[cs]e|copyright|all rights reserved)\b")


def _title(data: dict[str, Any], metadata: dict[str, Any], source: str) -> str:
    for candidate in (data.get("title"), metadata.get("title")):
        title = " ".join(str(candidate or "").split())
        if title and _NOT_A_TITLE.search(title):
            title = _after_licence(title)  # "Provided proper attribution is provided, ... Attention Is All You Need"
        if title and not _NOT_A_TITLE.search(title) and len(title.split()) <= 30:
            return title
    return Path(source).stem or "Untitled"


def _after_licence(text: str) -> str:
    """What follows the last sentence that speaks of licences or permission: the real title, when
    GROBID glued the notice above the title into the title field; "" when nothing follows."""
    sentences = re.split(r"(?<=[.!?])\s+", text)
    last = max((i for i, sentence in enumerate(sentences) if _NOT_A_TITLE.search(sentence)), default=-1)
    rest = " ".join(sentences[last + 1 :]).strip()
    return rest if 1 <= len(rest.split()) <= 30 else ""


_LONE_HEADING = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+([A-Z][A-Za-z][\w ,:&()-]{0,60})$")


def _sections(paragraphs: list[Any], *, back_matter: bool) -> list[Section]:
    sections: list[Section] = []
    last_key: tuple[str, str] | None = None
    recovered: dict[tuple[str, str], tuple[str, str]] = {}  # stale section -> heading found in a paragraph
    numbered_level = 0  # level of the last numbered section
    appendix = False
    for item in paragraphs:
        if not isinstance(item, dict):
            continue
        name = str(item.get("section") or "").strip()
        number = str(item.get("sec_num") or "").strip()
        text = _with_equations(item).strip()
        lone = _LONE_HEADING.match(text)
        if lone:  # GROBID missed a heading and left it as a paragraph of its own ("6 Results")
            recovered[(number, name)] = (lone.group(1), lone.group(2))
            number, name, text = lone.group(1), lone.group(2), ""
        elif (number, name) in recovered:  # later paragraphs still carry the stale section name
            number, name = recovered[(number, name)]
        key = (number, name)
        if key != last_key or not sections:
            heading = f"{number} {name}".strip() or ("Back matter" if back_matter else "Text")
            if starts_appendix(heading) or (back_matter and re.match(r"^[A-Z](\.\d+)*$", number)):
                appendix = True
            if number:
                level = number.count(".") + 1
                numbered_level = level
            else:  # an unnumbered section after a numbered one is its subsection ("Label Smoothing")
                level = numbered_level + 1 if numbered_level else 1
            sections.append(Section(heading=heading, text=text, level=level, appendix=appendix))
            last_key = key
        elif text:
            sections[-1].text = f"{sections[-1].text}\n\n{text}".strip()
    return sections


def _references(entries: Any) -> Section | None:
    if not isinstance(entries, dict) or not entries:
        return None
    lines = []
    for entry in entries.values():
        if not isinstance(entry, dict):
            continue
        authors = ", ".join(
            " ".join(filter(None, [a.get("first", ""), a.get("last", "")]))
            for a in entry.get("authors") or []
            if isinstance(a, dict)
        )
        parts = [authors, str(entry.get("year") or ""), str(entry.get("title") or ""), str(entry.get("venue") or "")]
        lines.append("- " + ". ".join(p.strip() for p in parts if p and p.strip()))
    return Section("References", "\n".join(lines)) if lines else None


def parse_s2orc(data: dict[str, Any], *, source: str = "", keep_references: bool = False) -> Paper:
    """Turn a parsed s2orc JSON object into a :class:`Paper`."""
    parse = data.get("pdf_parse") if isinstance(data.get("pdf_parse"), dict) else data
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    title = _title(data, metadata, source)
    abstract = _paragraph_text(data.get("abstract")) or _paragraph_text(parse.get("abstract"))
    abstract = abstract or _paragraph_text(metadata.get("abstract"))
    sections = _sections(parse.get("body_text") or [], back_matter=False)
    sections += _sections(parse.get("back_matter") or [], back_matter=True)
    if keep_references:
        references = _references(parse.get("bib_entries"))
        if references:
            sections.append(references)
    captions = []
    entries = parse.get("ref_entries")
    if isinstance(entries, dict):
        for entry in entries.values():
            if isinstance(entry, dict) and (caption := _caption(entry)):
                captions.append(caption)
    return Paper(
        title=title,
        abstract=abstract,
        sections=finish_sections(sections, keep_references=keep_references),
        captions=captions,
        source=source,
        source_format="s2orc",
    )


def read_s2orc(path: Path, *, keep_references: bool = False) -> Paper:
    """Read an s2orc JSON file into a :class:`Paper`."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"{path} is not valid JSON ({exc}); give s2orc-doc2json output or another format.")
    if not looks_like_s2orc(data):
        raise InputError(
            f"{path} is JSON but not s2orc/GROBID output (no pdf_parse.body_text); convert it with s2orc-doc2json."
        )
    return parse_s2orc(data, source=str(path), keep_references=keep_references)
