"""LaTeX sources as one text: find the main file, inline \\input/\\include, drop what TeX drops.

A paper's LaTeX source is a folder of files. The main file is the one with ``\\documentclass``
and ``\\begin{document}`` (top level first, since arXiv folders often hold a rebuttal or a
supplement below). Flattening strips comments (``\\%`` is a percent sign, not a comment),
``comment`` environments and false conditionals: ``\\iffalse``, switches declared with
``\\newif`` and set with ``\\footrue``, and ``\\if\\macro X`` where ``\\def\\macro{...}`` is known.
A conditional we cannot decide keeps both branches: more text is better than lost text.
"""

from __future__ import annotations

import re
from pathlib import Path

from papercoder.errors import InputError
from papercoder.paper.textfile import decode_text, looks_binary

MAX_DEPTH = 30
MAX_INLINED = 2000  # files inlined in all, counting repeats
MAX_INLINED_CHARS = 30_000_000
_MAIN_NAMES = ("main", "paper", "article", "ms", "manuscript")
# etoolbox/ifthen macros whose names start with "if" but take arguments and have no \fi.
_NOT_CONDITIONALS = {
    "ifthenelse", "ifdef", "ifundef", "ifcsdef", "ifcsundef", "ifdefempty", "ifbool", "iftoggle",
    "ifstrequal", "ifstrempty", "ifblank", "ifnumcomp", "ifboolexpr", "ifdefstring", "ifdefmacro",
    "ifpackageloaded", "ifclassloaded", "iffileexists",
}  # fmt: skip
_TOKEN = re.compile(
    r"\\(?:(?P<cond>if[a-zA-Z]*)|(?P<else>else)|(?P<fi>fi)|(?P<input>input|include|subfile)"
    r"|(?P<def>def|gdef|newcommand\*?|renewcommand\*?|providecommand\*?)|(?P<newif>newif)"
    r"|(?P<switch>[a-zA-Z]+)(?P<state>true|false)|(?P<let>let))(?![a-zA-Z])"
)
_BRACED_NAME = re.compile(r"\s*\{([^{}]*)\}")
_BARE_NAME = re.compile(r"[ \t]+([^\s{}\\]+)")
_DEF_BODY = re.compile(r"\s*\{?\s*\\([a-zA-Z]+)\s*\}?\s*(?:\[\d\])?\s*\{([^{}]*)\}")
_NEWIF = re.compile(r"\s*\\if([a-zA-Z]+)")
_LET = re.compile(r"\s*\\[a-zA-Z]+\s*=?\s*\\[a-zA-Z]+")
_COMMENT_ENV = re.compile(r"\\begin\{comment\}.*?\\end\{comment\}", re.DOTALL)


def braced(text: str, start: int) -> tuple[str, int]:
    """The content of the brace group opening at ``text[start] == '{'`` and the index after it."""
    depth = 0
    i = start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
        i += 1
    return text[start + 1 :], len(text)


def strip_comments(text: str) -> str:
    """Remove ``%`` comments, keeping ``\\%``; a line that is only a comment disappears."""
    out = []
    for line in text.split("\n"):
        if line.lstrip().startswith("%"):
            continue
        out.append(re.sub(r"(?<!\\)((?:\\\\)*)%.*$", r"\1", line))
    return "\n".join(out)


def is_main_file(text: str) -> bool:
    return "\\documentclass" in text and "\\begin{document}" in text


def find_main_file(folder: Path) -> Path:
    """The main ``.tex`` file of a LaTeX project folder, or an InputError."""
    return main_files(folder)[0]


