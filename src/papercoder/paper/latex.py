"""Read a LaTeX paper (a flattened source) into a :class:`Paper`.

The title comes from ``\\title``, the abstract from the ``abstract`` environment, sections from
``\\section``/``\\subsection``/``\\subsubsection`` (starred too), numbered as LaTeX would number
them (letters after ``\\appendix``). Math stays LaTeX; text markup becomes Markdown; figures and
tables leave the text and their captions are collected.
"""

from __future__ import annotations

import re
from pathlib import Path

from papercoder.paper.headings import finish_sections
from papercoder.paper.latexfloats import take_floats
from papercoder.paper.texfigures import latex_figures
from papercoder.paper.latexrefs import number_labels, resolve_refs
from papercoder.paper.model import Paper, Section
from papercoder.paper.texmacros import collect_macros, expand_macros, remove_definitions
from papercoder.paper.texsource import braced, flatten_project, main_files

_SECTIONING = re.compile(r"\\(chapter|section|subsection|subsubsection)(\*?)\s*(?:\[[^\]]*\])?\s*\{")
_LEVELS = {"chapter": 1, "section": 1, "subsection": 2, "subsubsection": 3}
_BIBLIOGRAPHY = re.compile(
    r"\\begin\{thebibliography\}.*?\\end\{thebibliography\}|\\bibliography\s*\{[^}]*\}|\\printbibliography(?:\[[^\]]*\])?",
    re.DOTALL,
)
_APPENDIX_MARK = "\x00APPENDIX\x00"
_DROP_COMMANDS = re.compile(
    r"\\(?:maketitle|medskip|smallskip|bigskip|noindent|newpage|clearpage|cleardoublepage|onecolumn|twocolumn"
    r"|vfill|hfill|centering|raggedbottom|small|footnotesize|scriptsize|tiny|normalsize|large|Large|flushbottom|tableofcontents|bibliographystyle\s*\{[^}]*\}"
    r"|label\s*\{[^}]*\}|vspace\*?\s*\{[^}]*\}|hspace\*?\s*\{[^}]*\}|linebreak|pagebreak|nobreak"
    r"|addcontentsline\s*\{[^}]*\}\s*\{[^}]*\}\s*\{[^}]*\})(?![a-zA-Z])"
)
_THEOREMS = "theorem|lemma|proposition|corollary|definition|remark|assumption|example|claim|conjecture|proof"


def _command_argument(text: str, name: str) -> str | None:
    """The first argument of the first ``\\name[...]{...}`` in ``text``."""
    match = re.search(r"\\" + name + r"\*?\s*(?:\[[^\]]*\])?\s*\{", text)
    if not match:
        return None
    return braced(text, match.end() - 1)[0]


def _replace_command(text: str, name: str, render, nargs: int = 1) -> str:
    """Replace every ``\\name[opt]{a}{b}...`` by ``render(args)``; nested braces are respected."""
    pattern = re.compile(r"\\(?:" + name + r")\*?(?![a-zA-Z])\s*(?:\[[^\]]*\]\s*)*")
    out: list[str] = []
    pos = 0
    while True:
        match = pattern.search(text, pos)
        if not match:
            break
        args: list[str] = []
        end = match.end()
        for _ in range(nargs):
            gap = re.match(r"\s*\{", text[end:])
            if not gap:
                break
            arg, end = braced(text, end + gap.end() - 1)
            args.append(arg)
        if len(args) < nargs:
            out.append(text[pos : match.end()])
            pos = match.end()
            continue
        out.append(text[pos : match.start()])
        out.append(render(args))
        pos = end
    out.append(text[pos:])
    return "".join(out)


# Front matter and layout commands with their arguments: (name, number of brace arguments).
_DROP_WITH_ARGS = (
    ("icmlsetsymbol", 2), ("icmlauthor", 2), ("icmlaffiliation", 2), ("icmlcorrespondingauthor", 2),
    ("icmlkeywords", 1), ("icmltitlerunning", 1), ("icmltitle", 1), ("printAffiliationsAndNotice", 1),
    ("setlength", 2), ("addtolength", 2), ("setcounter", 2), ("addtocounter", 2),
)  # fmt: skip
_AUTHOR_LISTS = re.compile(r"\\begin\{(icmlauthorlist|authorlist)\}.*?\\end\{\1\}", re.DOTALL)
_SKIPS = re.compile(r"\\[vh]skip\s*-?[\d.]+\s*(?:in|pt|cm|mm|em|ex)(?:\s*(?:plus|minus)\s*-?[\d.]+\s*\w\w)*")


