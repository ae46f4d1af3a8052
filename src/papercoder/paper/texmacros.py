"""Expand the paper's own macros (``\\newcommand{\\RR}{\\mathbb{R}}``) in its text.

A model reading ``$x \\in \\Xx$`` cannot know that ``\\Xx`` is ``\\mathcal{X}``: the definition
sits in a preamble file it never sees. Simple definitions (``\\newcommand``, ``\\renewcommand``,
``\\providecommand``, ``\\DeclareMathOperator``, ``\\def`` without parameters), with up to nine
arguments and an optional first one, are expanded; anything that looks like TeX programming
(``@`` names, nested definitions) is left alone, and so are the commands the reader itself
relies on (sections, environments, captions, citations).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from papercoder.paper.texsource import braced

_NEWCOMMAND = re.compile(
    r"\\(?:newcommand|renewcommand|providecommand|DeclareRobustCommand)\*?\s*"
    r"(?:\{\s*\\([a-zA-Z]+)\s*\}|\\([a-zA-Z]+))\s*(?:\[(\d)\])?\s*(\[[^\]]*\])?\s*\{"
)
_DEF = re.compile(r"\\g?def\s*\\([a-zA-Z]+)\s*\{")
_OPERATOR = re.compile(r"\\DeclareMathOperator(\*?)\s*(?:\{\s*\\([a-zA-Z]+)\s*\}|\\([a-zA-Z]+))\s*\{")
_PROTECTED = {
    "section", "subsection", "subsubsection", "chapter", "paragraph", "subparagraph", "part",
    "begin", "end", "item", "caption", "label", "title", "author", "input", "include", "appendix",
    "bibliography", "printbibliography", "bibitem", "ref", "eqref", "autoref", "cref", "Cref",
    "footnote", "textbf", "emph", "textit", "texttt", "url", "href", "maketitle", "abstract",
    "if", "fi", "else", "def", "newcommand", "renewcommand", "thanks",
}  # fmt: skip
MAX_GROWTH = 4  # the text may grow to this many times its size, no more


@dataclass
class Macro:
    body: str
    nargs: int = 0
    default: str | None = None  # the first argument is optional when this is set


def collect_macros(source: str) -> dict[str, Macro]:
    """The simple macro definitions in ``source``, last definition winning."""
    macros: dict[str, Macro] = {}
    for match in _NEWCOMMAND.finditer(source):
        name = match.group(1) or match.group(2)
        body, _ = braced(source, match.end() - 1)
        default = match.group(4)[1:-1] if match.group(4) else None
        _add(macros, name, Macro(body, int(match.group(3) or 0), default))
    for match in _DEF.finditer(source):
        body, _ = braced(source, match.end() - 1)
        _add(macros, match.group(1), Macro(body))
    for match in _OPERATOR.finditer(source):
        body, _ = braced(source, match.end() - 1)
        limits = "\\limits" if match.group(1) else ""
        _add(macros, match.group(2) or match.group(3), Macro(f"\\operatorname{{{body}}}{limits}"))
    return macros


def _add(macros: dict[str, Macro], name: str, macro: Macro) -> None:
    if name in _PROTECTED or name.startswith("cite") or "@" in macro.body or len(macro.body) > 400:
        return
    if re.search(r"\\(?:def|newcommand|renewcommand|let|makeatletter|csname|expandafter)\b", macro.body):
        return
    if "#" in macro.body and macro.nargs == 0:
        return
    macros[name] = macro


def remove_definitions(text: str) -> str:
    """Drop macro definitions from body text (they are expanded, not read)."""
    out: list[str] = []
    pos = 0
    matches = sorted(
        [m for p in (_NEWCOMMAND, _DEF, _OPERATOR) for m in p.finditer(text)], key=lambda m: m.start()
    )
    for match in matches:
        if match.start() < pos:
            continue
        _, end = braced(text, match.end() - 1)
        out.append(text[pos : match.start()])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def expand_macros(text: str, macros: dict[str, Macro]) -> str:
    """``text`` with every use of ``macros`` replaced by its body, nested uses too."""
    if not macros:
        return text
    pattern = re.compile(r"\\(" + "|".join(sorted(map(re.escape, macros), key=len, reverse=True)) + r")(?![a-zA-Z])")
    limit = max(len(text) * MAX_GROWTH, 10_000)
    for _ in range(6):
        expanded = _expand_once(text, macros, pattern)
        if expanded == text or len(expanded) > limit:
            break
        text = expanded
    return text


def _expand_once(text: str, macros: dict[str, Macro], pattern: re.Pattern) -> str:
    out: list[str] = []
    pos = 0
    for match in pattern.finditer(text):
        if match.start() < pos:
            continue
        macro = macros[match.group(1)]
        end = match.end()
        args: list[str] = []
        if macro.default is not None:
            optional = re.match(r"\s*\[([^\]]*)\]", text[end:])
            if optional:
                args.append(optional.group(1))
                end += optional.end()
            else:
                args.append(macro.default)
        while len(args) < macro.nargs:
            brace = re.match(r"\s*\{", text[end:])
            if brace:
                arg, end = braced(text, end + brace.end() - 1)
            else:  # TeX takes one token when there are no braces
                token = re.match(r"\s*(\\[a-zA-Z]+|\S)", text[end:])
                if not token:
                    break
                arg, end = token.group(1), end + token.end()
            args.append(arg)
        if len(args) < macro.nargs:
            continue
        body = macro.body
        for index, arg in enumerate(args, start=1):
            body = body.replace(f"#{index}", arg)
        out.append(text[pos : match.start()])
        # keep "\foo bar" from becoming "\mathbb{R}bar" glued to a following letter
        out.append(body + (" " if body[-1:].isalpha() and text[end : end + 1].isalpha() else ""))
        pos = end
    out.append(text[pos:])
    return "".join(out)
