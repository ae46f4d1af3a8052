"""Figures, tables and algorithms of a LaTeX paper.

Figures leave the text (a model cannot see the picture) and their captions are collected.
Tables and algorithms stay where they are, as text: tables hold the hyperparameters and
results a reproduction needs, and an algorithm's steps are the method itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from papercoder.paper.texsource import braced

_FLOATS = re.compile(
    r"\\begin\{(figure|table|wrapfigure|wraptable|algorithm|algorithm2e)(\*?)\}(.*?)\\end\{\1\2\}", re.DOTALL
)
_KINDS = {
    "figure": "Figure", "wrapfigure": "Figure", "table": "Table", "wraptable": "Table",
    "algorithm": "Algorithm", "algorithm2e": "Algorithm",
}  # fmt: skip
_RULES = re.compile(
    r"\\(?:toprule|midrule|bottomrule|hline|specialrule\{[^}]*\}\{[^}]*\}\{[^}]*\}|cline\{[^}]*\}"
    r"|cmidrule(?:\([^)]*\))?\{[^}]*\}|addlinespace(?:\[[^\]]*\])?|rowcolor\{[^}]*\}|centering)"
)
_STEPS = [
    (re.compile(r"\\(?:State|STATE|Statex|STATEX)\b\s*"), "\n"),
    (re.compile(r"\\(?:Require|REQUIRE|KwIn)\b\s*"), "\nRequire: "),
    (re.compile(r"\\(?:Ensure|ENSURE|KwOut)\b\s*"), "\nEnsure: "),
    (re.compile(r"\\(?:Return|RETURN|KwRet)\b\s*"), "\nreturn "),
    (re.compile(r"\\(?:EndFor|ENDFOR|EndWhile|ENDWHILE|EndIf|ENDIF|EndFunction|EndProcedure)\b"), "\nend"),
    (re.compile(r"\\(?:Else|ELSE)\b"), "\nelse"),
]
_BLOCKS = re.compile(r"\\(For|FOR|ForAll|FORALL|While|WHILE|If|IF|ElsIf|ELSIF|Function|Procedure)\s*\{")


def _unwrap(text: str, name: str, keep: int | None, nargs: int) -> str:
    """Replace ``\\name{a}{b}{c}`` by its ``keep``-th argument (0-based), or by nothing."""
    pattern = re.compile(r"\\" + name + r"\*?(?![a-zA-Z])\s*(?:\[[^\]]*\])?")
    out, pos = [], 0
    for match in pattern.finditer(text):
        if match.start() < pos:
            continue
        args, end = [], match.end()
        while len(args) < nargs:
            gap = re.match(r"\s*\{", text[end:])
            if not gap:
                break
            arg, end = braced(text, end + gap.end() - 1)
            args.append(arg)
        if len(args) == nargs:
            out.append(text[pos : match.start()] + (args[keep] if keep is not None else ""))
            pos = end
    out.append(text[pos:])
    return "".join(out)


def tabular_text(content: str) -> str:
    """The rows of the tabulars in ``content``, one per line, cells separated by " | "."""
    for name, keep, nargs in (("resizebox", 2, 3), ("scalebox", 1, 2), ("adjustbox", 1, 2),
                              ("multicolumn", 2, 3), ("multirow", 2, 3), ("makecell", 0, 1)):  # fmt: skip
        content = _unwrap(content, name, keep, nargs)
    rows: list[str] = []
    for match in re.finditer(r"\\begin\{(tabular[x*]?|tabulary|longtable)\}(.*?)\\end\{\1\}", content, re.DOTALL):
        body = match.group(2)
        spec = re.match(r"\s*(?:\{[^{}]*\}\s*)?(?:\[[a-z]\]\s*)?\{((?:[^{}]|\{[^{}]*\})*)\}", body)
        body = body[spec.end() :] if spec else body
        body = _RULES.sub("", body)
        for row in re.split(r"\\\\(?:\[[^\]]*\])?", body):
            cells = [re.sub(r"\s+", " ", cell).strip() for cell in re.split(r"(?<!\\)&", row)]
            if any(cells):
                rows.append(" | ".join(cells))
    return "\n".join(rows)


def algorithm_text(content: str) -> str:
    """An algorithm's steps as plain lines ("for ...:", "end", "return ...")."""
    content = _unwrap(_unwrap(content, "caption", None, 1), "label", None, 1)
    content = re.sub(r"\\(?:Comment|tcp\*?)\s*\{([^{}]*)\}", r"  # \1", content)
    out, pos = [], 0
    for match in _BLOCKS.finditer(content):
        if match.start() < pos:
            continue
        argument, end = braced(content, match.end() - 1)
        out.append(content[pos : match.start()] + f"\n{match.group(1).lower()} {argument}:")
        pos = end
    out.append(content[pos:])
    content = "".join(out)
    for pattern, replacement in _STEPS:
        content = pattern.sub(replacement, content)
    content = re.sub(r"\\(?:begin|end)\{algorithmic\}(?:\[[^\]]*\])?", "", content)
    return "\n".join(line.strip() for line in content.split("\n") if line.strip())


