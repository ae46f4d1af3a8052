"""Which papers a batch runs: a folder of papers or a CSV of paths, and a run name for each."""

from __future__ import annotations

import csv
from pathlib import Path

from papercoder.errors import InputError
from papercoder.run import paper_slug

PAPER_SUFFIXES = (".pdf", ".tex", ".md", ".markdown", ".json", ".txt", ".tar.gz", ".tgz")


def discover_papers(source: str | Path) -> list[str]:
    """The papers of a folder (files of paper formats and LaTeX source folders) or of a CSV.

    A CSV takes the column named ``paper`` or ``path``, else its first column; relative
    paths are read relative to the CSV. A folder's README files are not papers.
    """
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        return _papers_from_csv(source)
    if not source.is_dir():
        raise InputError(f"{source} is neither a folder of papers nor a .csv of paths; give one of those")
    papers = []
    for entry in sorted(source.iterdir()):
        name = entry.name.lower()
        if name.startswith(".") or name.startswith("readme"):
            continue
        if entry.is_file() and name.endswith(PAPER_SUFFIXES):
            papers.append(str(entry))
        elif entry.is_dir() and any(entry.glob("*.tex")):
            papers.append(str(entry))
    if not papers:
        raise InputError(f"{source} holds no papers (PDF, LaTeX, Markdown, JSON, text); give a folder with papers")
    return papers


def _papers_from_csv(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.reader(handle) if r and any(c.strip() for c in r)]
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text; save the CSV as UTF-8 with one paper path per row") from None
    except csv.Error as exc:
        raise InputError(f"{path} is not a readable CSV ({exc}); give one paper path per row") from None
    if not rows:
        raise InputError(f"{path} is empty; give a CSV with one paper path per row")
    header = [c.strip().lower() for c in rows[0]]
    column = next((header.index(k) for k in ("paper", "path", "source") if k in header), None)
    body = rows[1:] if column is not None else rows
    column = column or 0
    papers = []
    for row in body:
        value = row[column].strip() if column < len(row) else ""
        if not value:
            continue
        candidate = Path(value).expanduser()
        if not candidate.is_absolute() and (path.parent / candidate).exists():
            value = str(path.parent / candidate)
        papers.append(value)
    return papers


def unique_slugs(papers: list[str]) -> list[str]:
    """A directory name per paper, made unique with a numeric suffix."""
    seen: dict[str, int] = {}
    slugs = []
    for paper in papers:
        slug = paper_slug(paper)
        seen[slug] = seen.get(slug, 0) + 1
        slugs.append(slug if seen[slug] == 1 else f"{slug}-{seen[slug]}")
    return slugs
