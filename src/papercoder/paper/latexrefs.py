"""Cross-references in LaTeX: ``\\ref``, ``\\eqref``, ``\\cref``, ``\\autoref`` as the numbers LaTeX prints.

Papers refer to their own sections, figures, tables and equations by label (41 to 128 times in a
typical paper); left raw, ``Table~\\ref{tab:hparams}`` tells the model nothing. The labels are
numbered by walking the body once in order, as LaTeX counts: sections (letters after
``\\appendix``), floats by kind at their caption, numbered equations (each row of an ``align``
unless ``\\nonumber``), and theorem-like environments. A label this walk cannot place keeps its
name in brackets, which says more than LaTeX's ``??``.
"""

from __future__ import annotations

import re

_SECTION = re.compile(r"\\(section|subsection|subsubsection)(\*?)\s*(?:\[[^\]]*\])?\s*\{")
_LEVEL = {"section": 0, "subsection": 1, "subsubsection": 2}
_APPENDIX = re.compile(r"\\appendix(?![a-zA-Z])|\\begin\{appendices\}")
_FLOAT = re.compile(r"\\begin\{(figure|table|algorithm)\*?\}(.*?)\\end\{\1\*?\}", re.DOTALL)
_FLOAT_KIND = {"figure": "Figure", "table": "Table", "algorithm": "Algorithm"}
_EQUATION = re.compile(r"\\begin\{(equation|align|gather|multline|eqnarray)(\*?)\}(.*?)\\end\{\1\*?\}", re.DOTALL)
_THEOREM = re.compile(
    r"\\begin\{(theorem|lemma|proposition|corollary|definition|remark|assumption|example|claim|conjecture)\}(.*?)\\end\{\1\}",
    re.DOTALL,
)
_LABEL = re.compile(r"\\label\s*\{([^}]*)\}")
_REF = re.compile(r"\\(ref|eqref|cref|Cref|autoref|Autoref|vref|Vref|cpageref|pageref|nameref)\*?\s*\{([^}]*)\}")


def number_labels(body: str) -> dict[str, tuple[str, str]]:
    """``{label: (kind, number)}``, e.g. ``{"sec:method": ("Section", "2"), "eq:loss": ("Equation", "3")}``."""
    events: list[tuple[int, str, object]] = []
    appendix = _APPENDIX.search(body)
    for match in _SECTION.finditer(body):
        events.append((match.start(), "section", match))
    for match in _FLOAT.finditer(body):
        events.append((match.start(), "float", match))
    for match in _EQUATION.finditer(body):
        events.append((match.start(), "equation", match))
    for match in _THEOREM.finditer(body):
        events.append((match.start(), "theorem", match))
    events.sort(key=lambda event: event[0])

    labels: dict[str, tuple[str, str]] = {}
    sections = [0, 0, 0]
    floats: dict[str, int] = {}
    theorems: dict[str, int] = {}
    equations = 0
    in_appendix = False
    numbered: list[tuple[int, str, str]] = []  # (position, kind, number) of each numbered section
    covered = 0  # the end of the last float or equation: labels inside it are its own
    for start, kind, match in events:
        assert isinstance(match, re.Match)
        if kind == "section":
            if appendix is not None and start > appendix.start() and not in_appendix:
                in_appendix, sections = True, [0, 0, 0]
            if match.group(2):  # \section*: unnumbered
                continue
            level = _LEVEL[match.group(1)]
            sections[level] += 1
            for deeper in range(level + 1, 3):
                sections[deeper] = 0
            first = chr(ord("A") + sections[0] - 1) if in_appendix and 1 <= sections[0] <= 26 else str(sections[0])
            number = ".".join([first, *(str(k) for k in sections[1 : level + 1])])
            name = "Appendix" if in_appendix and level == 0 else "Section"
            numbered.append((start, name, number))
            end = _after_braces(body, match.end() - 1)
            label = _LABEL.match(body, end) or _LABEL.search(body, match.end(), end)  # after or inside the title
            if label:
                labels.setdefault(label.group(1).strip(), (name, number))
        elif start < covered:
            continue
        elif kind == "float":
            content = match.group(2)
            float_kind = _FLOAT_KIND[match.group(1)]
            caption = content.find("\\caption")
            if caption >= 0:
                floats[float_kind] = floats.get(float_kind, 0) + 1
                for label in _LABEL.finditer(content, caption):
                    labels.setdefault(label.group(1).strip(), (float_kind, str(floats[float_kind])))
                    break
            covered = match.end()
        elif kind == "equation":
            covered = match.end()
            if match.group(2):
                continue
            rows = re.split(r"\\\\", match.group(3)) if match.group(1) in ("align", "gather", "eqnarray") else [match.group(3)]
            for row in rows:
                if not row.strip() or re.search(r"\\(?:nonumber|notag)(?![a-zA-Z])", row):
                    continue
                equations += 1
                for label in _LABEL.finditer(row):
                    labels.setdefault(label.group(1).strip(), ("Equation", str(equations)))
        elif kind == "theorem":
            name = match.group(1).capitalize()
            theorems[name] = theorems.get(name, 0) + 1
            label = _LABEL.search(match.group(2))
            if label:
                labels.setdefault(label.group(1).strip(), (name, str(theorems[name])))
    # any other label (after a \paragraph, in running text) takes the number of its section, as in LaTeX
    for label in _LABEL.finditer(body):
        key = label.group(1).strip()
        before = [entry for entry in numbered if entry[0] < label.start()]
        if key not in labels and before:
            labels[key] = (before[-1][1], before[-1][2])
    return labels


def _after_braces(text: str, open_brace: int) -> int:
    """The position after the brace group opening at ``open_brace``, and any spaces after it."""
    depth = 0
    for index in range(open_brace, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                end = index + 1
                while end < len(text) and text[end] in " \t\n":
                    end += 1
                return end
    return len(text)


def resolve_refs(body: str, labels: dict[str, tuple[str, str]]) -> str:
    """Every reference command replaced by what LaTeX (with cleveref, hyperref) would print."""

    def one(command: str, key: str) -> str:
        found = labels.get(key.strip())
        if found is None:
            return f"[{key.strip()}]"
        kind, number = found
        if command == "eqref":
            return f"({number})"
        if command in ("cref", "Cref", "autoref", "Autoref", "vref", "Vref"):
            return f"Eq. ({number})" if kind == "Equation" else f"{kind} {number}"
        if command == "nameref":
            return f"{kind} {number}"
        return number

    def replace(match: re.Match) -> str:
        command = match.group(1)
        if command in ("pageref", "cpageref"):
            return ""
        keys = [k for k in match.group(2).split(",") if k.strip()]
        shown = [one(command, k) for k in keys]
        return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]

    return _REF.sub(replace, body)
