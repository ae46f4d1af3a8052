"""One answer about several files, split into a section per file.

The analysis stage asks for the analyses of a few files in one request, each starting with a
marker line (:func:`file_marker`). Models vary the marker (a heading of another level, bold,
backticks, "Analysis of ..."), and an analysis often has sub-headings that name other files
("### `model.py`" under "How it uses the other files"). So a line starts a section only when it
carries the word "File" before a path, or is a top-level heading that names a path (words
after the path may follow); anything else, including fenced code, is content. An answer with
no such line at all is split at the headings that name the files, at the highest level any of
them has ("## 1. `data.py`"), so deeper sub-headings stay content. An answer wrapped whole in
one Markdown fence, or a section that is one Markdown block, is unwrapped.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator

from papercoder.pipeline.codeblocks import closes_fence

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_FILE_WORD = re.compile(r"^(?:file|filename|path)\s*[:=\-]?\s*", re.IGNORECASE)
_ANALYSIS_OF = re.compile(r"^(?:(?:detailed\s+)?(?:implementation\s+)?analysis\s+(?:of|for)\s*:?\s*)", re.IGNORECASE)
_NUMBER = re.compile(r"^\(?\d+[.)]\s*")
_OTHER = ""  # what _marked_path gives for a marker naming a file not asked for
_PROSE_FENCE = {"", "markdown", "md", "text", "txt"}


def file_marker(path: str) -> str:
    """The line that starts the section of ``path`` in a multi-file answer."""
    return f"# File: {path}"


def split_by_file(text: str, files: list[str]) -> dict[str, str]:
    """``{path: section}`` for each of ``files`` that has a non-empty section in ``text``.

    Text before the first marker is dropped; a marker naming a file outside ``files`` ends the
    section before it; a file given twice keeps both parts, joined in order. An answer with none
    of the asked-for markers is split at the headings that name the files, at the highest
    heading level that does (deeper ones are the sections' own sub-headings).
    """
    names = _names(files)
    lines = _unwrapped((text or "").splitlines())
    parts = _split(lines, lambda line: _marked_path(line, names))
    if not parts:
        levels = [level for level, _ in filter(None, (_named_heading(line, names) for line in _prose(lines)))]
        if levels:
            top = min(levels)
            parts = _split(lines, lambda line: _at_level(_named_heading(line, names), top))
    sections: dict[str, str] = {}
    for path in files:
        pieces = ["\n".join(_unwrapped(piece)).strip() for piece in parts.get(path, [])]
        body = "\n\n".join(piece for piece in pieces if piece)
        if body:
            sections[path] = body
    return sections


def _split(lines: list[str], marker: Callable[[str], str | None]) -> dict[str, list[list[str]]]:
    """The lines after each marker line, by the path it names (outside fenced blocks)."""
    parts: dict[str, list[list[str]]] = {}
    current: list[str] | None = None
    for line, in_fence in _fenced(lines):
        path = None if in_fence else marker(line)
        if path == _OTHER:
            current = None  # a file not asked for: its text belongs to no section
        elif path is not None:
            current = []
            parts.setdefault(path, []).append(current)
        elif current is not None:
            current.append(line)
    return parts


def _fenced(lines: list[str]) -> Iterator[tuple[str, bool]]:
    """Each line, and whether it is part of a fenced block (its fences included)."""
    fence: str | None = None
    for line in lines:
        match = _FENCE.match(line)
        if fence is not None:
            if match and closes_fence(line, fence):
                fence = None
            yield line, True
        elif match:
            fence = match.group(1)
            yield line, True
        else:
            yield line, False


def _prose(lines: list[str]) -> list[str]:
    return [line for line, in_fence in _fenced(lines) if not in_fence]


def _heading(line: str) -> tuple[int, str]:
    """A line's Markdown heading level (0 for none) and its text, without emphasis and numbering."""
    stripped = line.strip()
    level = len(stripped) - len(stripped.lstrip("#"))
    return level, _NUMBER.sub("", stripped.lstrip("#").strip().strip("*_").strip())


def _named_heading(line: str, names: dict[str, str]) -> tuple[int, str] | None:
    """``(level, path)`` for a Markdown heading that names one of the files and nothing else."""
    level, text = _heading(line)
    if not 1 <= level <= 6:
        return None
    name = _ANALYSIS_OF.sub("", text, count=1).strip().strip("*_").rstrip(":").strip().strip("`'\"").removeprefix("./")
    return (level, names[name]) if name in names else None


def _at_level(named: tuple[int, str] | None, level: int) -> str | None:
    return named[1] if named is not None and named[0] == level else None


def _unwrapped(lines: list[str]) -> list[str]:
    """``lines`` without a Markdown fence that wraps all of them, if one does."""
    filled = [k for k, line in enumerate(lines) if line.strip()]
    if len(filled) < 2:
        return lines
    first, last = lines[filled[0]].strip(), lines[filled[-1]].strip()
    opening = _FENCE.match(first)
    if not opening or first[len(opening.group(1)):].strip().lower() not in _PROSE_FENCE:
        return lines
    if not closes_fence(last, opening.group(1)):
        return lines
    inner = lines[filled[0] + 1 : filled[-1]]
    if any(_FENCE.match(line) and line.strip().strip(opening.group(1)[0]) == "" for line in inner):
        return lines  # the closing line belongs to another block inside: not one wrapper
    return inner


def _names(files: list[str]) -> dict[str, str]:
    """Every way a marker may name a file: its path, and its basename when no other file has it."""
    names = {path: path for path in files}
    basenames: dict[str, list[str]] = {}
    for path in files:
        basenames.setdefault(posixpath.basename(path), []).append(path)
    for base, paths in basenames.items():
        if len(paths) == 1:
            names.setdefault(base, paths[0])
    return names


def _marked_path(line: str, names: dict[str, str]) -> str | None:
    """The path whose section ``line`` starts, :data:`_OTHER` for a marker of a file outside the
    group (it still ends the section before it), or None for content."""
    level, text = _heading(line)
    has_word = bool(_FILE_WORD.match(text))
    if has_word:
        text = _FILE_WORD.sub("", text, count=1)
    elif level == 1:
        text = _ANALYSIS_OF.sub("", text, count=1)
    else:
        return None
    words = text.strip().split()
    if not words:
        return None
    name = words[0].strip("*_").rstrip(":").strip("*_`'\"").rstrip(":").removeprefix("./")
    if name in names:
        return names[name]
    return _OTHER if has_word and _looks_like_path(name) else None


def _looks_like_path(name: str) -> bool:
    return bool(re.fullmatch(r"[\w./-]+\.\w+", name))
