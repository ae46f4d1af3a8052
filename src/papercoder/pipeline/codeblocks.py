"""Code handling shared by the coding stage: fenced blocks, interfaces, dependency layers.

Models wrap code in Markdown fences, add prose around it, nest fences inside Markdown files and
stop mid-block when they hit their output limit; :func:`extract_code` copes with all of that.
:func:`extract_interface` gives the signatures and docstrings of a Python file (what another
file needs to call it) without its bodies. :func:`dependency_layers` orders files so that each
layer depends only on earlier ones.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from papercoder import pysource

# A fence glued to the end of a line of text: "Here it is: ```python", or "print(x)```".
# Small models write both; the fence goes on a line of its own.
_GLUED_FENCE = re.compile(r"^(.*[^`\s])[ \t]*(```[\w+.-]*)[ \t]*$", re.MULTILINE)
_FENCE_OPEN = re.compile(r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\s`]*)[^`]*$")

# Fence languages that mean "this is a file of that kind"
_LANGUAGES: dict[str, tuple[str, ...]] = {
    ".py": ("python", "py", "python3"),
    ".sh": ("bash", "sh", "shell", "zsh"),
    ".yaml": ("yaml", "yml"),
    ".yml": ("yaml", "yml"),
    ".json": ("json",),
    ".md": ("markdown", "md"),
    ".toml": ("toml",),
    ".txt": ("text", "txt", "plaintext"),
}


@dataclass(frozen=True)
class FencedBlock:
    """One fenced block of a Markdown answer: its info string (language), body, and whether it closed."""

    language: str
    body: str
    closed: bool


def fenced_blocks(text: str) -> list[FencedBlock]:
    """All top-level fenced blocks of ``text``, in order.

    A fence closes on a line of the same character at least as long as the opening one. Inside
    a ``markdown`` block, fences that open with a language are nested and closed in pairs, so a
    README with code examples inside stays one block. An unclosed last block (a truncated
    answer) is returned with ``closed=False``.
    """
    lines = _GLUED_FENCE.sub(r"\1\n\2", text).splitlines(keepends=True)
    blocks: list[FencedBlock] = []
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i].rstrip("\r\n"))
        if not match:
            i += 1
            continue
        fence, language = match["fence"], match["info"].lower()
        nests = language in ("markdown", "md")
        depth = 0
        body: list[str] = []
        closed = False
        j = i + 1
        while j < len(lines):
            stripped = lines[j].strip()
            if closes_fence(stripped, fence):
                if depth == 0:
                    closed = True
                    break
                depth -= 1
            elif nests:
                inner = _FENCE_OPEN.match(lines[j].rstrip("\r\n"))
                # only an inner fence that could close ours needs pairing
                if inner and inner["info"] and inner["fence"][0] == fence[0] and len(inner["fence"]) >= len(fence):
                    depth += 1
            body.append(lines[j])
            j += 1
        blocks.append(FencedBlock(language, "".join(body), closed))
        i = j + 1
    return blocks


def closes_fence(line: str, fence: str) -> bool:
    """Whether ``line`` closes a block opened with ``fence``: only its character, at least as many."""
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def extract_code(text: str, filename: str = "") -> str:
    """The file content in a model's answer: the best fenced block, or the whole answer.

    Prefers blocks whose language matches the file's extension, then the longest block (the
    code, rather than a short usage example after it). Always ends with one newline.
    """
    found = fenced_blocks(text)
    blocks = [b for b in found if b.body.strip()]
    if not blocks:
        before = _before_lone_closing_fence(text)
        if before is not None:  # the model closed a fence it never opened: the code is above it
            return _with_newline(before.strip("\n"))
        # no fence: the answer is the file; only empty fences: the file is empty
        return "" if found else _with_newline(text.strip("\n"))
    wanted = _LANGUAGES.get(PurePosixPath(filename).suffix.lower(), ())
    matching = [b for b in blocks if b.language in wanted]
    pool = matching or blocks
    best = max(pool, key=lambda b: len(b.body))  # max keeps the first of equals: deterministic
    return _with_newline(best.body.rstrip())


def _before_lone_closing_fence(text: str) -> str | None:
    """The text above a bare fence that is the answer's only fence and its last line, else None."""
    lines = _GLUED_FENCE.sub(r"\1\n\2", text).rstrip().splitlines()
    fences = [i for i, line in enumerate(lines) if _FENCE_OPEN.match(line)]
    if len(fences) != 1 or fences[0] != len(lines) - 1 or lines[-1].strip().strip("`~"):
        return None
    before = "\n".join(lines[:-1])
    return before if before.strip() else None


def has_open_fence(text: str) -> bool:
    """True when ``text`` ends inside a fenced block (e.g. an answer cut at its output limit)."""
    blocks = fenced_blocks(text)
    return bool(blocks) and not blocks[-1].closed