def _front_matter_and_layout(text: str) -> str:
    """Author blocks, affiliation notices and spacing commands removed; ``\\twocolumn[...]`` unwrapped."""
    text = _AUTHOR_LISTS.sub("", text)
    for name, nargs in _DROP_WITH_ARGS:
        text = _replace_command(text, name, lambda a: "", nargs=nargs)
    text = re.sub(r"\\renewcommand\s*\{?\\arraystretch\}?\s*\{[^}]*\}", "", text)
    text = _SKIPS.sub("", text)
    return _unwrap_brackets(text, "twocolumn")


def _unwrap_brackets(text: str, name: str) -> str:
    """``\\name[content]`` replaced by its content (brackets counted, so nested ones stay)."""
    pattern = re.compile(r"\\" + name + r"\s*\[")
    while (match := pattern.search(text)) is not None:
        depth, index = 1, match.end()
        while index < len(text) and depth:
            depth += {"[": 1, "]": -1}.get(text[index], 0)
            index += 1
        if depth:
            return text  # unbalanced: leave it
        text = text[: match.start()] + text[match.end() : index - 1] + text[index:]
    return text


def clean_text(text: str) -> str:
    """LaTeX body text to readable Markdown; math is left as LaTeX."""
    text = _front_matter_and_layout(text)
    text = _DROP_COMMANDS.sub("", text)
    text = _replace_command(text, "footnote", lambda a: f" (Footnote: {a[0].strip()})")
    text = _replace_command(text, "thanks", lambda a: "")
    text = _replace_command(text, "textbf|bf", lambda a: f"**{a[0]}**")
    text = _replace_command(text, "emph|textit|textsl|it", lambda a: f"*{a[0]}*")
    text = _replace_command(text, "texttt", lambda a: f"`{a[0]}`")
    text = _replace_command(text, "textsc|textsf|textnormal", lambda a: a[0])  # \text and \mbox live in math: kept
    text = _replace_command(text, "paragraph|subparagraph", lambda a: f"**{a[0].strip()}**")
    text = _replace_command(text, "url", lambda a: a[0])
    text = _replace_command(text, "href", lambda a: f"[{a[1]}]({a[0]})", nargs=2)
    text = _replace_command(
        text, "cite[a-zA-Z]*|nocite", lambda a: "[" + ", ".join(k.strip() for k in a[0].split(",")) + "]"
    )
    text = re.sub(r"\\begin\{(" + _THEOREMS + r")\*?\}\s*(?:\[([^\]]*)\])?", _theorem_heading, text)
    text = re.sub(r"\\end\{(?:" + _THEOREMS + r")\*?\}", "", text)
    text = re.sub(r"\\begin\{(?:itemize|enumerate|description|center|flushleft|flushright|small|footnotesize)\}(?:\s*\[[^\]]*\])?", "", text)
    text = re.sub(r"\\end\{(?:itemize|enumerate|description|center|flushleft|flushright|small|footnotesize)\}", "", text)
    text = re.sub(r"^\s*\\item\s*(?:\[([^\]]*)\])?\s*", lambda m: f"- **{m.group(1)}** " if m.group(1) else "- ", text, flags=re.MULTILINE)
    text = re.sub(r"\\item\s*", "\n- ", text)
    text = text.replace("``", "\u201c").replace("''", "\u201d").replace("---", "\u2014").replace("--", "\u2013")
    text = re.sub(r"(?<!\\)~", " ", text)
    text = re.sub(r"\\([%&#$])", r"\1", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n[ \t]+", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _theorem_heading(match: re.Match) -> str:
    name = match.group(1).capitalize()
    note = f" ({match.group(2)})" if match.group(2) else ""
    return f"\n\n**{name}{note}.** " if name != "Proof" else "\n\n*Proof.* "


def _bibliography(match: re.Match, keep: bool, bbl: str | None) -> str:
    source = match.group(0)
    if not source.startswith("\\begin") and bbl:
        source = bbl
    items = re.split(r"\\bibitem\s*(?:\[[^\]]*\])?\s*\{[^}]*\}", source)[1:]
    entries = [
        re.sub(r"\s+", " ", clean_text(re.sub(r"\\newblock", " ", item.split("\\end{thebibliography}")[0])))
        for item in items
    ]
    text = "\n".join(f"- {e}" for e in entries if e) if keep else ""
    if keep and not text:
        text = "(Built by BibTeX from a .bib file; no .bbl file next to the main file, so no entries here.)"
    return f"\n\\section*{{References}}\n{text}\n"


def _letters(n: int) -> str:
    return chr(ord("A") + n - 1) if 1 <= n <= 26 else str(n)


def parse_latex(
    flat: str,
    *,
    source: str = "",
    keep_references: bool = False,
    bbl: str | None = None,
    graphics: list[tuple[str, str, list[str]]] | None = None,
) -> Paper:
    """Turn a flattened LaTeX source into a :class:`Paper`; ``graphics`` receives each figure's included files."""
    macros = collect_macros(flat)
    title = _command_argument(flat, "title") or _command_argument(flat, "icmltitle") or ""
    title = expand_macros(title, macros)
    title = re.sub(r"\s+", " ", clean_text(title.replace("\\\\", " "))).strip()
    begin = flat.find("\\begin{document}")
    end = flat.rfind("\\end{document}")
    body = flat[begin + len("\\begin{document}") if begin >= 0 else 0 : end if end > begin else len(flat)]
    body = expand_macros(remove_definitions(body), macros)
    body = _front_matter_and_layout(body)
    body = resolve_refs(body, number_labels(body))

    abstract = ""
    found = re.search(r"\\begin\{abstract\}(.*?)\\end\{abstract\}", body, re.DOTALL)
    if found:
        abstract = found.group(1)
        body = body[: found.start()] + body[found.end() :]
    else:
        command = _command_argument(body, "abstract")
        if command is not None:
            abstract = command
            body = _replace_command(body, "abstract", lambda a: "")
    body, captions = take_floats(body, clean_text, graphics)  # figures' \includegraphics name their files
    body = _replace_command(body, "includegraphics", lambda a: "", nargs=1)  # images outside a figure: nothing to say
    body = _BIBLIOGRAPHY.sub(lambda m: _bibliography(m, keep_references, bbl), body)
    body = re.sub(r"\\appendix(?![a-zA-Z])|\\begin\{appendices\}", _APPENDIX_MARK, body)
    body = body.replace("\\end{appendices}", "")

    sections: list[Section] = []
    counters = [0, 0, 0]
    appendix = False
    matches = list(_SECTIONING.finditer(body))
    appendix_at = body.find(_APPENDIX_MARK)
    preface = body[: matches[0].start()] if matches else body
    for index, match in enumerate(matches):
        name, start = braced(body, match.end() - 1)
        stop = matches[index + 1].start() if index + 1 < len(matches) else len(body)
        chunk = body[start:stop]
        if 0 <= appendix_at < match.start() and not appendix:
            appendix = True
            counters = [0, 0, 0]
        chunk = chunk.replace(_APPENDIX_MARK, "")
        level = _LEVELS[match.group(1)]
        heading = re.sub(r"\s+", " ", clean_text(name)).strip()
        if not match.group(2):
            counters[level - 1] += 1
            for deeper in range(level, 3):
                counters[deeper] = 0
            parts = [(_letters(counters[0]) if appendix else str(counters[0]))]
            parts += [str(k) for k in counters[1:level]]
            heading = f"{'.'.join(parts)} {heading}"
        sections.append(Section(heading=heading, text=clean_text(chunk), level=level, appendix=appendix))
    preface_text = clean_text(preface.replace(_APPENDIX_MARK, ""))
    if preface_text and not abstract.strip():
        abstract = preface_text
    elif preface_text:
        sections.insert(0, Section("Front matter", preface_text))
    return Paper(
        title=title or (Path(source).stem if source else "Untitled"),
        abstract=clean_text(abstract),
        sections=finish_sections(sections, keep_references=keep_references),
        captions=captions,
        source=source,
        source_format="latex",
    )


def read_latex(path: Path, *, keep_references: bool = False) -> Paper:
    """Read a ``.tex`` file or a LaTeX project folder into a :class:`Paper`."""
    warnings: list[str] = []
    if path.is_dir():
        mains = main_files(path)
        main = mains[0]
        if len(mains) > 1:
            others = ", ".join(str(p.relative_to(path)) for p in mains[1:])
            warnings.append(
                f"{path} holds several main .tex files: read {main.relative_to(path)}; {others} also "
                "could be; to read another, give its path"
            )
    else:
        main = path
    flat = flatten_project(main, warnings, root=path if path.is_dir() else main.parent)
    bbl_path = main.with_suffix(".bbl")
    bbl = bbl_path.read_text("utf-8", "replace") if keep_references and bbl_path.is_file() else None
    graphics: list[tuple[str, str, list[str]]] = []
    paper = parse_latex(flat, source=str(path), keep_references=keep_references, bbl=bbl, graphics=graphics)
    paper.figures = latex_figures(graphics, flat, path if path.is_dir() else main.parent, warnings)
    paper.warnings.extend(warnings)
    return paper
