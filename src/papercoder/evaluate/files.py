"""Which files of a repository a judge reads, and which of them fit its context.

A judge sees source and configuration, never binaries, data, virtual environments or the
git store. When everything does not fit, files are taken in order of relevance and the ones
left out are named, so a score is never silently based on half a repository.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from papercoder.errors import InputError
from papercoder.tokens import estimate_tokens

CODE_SUFFIXES = {".py", ".yaml", ".yml", ".md", ".sh", ".toml", ".cfg"}
SMALL_JSON_BYTES = 20_000  # a .json larger than this is data, not configuration
MAX_FILE_BYTES = 150_000  # a source file larger than this is generated or vendored
LOG_SUFFIXES = {".log", ".txt", ".csv"}  # outputs of a reproduction, read only for grading results
SKIP_DIRS = {
    ".git", ".hg", ".svn", "__pycache__", "node_modules", "site-packages", ".papercoder",
    "venv", ".venv", "env", ".env", ".tox", ".mypy_cache", ".pytest_cache", ".ipynb_checkpoints",
    "wandb", "mlruns", "build", "dist",
}


@dataclass
class RepoFile:
    """One readable file of a repository: its path relative to the root and its text."""

    path: str
    text: str

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text) + estimate_tokens(self.path) + 8  # plus the header around it


@dataclass
class RepoFiles:
    """The files a judge may read, and what was skipped on the way (path -> reason)."""

    root: Path
    files: list[RepoFile]
    skipped: dict[str, str] = field(default_factory=dict)


def collect_files(
    root: Path, *, include_logs: bool = False, max_file_bytes: int = MAX_FILE_BYTES
) -> RepoFiles:
    """Read the judge-worthy files under ``root`` (sorted by path).

    ``include_logs`` also admits small ``.log``/``.txt``/``.csv`` files: the outputs a
    reproduction wrote, which rubric leaves about execution and results need.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"repository {root} is not a folder; give the folder of the code to judge")
    files: list[RepoFile] = []
    skipped: dict[str, str] = {}
    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not skip_dir(here / d))
        for name in sorted(filenames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            reason = _reject(path, real_root, include_logs=include_logs, max_file_bytes=max_file_bytes)
            if reason is None:
                text, reason = _read_text(path)
                if text is not None:
                    files.append(RepoFile(rel, text))
                    continue
            if reason != "type":  # files of other types are too many to be worth listing
                skipped[rel] = reason
    files.sort(key=lambda f: f.path)
    return RepoFiles(root=root, files=files, skipped=dict(sorted(skipped.items())))


def skip_dir(path: Path) -> bool:
    """Is this folder no part of the code: version control, caches, build output, hidden folders,
    a virtual environment under any name, a link?"""
    name = path.name
    if name in SKIP_DIRS or name.startswith(".") or name.endswith(".egg-info"):
        return True
    if path.is_symlink():
        return True
    return (path / "pyvenv.cfg").exists()  # a virtual environment under another name


def _reject(path: Path, real_root: Path, *, include_logs: bool, max_file_bytes: int) -> str | None:
    name = path.name
    suffix = path.suffix.lower()
    if name.startswith("."):
        return "type"
    if path.is_symlink():
        target = path.resolve()
        if real_root not in target.parents:
            return "link outside the repository"
    allowed = suffix in CODE_SUFFIXES or (name.startswith("requirements") and suffix == ".txt")
    allowed = allowed or name in ("Dockerfile", "Makefile")
    size_cap = max_file_bytes
    if suffix == ".json":
        allowed, size_cap = True, SMALL_JSON_BYTES
    if not allowed and include_logs and suffix in LOG_SUFFIXES:
        allowed, size_cap = True, min(max_file_bytes, 50_000)
    if not allowed:
        return "type"
    try:
        size = path.stat().st_size
    except OSError:
        return "unreadable"
    if size > size_cap:
        return f"too large ({size // 1000} kB)"
    return None


def _read_text(path: Path) -> tuple[str | None, str]:
    """The file's text, or None and the reason it is not readable text."""
    try:
        data = path.read_bytes()
    except OSError:
        return None, "unreadable"
    if b"\x00" in data[:8192]:
        return None, "binary"
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError:
        return None, "not UTF-8 text"


# --- relevance --------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
STOPWORDS = frozenset(
    """the and for that this with from are was were been has have had not but all any can into its
    our their there these those which who whom what when where while will would should could each
    other than then them they such also more most some only over under same very use used using
    self none true false return import def class init pass elif else try except raise between
    paper code implemented implementation implement correctly correct""".split()
)


def terms(text: str) -> list[str]:
    """Lower-case word terms of ``text``; identifiers are split at ``_`` and camelCase."""
    out: list[str] = []
    for word in _WORD.findall(text):
        parts = _CAMEL.findall(word) if not word.islower() else [word]
        for part in {word, *parts}:
            low = part.lower()
            if len(low) >= 3 and low not in STOPWORDS:
                out.append(low)
    return out


class Ranker:
    """Lexical relevance of files to a query: idf-weighted term overlap, path terms counted twice.

    Simple on purpose: it needs no model and no download, and a requirement such as "the FID
    metric has been implemented" does find ``metrics/fid.py``.
    """

    def __init__(self, files: Iterable[RepoFile]):
        self.files = list(files)
        self._counts = [Counter(terms(f.text)) for f in self.files]
        self._path_terms = [set(terms(f.path.replace("/", " ").replace(".", " "))) for f in self.files]
        docs = Counter()
        for counts, path_terms in zip(self._counts, self._path_terms):
            docs.update(set(counts) | path_terms)
        n = max(1, len(self.files))
        self._idf = {t: math.log(1 + n / df) for t, df in docs.items()}

    def scores(self, query: str) -> list[float]:
        """One relevance score per file, in the order the files were given."""
        wanted = set(terms(query))
        result = []
        for counts, path_terms in zip(self._counts, self._path_terms):
            score = 0.0
            for term in wanted:
                idf = self._idf.get(term, 0.0)
                if term in counts:
                    score += idf * (1 + math.log(counts[term]))
                if term in path_terms:
                    score += 2 * idf
            result.append(score)
        return result

    def ranked(self, query: str) -> list[tuple[float, RepoFile]]:
        """(score, file) pairs, most relevant first; ties broken by kind (code first), then path."""
        scored = zip(self.scores(query), self.files)
        return sorted(scored, key=lambda sf: (-sf[0], kind_rank(sf[1].path), sf[1].path))

    def rank(self, query: str) -> list[RepoFile]:
        """Files, most relevant first."""
        return [f for _, f in self.ranked(query)]


def kind_rank(path: str) -> int:
    """Code before configuration before prose before outputs: the order a reader needs them in."""
    suffix = Path(path).suffix.lower()
    if suffix == ".py":
        return 0
    if suffix in (".yaml", ".yml", ".toml", ".cfg", ".json", ".sh") or Path(path).name.startswith("requirements"):
        return 1
    if suffix == ".md":
        return 2
    return 3


# --- packing ----------------------------------------------------------------------------------


@dataclass
class Packed:
    """Files chosen to fit a token budget, in the order given, and the ones left out."""

    included: list[RepoFile]
    omitted: list[RepoFile]
    budget: int

    @property
    def tokens(self) -> int:
        return sum(f.tokens for f in self.included)

    @property
    def omitted_paths(self) -> list[str]:
        return [f.path for f in self.omitted]


def pack(ordered: Iterable[RepoFile], budget: int) -> Packed:
    """Take files in the given order while they fit ``budget`` tokens; skip those that do not.

    A file that does not fit is skipped rather than ending the packing, so a smaller file
    further down the order can still use the space left.
    """
    included: list[RepoFile] = []
    omitted: list[RepoFile] = []
    used = 0
    for f in ordered:
        if used + f.tokens <= budget:
            included.append(f)
            used += f.tokens
        else:
            omitted.append(f)
    return Packed(included=included, omitted=omitted, budget=budget)


def render_files(files: Iterable[RepoFile]) -> str:
    """Files as the judge reads them: each under a header naming its path, in a fence."""
    blocks = []
    for f in files:
        fence = "````" if "```" in f.text else "```"
        lang = {".py": "python", ".yaml": "yaml", ".yml": "yaml", ".sh": "bash", ".json": "json"}.get(
            Path(f.path).suffix.lower(), ""
        )
        blocks.append(f"### File: {f.path}\n{fence}{lang}\n{f.text.rstrip()}\n{fence}")
    return "\n\n".join(blocks)