def main_files(folder: Path) -> list[Path]:
    """The ``.tex`` files of a folder that could be the main one, the likeliest first (shallowest,
    named main/paper/..., with the most inputs and sections); an InputError when there is none."""
    candidates: list[tuple[int, int, int, str, Path]] = []
    for path in sorted(folder.rglob("*.tex")):
        if not path.is_file():
            continue
        try:
            text = strip_comments(path.read_bytes()[:2_000_000].decode("utf-8", "replace"))
        except OSError:
            continue
        if is_main_file(text):
            depth = len(path.relative_to(folder).parts)
            named = 0 if path.stem.lower() in _MAIN_NAMES else 1
            size = -len(re.findall(r"\\(?:input|include|section)\b", text))
            candidates.append((depth, named, size, str(path), path))
    if not candidates:
        raise InputError(
            f"no main .tex file in {folder} (none has both \\documentclass and \\begin{{document}}); "
            "give the main file's path instead."
        )
    return [entry[-1] for entry in sorted(candidates)]


class _Frame:
    """One open conditional: its value (None = unknown) and whether we are past its \\else."""

    def __init__(self, value: bool | None, outer_active: bool) -> None:
        self.value = value
        self.outer_active = outer_active
        self.in_else = False

    @property
    def active(self) -> bool:
        if not self.outer_active:
            return False
        if self.value is None:
            return True
        return self.value != self.in_else