def join_continuation(partial: str, continuation: str) -> str:
    """Join a truncated answer and the model's continuation of it into one answer.

    The continuation may reopen the code fence, or restart the line that was cut; both are
    undone so the result reads as if the model had never stopped.
    """
    cont = continuation
    if has_open_fence(partial):
        lines = cont.splitlines(keepends=True)
        first = next((k for k, line in enumerate(lines) if line.strip()), None)
        if first is not None:
            match = _FENCE_OPEN.match(lines[first].rstrip("\r\n"))
            rest = "".join(lines[first + 1 :])
            # a fence with a language reopens the block; a bare fence only when code follows it
            if match and (match["info"] or _FENCE_OPEN.sub("", rest).strip("`~ \r\n")):
                cont = rest
    cut_line = partial.rsplit("\n", 1)[-1]
    restarted = cont.lstrip("\r\n")
    if cut_line.strip() and restarted.lstrip().startswith(cut_line.strip()):
        indent = cut_line[: len(cut_line) - len(cut_line.lstrip())]
        return partial[: len(partial) - len(cut_line)] + indent + restarted.lstrip(" \t")
    return partial + cont


def _with_newline(text: str) -> str:
    return text + "\n" if text else ""


# --- interfaces -------------------------------------------------------------------------------

_DOC_LIMIT = 400


def extract_interface(source: str) -> str:
    """Signatures, docstrings and public constants of a Python file; bodies become ``...``.

    What another file needs in order to call this one, at a fraction of its size. Falls back
    to the ``def``/``class`` lines when the file does not parse.
    """
    try:
        tree = pysource.parse(source)
    except SyntaxError:
        return _interface_by_lines(source)
    parts: list[str] = []
    doc = ast.get_docstring(tree)
    if doc:
        parts.append(_module_docstring(doc))
    for node in tree.body:
        rendered = _interface_of(node)
        if rendered:
            parts.append(rendered)
    return "\n\n".join(parts) + ("\n" if parts else "")


def _interface_of(node: ast.stmt) -> str:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return ast.unparse(_stub_function(node))
    if isinstance(node, ast.ClassDef):
        return ast.unparse(_stub_class(node))
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and _is_public_constant(node):
        text = ast.unparse(node)
        return text if len(text) <= 200 else text[:197] + "..."
    return ""


def _stub_function(node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.stmt:
    stub = copy.copy(node)
    stub.body = _doc_body(node) + [ast.Expr(ast.Constant(...))]
    return stub


def _stub_class(node: ast.ClassDef) -> ast.ClassDef:
    stub = copy.copy(node)
    body: list[ast.stmt] = _doc_body(node)
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if not item.name.startswith("_") or item.name in ("__init__", "__call__"):
                body.append(_stub_function(item))
        elif isinstance(item, ast.AnnAssign) or (isinstance(item, ast.Assign) and _is_public_constant(item)):
            body.append(item)
    stub.body = body or [ast.Expr(ast.Constant(...))]
    return stub


def _doc_body(node: ast.AST) -> list[ast.stmt]:
    doc = ast.get_docstring(node)  # type: ignore[arg-type]
    if not doc:
        return []
    if len(doc) > _DOC_LIMIT:
        doc = doc[:_DOC_LIMIT].rstrip() + " ..."
    return [ast.Expr(ast.Constant(doc))]


def _module_docstring(doc: str) -> str:
    if len(doc) > _DOC_LIMIT:
        doc = doc[:_DOC_LIMIT].rstrip() + " ..."
    return ast.unparse(ast.Module(body=[ast.Expr(ast.Constant(doc))], type_ignores=[]))


def _is_public_constant(node: ast.Assign | ast.AnnAssign) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names = [t.id for t in targets if isinstance(t, ast.Name)]
    return bool(names) and all(n.isupper() or (n[:1].isupper() and not n.startswith("_")) for n in names)


_DEF_LINE = re.compile(r"^\s*(async\s+def|def|class)\s+\w+")


def _interface_by_lines(source: str) -> str:
    lines = [line.rstrip() for line in source.splitlines() if _DEF_LINE.match(line)]
    return "\n".join(lines) + ("\n" if lines else "")


def imported_top_level(source: str) -> list[str]:
    """Top-level names of absolute imports in ``source`` (``torch`` for ``import torch.nn``)."""
    try:
        tree = pysource.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            candidates = [node.module]
        else:
            continue
        for name in candidates:
            top = name.split(".")[0]
            if top and top not in names:
                names.append(top)
    return names


# --- dependency graph -------------------------------------------------------------------------


def find_cycles(order: list[str], deps: dict[str, list[str]]) -> list[list[str]]:
    """Groups of files that depend on each other in a cycle (strongly connected components).

    Each group lists its files in ``order``; groups come in the order of their first file.
    Self-dependencies count as cycles of one file.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    known = set(order)

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in deps.get(node, []):
            if dep not in known:
                continue
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in deps.get(node, []):
                groups.append(group)

    for node in order:
        if node not in index:
            visit(node)
    position = {name: i for i, name in enumerate(order)}
    groups = [sorted(g, key=position.__getitem__) for g in groups]
    return sorted(groups, key=lambda g: position[g[0]])


def dependency_layers(order: list[str], deps: dict[str, list[str]]) -> list[list[str]]:
    """Split ``order`` into layers: each file depends only on files of earlier layers.

    Within a layer files keep their place in ``order``. Dependencies on files outside ``order``
    are ignored. Raises ``ValueError`` on a cycle (the planning stage removes cycles).
    """
    known = set(order)
    done: set[str] = set()
    remaining = list(order)
    layers: list[list[str]] = []
    while remaining:
        layer = [f for f in remaining if all(d in done for d in deps.get(f, []) if d in known)]
        if not layer:
            raise ValueError("dependency cycle among: " + ", ".join(remaining))
        layers.append(layer)
        done.update(layer)
        remaining = [f for f in remaining if f not in done]
    return layers

