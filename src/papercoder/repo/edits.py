"""SEARCH/REPLACE edits proposed by a model: parse them from free text, apply them to a folder.

A block names a file on the line before it, then quotes lines of that file and what replaces
them::

    model.py
    <<<<<<< SEARCH
    x = old()
    =======
    x = new()
    >>>>>>> REPLACE

An empty SEARCH part creates a new file. Matching tries the exact text first, then tolerates
trailing whitespace, then a uniform shift of indentation. Whatever does not apply is described
for the model (what it quoted, the closest lines in the file) instead of raising: the model's
mistakes go back to the model.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from papercoder.repo.paths import UnsafePathError, resolve_inside, write_inside

_OPEN = re.compile(r"^\s*<{5,9}\s*SEARCH\b.*$", re.IGNORECASE)
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_CLOSE = re.compile(r"^\s*>{5,9}\s*REPLACE\b.*$", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(```|~~~)")
_NAME_PREFIX = re.compile(r"^(file(name)?|path)\s*[:=]\s*", re.IGNORECASE)
_PATHLIKE = re.compile(r"^[\w.\-/\\]+$")


@dataclass
class EditBlock:
    """One proposed edit: in ``path``, replace the ``search`` text with ``replace``."""

    path: str
    search: str
    replace: str
    index: int = 0  # position in the model's answer, from 1, for messages

    @property
    def creates(self) -> bool:
        return not self.search.strip()


@dataclass
class ParseResult:
    """The blocks found, and problems with the text worth telling the model about."""

    blocks: list[EditBlock] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class FailedEdit:
    """A block that did not apply, with a message written for the model."""

    block: EditBlock
    reason: str
    refused: bool = False  # aimed outside the repository (or at .git): never applied, always reported


@dataclass
class ApplyResult:
    """What happened to each block."""

    applied: list[EditBlock] = field(default_factory=list)
    failed: list[FailedEdit] = field(default_factory=list)

    @property
    def changed_files(self) -> list[str]:
        return sorted({b.path for b in self.applied})


def parse_edits(text: str) -> ParseResult:
    """Find every SEARCH/REPLACE block in ``text`` (a model's answer)."""
    lines = text.splitlines()
    result = ParseResult()
    current_path: str | None = None
    i = 0
    while i < len(lines):
        if not _OPEN.match(lines[i]):
            i += 1
            continue
        number = len(result.blocks) + len(result.problems) + 1
        named = _file_name_before(lines, i)
        path = named or current_path
        search: list[str] = []
        replace: list[str] = []
        j = i + 1
        while j < len(lines) and not _DIVIDER.match(lines[j]) and not _OPEN.match(lines[j]):
            search.append(lines[j])
            j += 1
        if j >= len(lines) or _OPEN.match(lines[j]):
            result.problems.append(f"block {number}: the SEARCH part has no ======= line after it")
            i = j
            continue
        j += 1
        while j < len(lines) and not _CLOSE.match(lines[j]) and not _OPEN.match(lines[j]):
            replace.append(lines[j])
            j += 1
        if j >= len(lines) or _OPEN.match(lines[j]):
            result.problems.append(f"block {number}: the REPLACE part does not end with a >>>>>>> REPLACE line")
            i = j
            continue
        if path is None:
            result.problems.append(
                f"block {number}: no file name is given; write the file's path alone on the line before <<<<<<< SEARCH"
            )
        else:
            result.blocks.append(EditBlock(path=path, search=_joined(search), replace=_joined(replace), index=number))
            current_path = path
        i = j + 1
    return result


def _joined(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


def _file_name_before(lines: list[str], open_index: int) -> str | None:
    """The file name written just above a block: skip fences and blank lines, at most 3 lines up."""
    looked = 0
    k = open_index - 1
    while k >= 0 and looked < 3:
        raw = lines[k].strip()
        k -= 1
        if not raw:
            continue
        looked += 1
        if _FENCE.match(raw):
            rest = _FENCE.sub("", raw).strip()
            words = rest.split()
            # "```python model.py" names the file; "```python" alone does not
            if len(words) >= 2 and _looks_like_path(words[-1]):
                return _clean_name(words[-1])
            continue
        if _CLOSE.match(raw) or _DIVIDER.match(raw):
            return None
        name = _clean_name(raw)
        return name if _looks_like_path(name) else None
    return None


def _clean_name(raw: str) -> str:
    name = raw.strip().strip("*#`'\" ").strip()
    name = _NAME_PREFIX.sub("", name).strip().strip("*`'\" ").rstrip(":").strip()
    return name


def _looks_like_path(name: str) -> bool:
    return bool(name) and bool(_PATHLIKE.match(name)) and ("." in name or "/" in name) and not name.startswith("=")


def apply_edits(root: Path, blocks: list[EditBlock]) -> ApplyResult:
    """Apply ``blocks`` in order to files under ``root``; never writes outside it."""
    result = ApplyResult()
    for block in blocks:
        try:
            relative = resolve_inside(root, block.path).relative_to(root.resolve()).as_posix()
        except UnsafePathError as exc:
            result.failed.append(FailedEdit(block, str(exc), refused=True))
            continue
        if relative == ".git" or relative.startswith(".git/"):
            result.failed.append(FailedEdit(block, f"{block.path}: files under .git cannot be edited", refused=True))
            continue
        problem = apply_one(root, block)
        if problem is None:
            result.applied.append(block)
        else:
            result.failed.append(FailedEdit(block, problem))
    return result


def apply_one(root: Path, block: EditBlock) -> str | None:
    """Apply one block; ``None`` when it applied, else why not (for the model)."""
    try:
        target = resolve_inside(root, block.path)
    except UnsafePathError as exc:
        return str(exc)
    relative = target.relative_to(root.resolve()).as_posix()
    if relative == ".git" or relative.startswith(".git/"):
        return f"{block.path}: files under .git cannot be edited"
    if target.is_dir():
        return f"{block.path} is a folder, not a file"
    exists = target.is_file()
    if block.creates:
        if exists and target.read_text(encoding="utf-8", errors="replace").strip():
            return (
                f"{block.path} already exists, so an empty SEARCH part cannot create it; "
                "quote the lines to change in the SEARCH part"
            )
        write_inside(root, relative, block.replace)
        return None
    if not exists:
        return f"{block.path} does not exist; to create it, leave the SEARCH part empty"
    content = target.read_text(encoding="utf-8", errors="replace")
    new_content, problem = replace_text(content, block.search, block.replace)
    if problem is not None:
        return f"{block.path}: {problem}"
    write_inside(root, relative, new_content)
    return None


def replace_text(content: str, search: str, replace: str) -> tuple[str, str | None]:
    """Replace the one place ``search`` matches in ``content``; (new content, problem or None)."""
    count = content.count(search)
    if count == 1:
        return content.replace(search, replace, 1), None
    if count > 1:
        return content, f"the SEARCH text matches {count} places; quote more surrounding lines so it matches one"
    lines = content.splitlines(keepends=True)
    wanted = _trim_blank_edges(search.splitlines())
    if not wanted:
        return content, "the SEARCH text is only blank lines"
    new_lines = _replace_loose(lines, wanted, replace.splitlines())
    if isinstance(new_lines, str):
        return content, new_lines
    return "".join(new_lines), None


def _trim_blank_edges(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _replace_loose(lines: list[str], wanted: list[str], replacement: list[str]) -> list[str] | str:
    """Match ignoring trailing whitespace, then a uniform indentation shift; re-indent the replacement."""
    bare = [line.rstrip("\r\n") for line in lines]
    n = len(wanted)
    exact_ws = [i for i in range(len(bare) - n + 1) if all(bare[i + k].rstrip() == wanted[k].rstrip() for k in range(n))]
    if len(exact_ws) > 1:
        return f"the SEARCH text matches {len(exact_ws)} places; quote more surrounding lines so it matches one"
    if exact_ws:
        return _splice(lines, exact_ws[0], n, replacement, "", "")
    shifted: list[tuple[int, str, str]] = []
    for i in range(len(bare) - n + 1):
        shift = _indent_shift(bare[i : i + n], wanted)
        if shift is not None:
            shifted.append((i, *shift))
    if len(shifted) > 1:
        return f"the SEARCH text matches {len(shifted)} places (ignoring indentation); quote more surrounding lines"
    if shifted:
        i, add, remove = shifted[0]
        return _splice(lines, i, n, replacement, add, remove)
    quoted = "\n".join(wanted)
    return f"the SEARCH text does not match the file. It was:\n{quoted}\n" + closest_lines(bare, wanted, context=2)


def _indent_shift(have: list[str], wanted: list[str]) -> tuple[str, str] | None:
    """(prefix to add, prefix to remove) turning each line of ``wanted`` into ``have``, or None."""
    pairs = [(h.rstrip(), w.rstrip()) for h, w in zip(have, wanted) if h.strip() or w.strip()]
    if not pairs:
        return None
    h0, w0 = pairs[0]
    h_ind, w_ind = h0[: len(h0) - len(h0.lstrip())], w0[: len(w0) - len(w0.lstrip())]
    if h_ind.startswith(w_ind):
        add, remove = h_ind[len(w_ind) :], ""
    elif w_ind.startswith(h_ind):
        add, remove = "", w_ind[len(h_ind) :]
    else:
        return None
    for h, w in pairs:
        if not w.startswith(remove) or h != add + w[len(remove) :]:
            return None
    return add, remove


def _splice(lines: list[str], start: int, n: int, replacement: list[str], add: str, remove: str) -> list[str]:
    ending = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    fixed = []
    for line in replacement:
        if line.strip():
            if remove and line.startswith(remove):
                line = line[len(remove) :]
            line = add + line
        fixed.append(line + ending)
    tail = lines[start + n :]
    if start + n == len(lines) and lines and not lines[-1].endswith("\n") and fixed:
        fixed[-1] = fixed[-1].rstrip("\r\n")
    return lines[:start] + fixed + tail


def closest_lines(file_lines: list[str], wanted: list[str], context: int = 0) -> str:
    """Describe where the file looks most like ``wanted``: numbered lines, for the model."""
    if not file_lines:
        return "The file is empty."
    n = max(1, len(wanted))
    target = "\n".join(line.strip() for line in wanted)
    best_ratio, best_start = -1.0, 0
    for i in range(max(1, len(file_lines) - n + 1)):
        window = "\n".join(line.strip() for line in file_lines[i : i + n])
        ratio = difflib.SequenceMatcher(None, target, window, autojunk=False).ratio()
        if ratio > best_ratio:
            best_ratio, best_start = ratio, i
    lo = max(0, best_start - context)
    hi = min(len(file_lines), best_start + n + context)
    shown = "\n".join(f"{k + 1:4d}| {file_lines[k]}" for k in range(lo, hi))
    return f"The closest lines in the file ({best_ratio:.0%} similar), lines {lo + 1}-{hi}:\n{shown}"


def count_changed_lines(before: str, after: str) -> int:
    """Lines changed between two texts: for each differing region, the larger side's line count."""
    a, b = before.splitlines(), after.splitlines()
    total = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            total += max(i2 - i1, j2 - j1)
    return total
