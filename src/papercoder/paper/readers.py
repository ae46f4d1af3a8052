"""Choose a reader for a paper by what it is (content first, then extension) and run it.

``read_paper`` accepts a path (PDF, a .tex file, a LaTeX folder, a .tar.gz/.tgz/.zip source
archive, Markdown, s2orc JSON, plain text) or an arXiv identifier/URL. Every failure a user can
fix is an :class:`~papercoder.errors.InputError` with one sentence saying what to do.
"""

from __future__ import annotations

import re
import stat
import tempfile
from pathlib import Path

from papercoder.errors import InputError
from papercoder.paper.archive import archive_kind, extract_archive
from papercoder.paper.arxiv import fetch_arxiv, parse_arxiv_id
from papercoder.paper.latex import read_latex
from papercoder.paper.markdown import read_markdown
from papercoder.paper.model import Paper
from papercoder.paper.pdf import read_pdf
from papercoder.paper.s2orc import read_s2orc
from papercoder.paper.text import read_text
from papercoder.paper.texsource import find_main_file

SUPPORTED = ".pdf, .tex, a LaTeX folder, .tar.gz/.tgz/.zip, .md, .json (s2orc), .txt or an arXiv id"
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip", ".gz", ".src")
# The paper formats: name -> (reader, file suffixes). Adding a format: write paper/<format>.py
# with read_<format>(path, keep_references=...) -> Paper, add a row here, and teach
# detect_format its content if the suffix alone does not tell.
FORMATS = {
    "pdf": (read_pdf, (".pdf",)),
    "latex": (read_latex, (".tex", ".latex", ".ltx")),
    "markdown": (read_markdown, (".md", ".markdown", ".mmd")),
    "s2orc": (read_s2orc, (".json",)),
    "text": (read_text, (".txt", ".text")),
}
_BY_SUFFIX = {suffix: name for name, (_, suffixes) in FORMATS.items() for suffix in suffixes}


def read_paper(source: str, *, keep_references: bool = False) -> Paper:
    """Read the paper at ``source`` (a path or an arXiv id/URL) into a :class:`Paper`."""
    path = Path(source).expanduser()
    if not path.exists():
        arxiv_id = parse_arxiv_id(source)
        if arxiv_id is None:
            raise InputError(f"{source} does not exist; check the path (or give an arXiv id such as arxiv:2504.17192).")
        paper = read_path(fetch_arxiv(arxiv_id), keep_references=keep_references)
        paper.source = f"arxiv:{arxiv_id}"
        return paper
    return read_path(path, keep_references=keep_references)


MAX_PAPER_BYTES = 200 * 1024 * 1024  # a paper, even an arXiv archive with figures, is smaller


def check_regular_file(path: Path) -> None:
    """Refuse what is not a paper file: a FIFO (would block), a device (endless), anything too big."""
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}; check the path and its permissions.") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path} is not a regular file (a pipe, a device or a socket); give the paper's file.")
    if info.st_size > MAX_PAPER_BYTES:
        raise InputError(
            f"{path} is {info.st_size // (1024 * 1024)} MB, over the {MAX_PAPER_BYTES // (1024 * 1024)} MB a paper "
            "may have; give the paper itself."
        )


def detect_format(path: Path) -> str:
    """"pdf", "latex", "markdown", "s2orc", "text" or "archive" for a file, by content and extension."""
    try:
        with path.open("rb") as handle:
            head = handle.read(1024)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}; check the path and its permissions.")
    if not head.strip():
        raise InputError(f"{path} is empty; give a file that contains the paper.")
    name = path.name.lower()
    if b"%PDF-" in head[:1024] and not name.endswith((".md", ".txt", ".tex", ".json")):
        return "pdf"
    if archive_kind(path) or name.endswith(_ARCHIVE_SUFFIXES):
        return "archive"
    suffix = path.suffix.lower()
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    if suffix == "" or re.fullmatch(r"\.\d+(?:v\d+)?", suffix):  # no extension, or an arXiv id's "2504.17192"
        text = head.decode("utf-8", "replace")
        if "\\documentclass" in text or "\\begin{document}" in text or "\\section" in text:
            return "latex"
        if text.lstrip().startswith("{"):
            return "s2orc"
        return "text"
    raise InputError(f"{path.name} has an unsupported file type ({suffix}); give {SUPPORTED}.")


def read_path(path: Path, *, keep_references: bool = False) -> Paper:
    """Read a local file or folder."""
    if path.is_dir():
        return _read_folder(path, keep_references=keep_references)
    check_regular_file(path)
    kind = detect_format(path)
    if kind == "archive":
        paper = _read_archive(path, keep_references=keep_references)
    else:
        paper = FORMATS[kind][0](path, keep_references=keep_references)
    paper.source = str(path)
    if not paper.title.strip():
        paper.title = path.stem
    return paper


def _read_folder(folder: Path, *, keep_references: bool) -> Paper:
    """A LaTeX project; or a folder holding exactly one paper file."""
    if any(folder.rglob("*.tex")):
        return read_latex(folder, keep_references=keep_references)
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in (".pdf", ".md", ".json", ".txt")]
    pdfs = [p for p in files if p.suffix.lower() == ".pdf"]
    chosen = pdfs if len(pdfs) == 1 else files
    if len(chosen) == 1:
        return read_path(chosen[0], keep_references=keep_references)
    if not chosen:
        raise InputError(f"no paper in {folder}: no .tex, .pdf, .md, .json or .txt file; give the paper's file.")
    names = ", ".join(p.name for p in chosen[:5])
    raise InputError(f"{folder} holds several possible papers ({names}); give the one to read.")


def _read_archive(path: Path, *, keep_references: bool) -> Paper:
    with tempfile.TemporaryDirectory(prefix="papercoder-") as tmp:
        root = Path(tmp)
        extract_archive(path, root)
        if any(root.rglob("*.tex")):
            try:
                find_main_file(root)
            except InputError:
                raise InputError(
                    f"{path} has no main .tex file (none has \\documentclass and \\begin{{document}}); "
                    "check that it is the paper's LaTeX source."
                ) from None
            return read_latex(root, keep_references=keep_references)
        pdfs = sorted(root.rglob("*.pdf"))
        if len(pdfs) == 1:
            return read_pdf(pdfs[0], keep_references=keep_references)
        raise InputError(f"{path} has no main .tex file and no single PDF; check that it is a paper's source archive.")