class Flattener:
    """Inline a LaTeX project into one string, collecting warnings for what is missing."""

    def __init__(self, root: Path, warnings: list[str], *, evaluate: bool = True) -> None:
        self.root = root  # nothing outside it is read
        self.base: Path | None = None  # the main file's folder: where TeX resolves \\input
        self.warnings = warnings
        self.evaluate = evaluate
        self.macros: dict[str, str] = {}
        self.switches: dict[str, bool] = {}
        self.unbalanced = False

    def flatten(self, main: Path) -> str:
        self.base = main.resolve().parent
        return self._file(main, [])

    def _read(self, path: Path) -> str:
        data = path.read_bytes()
        if looks_binary(data):
            raise InputError(f"{path} is named .tex but contains binary data; check the LaTeX source.")
        return decode_text(data, path.name, self.warnings)

    def _resolve(self, name: str, including: Path) -> Path | None:
        name = name.strip().strip('"')
        for base in (self.base or self.root, including.parent):
            for candidate in (base / name, base / f"{name}.tex"):
                if candidate.is_file():
                    return candidate.resolve()
        return None

    def _file(self, path: Path, stack: list[Path]) -> str:
        path = path.resolve()
        self.inlined = getattr(self, "inlined", 0) + 1
        if self.inlined > MAX_INLINED:
            raise InputError(
                f"the LaTeX source inlines more than {MAX_INLINED} files through \\input and \\include "
                f"(at {path.name}); a paper needs far fewer: check the source for an \\input tree that repeats"
            )
        if path in stack:
            chain = " -> ".join(p.name for p in [*stack, path])
            raise InputError(f"\\input cycle in the LaTeX source: {chain}; remove the loop and try again.")
        if len(stack) >= MAX_DEPTH:
            raise InputError(f"\\input nesting deeper than {MAX_DEPTH} files at {path.name}; check the source.")
        raw = self._read(path)
        self.read_chars = getattr(self, "read_chars", 0) + len(raw)
        if self.read_chars > MAX_INLINED_CHARS:
            raise InputError(
                f"the LaTeX source grows past {MAX_INLINED_CHARS // 1_000_000} million characters as its \\input "
                f"files are inlined (at {path.name}); check the source for files included many times"
            )
        text = _COMMENT_ENV.sub("", strip_comments(raw))
        text = re.split(r"\\endinput(?![a-zA-Z])", text, maxsplit=1)[0]  # TeX stops reading the file here
        if stack and "\\begin{document}" in text:  # a \subfile: a document of its own; keep its body
            text = text.split("\\begin{document}", 1)[1].split("\\end{document}", 1)[0]
        return self._expand(text, path, [*stack, path])

    def _condition(self, name: str, rest: str) -> tuple[bool | None, int]:
        """Value of ``\\<name>`` followed by ``rest``, and how many characters of ``rest`` it used."""
        if not self.evaluate:
            return (False if name == "iffalse" else None), 0
        if name == "iffalse":
            return False, 0
        if name == "iftrue":
            return True, 0
        if name[2:] in self.switches:
            return self.switches[name[2:]], 0
        if name == "if":
            match = re.match(r"\s*(\\[a-zA-Z]+|\S)\s*(\\[a-zA-Z]+|\S)", rest)
            if match:
                left, right = (self._first_char(t) for t in match.groups())
                if left is not None and right is not None:
                    return left == right, match.end()
        return None, 0

    def _first_char(self, token: str) -> str | None:
        if not token.startswith("\\"):
            return token
        value = self.macros.get(token[1:])
        return value.strip()[:1] if value is not None else None

    def _expand(self, text: str, path: Path, stack: list[Path]) -> str:
        out: list[str] = []
        frames: list[_Frame] = []
        pos = 0
        for match in _TOKEN.finditer(text):
            if match.start() < pos:
                continue
            active = frames[-1].active if frames else True
            if active:
                out.append(text[pos : match.start()])
            pos = match.end()
            kind = match.lastgroup if match.lastgroup != "state" else "switch"
            if kind == "cond":
                name = match.group("cond")
                if name in _NOT_CONDITIONALS:
                    if active:
                        out.append(match.group(0))
                    continue
                value, used = self._condition(name, text[pos:])
                pos += used
                frames.append(_Frame(value, active))  # undecided (None): both branches are kept
            elif kind == "else":
                if frames:
                    frames[-1].in_else = True
                elif active:
                    out.append(match.group(0))
            elif kind == "fi":
                if frames:
                    frames.pop()
                else:
                    self.unbalanced = True
            elif kind == "input":
                name = _BRACED_NAME.match(text, pos) or _BARE_NAME.match(text, pos)
                if not name:
                    if active:
                        out.append(match.group(0))
                    continue
                pos = name.end()
                if active:
                    out.append(self._include(name.group(1), path, stack))
            elif kind == "def":
                body = _DEF_BODY.match(text, pos)
                if body and active:
                    self.macros[body.group(1)] = body.group(2)
                if active:
                    out.append(match.group(0))
            elif kind == "newif":
                declared = _NEWIF.match(text, pos)
                if declared:
                    pos = declared.end()
                    if active:
                        self.switches.setdefault(declared.group(1), False)
            elif kind == "let":
                target = _LET.match(text, pos)  # \let\ifx\iffalse and friends: not a conditional
                if target:
                    pos = target.end()
            elif kind == "switch":
                name = match.group("switch")
                if name in self.switches and active:
                    self.switches[name] = match.group("state") == "true"
                elif active:
                    out.append(match.group(0))
        if not frames or frames[-1].active:
            out.append(text[pos:])
        if frames:
            self.unbalanced = True
        return "".join(out)

    def _include(self, name: str, including: Path, stack: list[Path]) -> str:
        resolved = self._resolve(name, including)
        if resolved is not None and not resolved.is_relative_to(self.root.resolve()):
            # A source (perhaps from an archive) must not pull private files into the model's input.
            self.warnings.append(
                f"{name} is \\input by {including.name} but lies outside the paper's folder; skipped it"
            )
            return ""
        if resolved is None:
            self.warnings.append(
                f"{name} is \\input by {including.name} but was not found; continuing without it"
            )
            return ""
        return self._file(resolved, stack)


def flatten_project(main: Path, warnings: list[str], *, root: Path | None = None) -> str:
    """The main file with every \\input inlined and dead text removed.

    Only files inside ``root`` (default: the main file's folder) are read. When the
    conditionals do not balance (macros that play tricks with \\if), flatten again deciding
    only ``\\iffalse``: the text is then longer but nothing is lost.
    """
    top = (root or main.parent).resolve()
    attempt: list[str] = []
    flattener = Flattener(top, attempt)
    text = flattener.flatten(main)
    if flattener.unbalanced:
        attempt = []
        text = Flattener(top, attempt, evaluate=False).flatten(main)
    warnings.extend(dict.fromkeys(attempt))
    return text
