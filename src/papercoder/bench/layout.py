"""PaperBench's data layout: ``papers/<id>/`` with the paper, its addendum, rubric and judge addendum.

Each paper folder holds ``paper.md`` (and ``paper.pdf``), ``addendum.md``, ``rubric.json``,
``judge.addendum.md``, ``blacklist.txt`` and ``config.yaml`` (``id`` and ``title``). Splits are
``experiments/splits/<name>.txt`` beside ``data/``: one paper id a line. A folder that lacks what
the benchmark needs is kept as a paper with a problem, so one bad paper never stops the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from papercoder.errors import InputError
from papercoder.repo.yamlread import load_yaml
from papercoder.rubric import load_rubric


@dataclass
class BenchPaper:
    """One paper of the benchmark, or why it cannot be run."""

    id: str
    folder: Path
    paper: Path | None = None
    addendum: Path | None = None
    rubric: Path | None = None
    judge_addendum: str = ""
    blacklist: list[str] | None = None
    title: str = ""
    leaves: int = 0  # Code Development requirements of its rubric
    problem: str = ""  # what is wrong with the folder ("" when it can be run)


def splits_dir_for(papers_dir: Path) -> Path:
    """Where PaperBench keeps its splits, relative to ``data/papers``."""
    return papers_dir.resolve().parent.parent / "experiments" / "splits"


def read_split(name: str, splits_dir: Path) -> list[str]:
    """The paper ids of split ``name`` (``dev``, ``lite``, ``all``, ...)."""
    path = splits_dir / f"{name}.txt"
    if not path.is_file():
        known = sorted(p.stem for p in splits_dir.glob("*.txt")) if splits_dir.is_dir() else []
        raise InputError(
            f"no split {name!r}: {path} does not exist" + (f" (there: {', '.join(known)})" if known else "")
            + "; give --splits-dir, or name the papers with --papers id,id"
        )
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]


def read_papers(papers_dir: Path, ids: list[str] | None = None) -> list[BenchPaper]:
    """The papers of ``papers_dir`` (those of ``ids``, in that order, when given)."""
    papers_dir = Path(papers_dir)
    if not papers_dir.is_dir():
        raise InputError(f"{papers_dir} is not a folder; give PaperBench's data/papers folder")
    folders = sorted(p for p in papers_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if ids is None:
        ids = [f.name for f in folders if (f / "rubric.json").exists() or (f / "paper.md").exists() or (f / "paper.pdf").exists()]
        if not ids:
            raise InputError(f"{papers_dir} holds no PaperBench paper folders (<id>/paper.md and rubric.json); "
                             "give PaperBench's data/papers folder")
    return [read_paper_folder(papers_dir / paper_id, paper_id) for paper_id in ids]


def read_paper_folder(folder: Path, paper_id: str) -> BenchPaper:
    """One paper folder, checked: a problem says what is missing and what to do."""
    paper = BenchPaper(id=paper_id, folder=folder)
    if not folder.is_dir():
        paper.problem = f"no folder {folder}; check the paper id"
        return paper
    for name in ("paper.md", "paper.pdf"):
        if (folder / name).is_file() and (folder / name).stat().st_size > 0:
            paper.paper = folder / name
            break
    if paper.paper is None:
        paper.problem = f"{folder} has no paper.md or paper.pdf (with Git LFS, run `git lfs pull`)"
        return paper
    if (folder / "paper.md").is_file() and len((folder / "paper.md").read_text(errors="replace").splitlines()) <= 5:
        paper.problem = f"{folder / 'paper.md'} is a Git LFS pointer, not the paper; run `git lfs pull`"
        return paper
    rubric = folder / "rubric.json"
    if not rubric.is_file():
        paper.problem = f"{folder} has no rubric.json; PaperBench grades against it"
        return paper
    try:
        tree = load_rubric(rubric)
    except InputError as exc:
        paper.problem = f"its rubric does not parse: {exc}"
        return paper
    paper.rubric = rubric
    paper.leaves = sum(1 for leaf in tree.leaves() if leaf.task_category == "Code Development")
    if (folder / "addendum.md").is_file():
        paper.addendum = folder / "addendum.md"
    if (folder / "judge.addendum.md").is_file():
        paper.judge_addendum = (folder / "judge.addendum.md").read_text(encoding="utf-8", errors="replace")
    if (folder / "blacklist.txt").is_file():
        paper.blacklist = [line.strip() for line in (folder / "blacklist.txt").read_text(errors="replace").splitlines() if line.strip()]
    paper.title = _title(folder / "config.yaml") or paper_id
    return paper


def _title(config: Path) -> str:
    if not config.is_file():
        return ""
    try:
        data = load_yaml(config.read_text(encoding="utf-8", errors="replace"))
    except Exception:  # a title is a convenience; a damaged config.yaml does not stop the paper
        return ""
    return str(data.get("title") or "").strip() if isinstance(data, dict) else ""