_SUBFIGURE = re.compile(r"\\begin\{(subfigure|subtable|minipage)\}(.*?)\\end\{\1\}", re.DOTALL)


def _take_subfigures(content: str) -> tuple[str, list[str]]:
    """The float without its subfigures (so its own caption is found), and their captions in order."""
    captions: list[str] = []

    def take(match: re.Match) -> str:
        caption = _caption_of(match.group(2))
        if caption is not None:
            captions.append(caption)
        return "" if caption is not None or match.group(1) != "minipage" else match.group(0)

    content = _SUBFIGURE.sub(take, content)
    for name in ("subfloat", "subcaptionbox"):
        for found in re.finditer(r"\\" + name + r"\s*\[([^\]]*)\]" if name == "subfloat" else r"\\" + name + r"\s*\{", content):
            if name == "subfloat":
                captions.append(found.group(1))
            else:
                captions.append(braced(content, found.end() - 1)[0])
    return content, captions


def _caption_of(content: str) -> str | None:
    match = re.search(r"\\caption\*?\s*(?:\[[^\]]*\])?\s*\{", content)
    return braced(content, match.end() - 1)[0] if match else None


_GRAPHICS = re.compile(r"\\includegraphics\*?\s*(?:\[[^\]]*\]\s*)?\{([^}]*)\}")


def graphics_names(content: str) -> list[str]:
    """The files ``\\includegraphics`` names in a float, in order (as written: maybe without extension)."""
    return [name.strip() for name in _GRAPHICS.findall(content) if name.strip()]


def take_floats(
    body: str, clean: Callable[[str], str], graphics: list[tuple[str, str, list[str]]] | None = None
) -> tuple[str, list[str]]:
    """Remove figures, render tables and algorithms in place; return the text and the captions.

    ``graphics``, when given, receives each numbered figure's (label, caption, included files).
    """
    captions: list[str] = []
    counts: dict[str, int] = {}

    def render(match: re.Match) -> str:
        kind = _KINDS[match.group(1)]
        content = re.sub(r"^\s*\[[^\]]*\]", "", match.group(3))  # the placement, "[t]"
        content, subcaptions = _take_subfigures(content)
        caption = _caption_of(content)
        if subcaptions:
            parts = [f"({chr(ord('a') + k)}) {clean(sub).strip()}" for k, sub in enumerate(subcaptions)]
            caption = ((caption or "").strip() + " " + " ".join(parts)).strip()
        label = ""
        if caption is not None:
            counts[kind] = counts.get(kind, 0) + 1
            label = f"{kind} {counts[kind]}: {clean(caption)}"
            captions.append(label)
        if graphics is not None and label and graphics_names(match.group(3)):
            # a figure's files; a table or an algorithm set as a picture too (its text is in no source)
            graphics.append((f"{kind} {counts[kind]}", label, graphics_names(match.group(3))))
        if kind == "Figure":
            return ""
        inner = tabular_text(content) if kind == "Table" else algorithm_text(content)
        heading = f"**{label}**" if label else f"**{kind}**"
        return f"\n\n{heading}\n\n{clean(inner)}\n\n" if inner.strip() else (f"\n\n{heading}\n\n" if label else "")

    return _FLOATS.sub(render, body), captions
