"""The interface skeleton: every planned Python file's classes and functions, before any code.

The model writes one fenced block of stubs per file (signatures with types, docstrings that give
return structures and shapes, the config keys each reads, bodies ``...``). Files written
concurrently then agree on names because they all see the same skeleton. This module reads the
answer into ``{path: stub source}``, checks it (every file present, every block parses, imports and
calls between the stubs match, the design's classes and methods exist) and writes it back as one
document in task order.
"""

from __future__ import annotations

import ast
import re
import tempfile
from pathlib import Path

from papercoder import pysource
from papercoder.pipeline.codeblocks import closes_fence
from papercoder.repo.checks import check_repository
from papercoder.repo.paths import write_inside

_FENCE = re.compile(r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*)$")
_NAME_PREFIX = re.compile(r"^(file(name)?|path|module)\s*[:=]?\s+", re.IGNORECASE)
_PYTHON = {"", "python", "py", "python3"}
_CLASS = re.compile(r"^\s*class\s+([A-Za-z_]\w*)")
_METHOD = re.compile(r"^\s*[+\-#~]?\s*([A-Za-z_]\w*)\s*\(")
_COLON_METHOD = re.compile(r"^\s*([A-Za-z_]\w*)\s*:\s*[+\-#~]?\s*([A-Za-z_]\w*)\s*\(")
CROSS_FILE_KINDS = ("local-import", "interface")


def parse_skeleton(text: str, files: list[str]) -> dict[str, str]:
    """The stub source of each planned file in ``text``: ``{path: source}``.

    A block belongs to the file named on the line above it (a heading, a bold line, ``File:
    path``), in its info string (```` ```python model.py ````) or in its first line (``# model.py``).
    Only planned paths count; the first block given for a file wins; prose is ignored.
    """
    known = set(files)
    found: dict[str, str] = {}
    current: str | None = None
    lines = (text or "").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            named = _path_in(lines[i], known)
            if named:
                current = named
            elif _is_heading_like(lines[i]):
                current = None
            i += 1
            continue
        fence, info = match.group("fence"), match.group("info").strip()
        body: list[str] = []
        i += 1
        while i < len(lines) and not closes_fence(lines[i], fence):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence (or the end of a cut answer)
        words = info.split()
        language = words[0].lower() if words else ""
        named = next((n for n in (_path_in(w, known) for w in words[1:] + words[:1]) if n), None)
        first = next((line for line in body if line.strip()), "")
        if first.lstrip().startswith("#"):
            named = named or _path_in(first.lstrip().lstrip("#"), known)
        path = named or current
        current = None  # a name above a block names that block only
        if path is None or path in found or (language not in _PYTHON and not named):
            continue
        found[path] = "\n".join(body).rstrip() + "\n" if any(line.strip() for line in body) else ""
    return found


def _path_in(line: str, known: set[str]) -> str | None:
    """The planned path a line of prose names by itself (``### `model.py` ``, ``**File: a.py**``)."""
    name = line.strip().strip("#*`'\" ").strip()
    name = _NAME_PREFIX.sub("", name).strip().strip("*`'\" ").rstrip(":").strip().strip("`")
    name = name.removeprefix("./")
    return name if name in known else None


def _is_heading_like(line: str) -> bool:
    """A heading that names something else ends the current file's section; prose does not."""
    return line.lstrip().startswith("#")


def review_skeleton(
    skeleton: dict[str, str], files: list[str], classes: list[str], methods: dict[str, list[str]]
) -> list[str]:
    """What is wrong with ``skeleton`` for the planned ``files``, one sentence each (empty: good).

    ``classes`` and ``methods`` are the names the design's class diagram gives; each must exist.
    """
    problems: list[str] = []
    python = [f for f in files if f.endswith(".py")]
    for path in python:
        if path not in skeleton:
            problems.append(f"{path}: no skeleton was given for this planned file")
    trees: dict[str, ast.Module] = {}
    for path, source in skeleton.items():
        try:
            trees[path] = pysource.parse(source)
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            problems.append(f"{path}: the skeleton does not parse ({getattr(exc, 'msg', str(exc))}" + (f" at line {line})" if line else ")"))
    problems += _cross_file(skeleton)
    defined: dict[str, set[str]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                names = defined.setdefault(node.name, set())
                names.update(n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
                names.update(t.id for n in node.body if isinstance(n, ast.AnnAssign) for t in [n.target] if isinstance(t, ast.Name))
    for name in classes:
        if name not in defined:
            problems.append(f"the design's class diagram has a class '{name}' that no file of the skeleton defines")
            continue
        for method in methods.get(name, []):
            if method not in defined[name] and method != name and not method.startswith("__"):
                problems.append(f"the design gives class '{name}' a method '{method}' that its skeleton lacks")
    return problems


def _cross_file(skeleton: dict[str, str]) -> list[str]:
    """Imports and calls between the stub files that do not match, from the repository checks."""
    with tempfile.TemporaryDirectory(prefix="papercoder-skeleton-") as tmp:
        root = Path(tmp)
        for path, source in skeleton.items():
            write_inside(root, path, source)
        findings = check_repository(root)
    return [str(f) for f in findings if f.kind in CROSS_FILE_KINDS]


def diagram_names(diagram: str) -> tuple[list[str], dict[str, list[str]]]:
    """The classes of a Mermaid class diagram and the methods it gives each, in order."""
    classes: list[str] = []
    methods: dict[str, list[str]] = {}
    inside: str | None = None

    def add(cls: str, method: str | None = None) -> None:
        if cls not in classes:
            classes.append(cls)
        if method is not None and method not in methods.setdefault(cls, []):
            methods[cls].append(method)

    for line in (diagram or "").splitlines():
        stripped = line.strip()
        if inside is not None:
            if stripped.startswith("}"):
                inside = None
                continue
            match = _METHOD.match(stripped)
            if match:
                add(inside, match.group(1))
            continue
        match = _CLASS.match(stripped)
        if match:
            add(match.group(1))
            if stripped.endswith("{"):
                inside = match.group(1)
            continue
        match = _COLON_METHOD.match(stripped)
        if match:
            add(match.group(1), match.group(2))
    return classes, methods


def skeleton_document(skeleton: dict[str, str], order: list[str]) -> str:
    """The skeleton as one Markdown document, a heading and a block per file, in task order."""
    parts = []
    for path in [*order, *(p for p in skeleton if p not in order)]:
        if path in skeleton:
            parts.append(f"### `{path}`\n```python\n{skeleton[path].rstrip()}\n```\n")
    return "\n".join(parts)
