"""Read what a run directory holds into one :class:`RunReport`, for the page to show.

Every artifact is optional: a run stopped after planning has no repository, an old run no
inventory, a run never graded no scores. What is missing is recorded as missing, never guessed;
what is damaged (unreadable JSON) is named in ``problems`` so the page can say so.
"""

from __future__ import annotations

import json
import re
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papercoder.paper.figures import load_figures
from papercoder.rundir.paths import RunPaths, refuse_links
from papercoder.errors import InputError
from papercoder.llm.structured import too_deep
from papercoder.rubric import node_from_dict, score_tree
from papercoder.rundir.manifest import Manifest

MAX_FILE_BYTES = 200_000  # a generated file larger than this is listed, not shown
MAX_SHOWN_BYTES = 3_000_000  # code shown in the page at most, over all files: the rest is listed, not shown
MAX_FILES = 2_000  # files listed at most
MAX_JSON_DEPTH = 64  # nesting of a run directory's JSON files (a checklist has four levels)
_COMMIT = re.compile(r"[0-9a-f]{7,40}")
MAX_DIFF_CHARS = 60_000


@dataclass
class RepoFile:
    path: str
    text: str | None  # None: binary or too large to show
    size: int
    analysis: str = ""  # analysis/<path>.md
    covers: list[str] = field(default_factory=list)  # inventory IDs the plan gave this file
    findings: list[dict[str, Any]] = field(default_factory=list)  # {line, kind, message}


@dataclass
class Round:
    stage: str  # "debug" or "verify"
    number: int
    summary: str
    status: str  # what came of it ("applied 2 edits", "undone: ...")
    error: str = ""  # what made the round necessary
    diff: str = ""


@dataclass
class RunReport:
    root: Path
    manifest: Manifest
    paper_outline: list[tuple[int, str]] = field(default_factory=list)  # (level, heading)
    figures: list[Any] = field(default_factory=list)  # the paper's figures (paper/figures/), images included
    figure_warnings: list[str] = field(default_factory=list)  # figures listed but missing
    inventory: list[dict[str, Any]] = field(default_factory=list)  # {id, kind, text, files}
    diagrams: dict[str, str] = field(default_factory=dict)  # "class"/"sequence" -> Mermaid source
    plan: str = ""
    files: list[RepoFile] = field(default_factory=list)
    rounds: list[Round] = field(default_factory=list)
    debug: dict[str, Any] | None = None
    verify: dict[str, Any] | None = None
    checklist: dict[str, Any] | None = None  # the verify checklist tree, leaves with their latest grade
    scores: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (file name, grade/eval result)
    problems: list[str] = field(default_factory=list)

    @property
    def stage_rows(self) -> list[tuple[str, Any]]:
        return list(self.manifest.stages.items())  # in the run's order (the engine's stage table)


def collect(run_dir: Path) -> RunReport:
    """Everything the report shows about the run in ``run_dir`` (an InputError if it is not a run)."""
    paths = RunPaths(Path(run_dir))
    refuse_links(paths)
    report = RunReport(root=paths.root, manifest=Manifest.load(paths.manifest))
    report.paper_outline = _outline(_read(paths.paper))
    report.figures, report.figure_warnings = load_figures(paths.figures)
    report.plan = _read(paths.plan)
    for kind in ("class", "sequence"):
        source = _read(paths.diagrams / f"{kind}.mmd")
        if source.strip():
            report.diagrams[kind] = source
    tasks = _json(paths.tasks, report, dict) or {}
    covers = {str(e.get("path")): [str(c) for c in e.get("covers") or []]
              for e in tasks.get("logic_analysis") or [] if isinstance(e, dict)}
    for item in _json(paths.inventory, report, list) or []:
        if isinstance(item, dict) and "id" in item:
            files = [path for path, ids in covers.items() if str(item["id"]).upper() in {i.upper() for i in ids}]
            report.inventory.append({**item, "files": files})
    report.files = _repo_files(paths, covers)
    _name_functions(report)
    report.debug = _json(paths.debug / "report.json", report, dict)
    report.verify = _json(paths.verify / "report.json", report, dict)
    report.rounds = _rounds(paths.repo, report.debug, report.verify)
    # the tree verify judged, with its grades; before verify has run, planning's checklist
    report.checklist = _checklist(paths.verify, report) or _checklist(paths.planning, report)
    for path in sorted(paths.eval.glob("*.json")) if paths.eval.is_dir() else []:
        data = _json(path, report, dict)
        if isinstance(data, dict) and data.get("kind") in ("grade", "eval"):
            report.scores.append((path.name, data))
    return report


def _name_functions(report: RunReport) -> None:
    """Each inventory item's functions and classes in the files covering it (names sharing a word
    with the item, as the generated README lists them)."""
    from papercoder.pipeline.extras import matching_names

    texts = {f.path: f.text or "" for f in report.files}
    for item in report.inventory:
        item["names"] = [(path, name) for path in item["files"]
                         for name in matching_names(str(item.get("text", "")), texts.get(path, ""))][:8]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _json(path: Path, report: RunReport, kind: type = object) -> Any:
    """A JSON file of the run, or None with a problem noted: unreadable, nested absurdly deep, or
    not of ``kind`` (a list where an object belongs). The page is a view: it never dies on a file."""
    if not path.is_file():
        return None
    where = path.relative_to(report.root)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        if too_deep(text, limit=MAX_JSON_DEPTH):
            report.problems.append(f"{where} nests deeper than {MAX_JSON_DEPTH} levels; not shown")
            return None
        data = json.loads(text)
    except (OSError, ValueError, RecursionError) as exc:
        report.problems.append(f"{where} could not be read ({str(exc)[:200]})")
        return None
    if not isinstance(data, kind):
        report.problems.append(f"{where} holds a {type(data).__name__} where a {kind.__name__} belongs; not shown")
        return None
    return data


def number(value: Any, default: float = 0.0) -> float:
    """A finite number from a run directory's file, else ``default`` (a string, a list, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (float("inf"), float("-inf")):
        return default
    return float(value)


def _outline(paper: str) -> list[tuple[int, str]]:
    out = []
    for line in paper.splitlines():
        if line.startswith("## ") or line.startswith("### "):
            level = len(line) - len(line.lstrip("#")) - 1
            out.append((level, line.lstrip("#").strip()))
    return out


def _repo_files(paths: RunPaths, covers: dict[str, list[str]]) -> list[RepoFile]:
    repo = paths.repo
    if not repo.is_dir():
        return []
    from papercoder.evaluate.files import skip_dir

    files: list[RepoFile] = []
    shown = omitted = 0
    for dirpath, dirnames, filenames in os.walk(repo):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not skip_dir(here / d))  # never walks into a .venv
        for file_name in sorted(filenames):
            path = here / file_name
            if path.is_symlink() or not path.is_file():
                continue
            size = path.stat().st_size
            text: str | None = None
            if len(files) >= MAX_FILES:
                omitted += 1
                continue
            if size <= MAX_FILE_BYTES and shown + size <= MAX_SHOWN_BYTES:
                shown += size
                data = path.read_bytes()
                if b"\0" not in data[:4096]:
                    text = data.decode("utf-8", errors="replace")
            name = path.relative_to(repo).as_posix()
            files.append(RepoFile(name, text, size, analysis=_read(paths.analysis / f"{name}.md"), covers=covers.get(name, [])))
    files.sort(key=lambda f: f.path)
    try:
        from papercoder.repo.checks import check_repository

        by_file: dict[str, list[dict[str, Any]]] = {}
        for finding in check_repository(repo):
            by_file.setdefault(finding.file, []).append({"line": finding.line, "kind": finding.kind, "message": finding.message})
        for item in files:
            item.findings = by_file.get(item.path, [])
    except Exception:  # the checks are a view here: a repository they cannot read still gets its page
        pass
    return files


def _diff(repo: Path, commit: Any) -> str:
    """The change of ``commit``: only a commit id (hex) is ever passed to git, after --end-of-options."""
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit) or not (repo / ".git").exists():
        return ""
    try:
        shown = subprocess.run(["git", "-C", str(repo), "show", "--no-color", "--format=%s%n", "--end-of-options", commit],
                               capture_output=True, text=True, timeout=30, errors="replace")
    except (OSError, subprocess.SubprocessError):
        return ""
    text = shown.stdout if shown.returncode == 0 else ""
    return text if len(text) <= MAX_DIFF_CHARS else text[:MAX_DIFF_CHARS] + "\n... (diff cut for the report)\n"


def _rounds(repo: Path, debug: dict[str, Any] | None, verify: dict[str, Any] | None) -> list[Round]:
    rounds: list[Round] = []
    for note in _dicts((debug or {}).get("notes")):
        applied, failed = _list(note.get("applied")), _list(note.get("failed"))
        status = f"{len(applied)} edit(s) applied" + (f", {len(failed)} failed to apply" if failed else "")
        rounds.append(Round("debug", int(number(note.get("number"))), str(note.get("command") or ""), status,
                            error=str(note.get("run") or ""), diff=_diff(repo, note.get("commit"))))
    failing_before = [f"{f.get('id')}: {f.get('requirement')}" for f in _dicts((verify or {}).get("failing"))]
    for item in _dicts((verify or {}).get("rounds")):
        applied = _list(item.get("applied"))
        status = (f"undone: {item['undone']}" if item.get("undone") else f"{len(applied)} edit(s) applied") + \
            f"; {len(_list(item.get('fixed')))} requirement(s) now met; coverage {number(item.get('coverage')):.2f}"
        rounds.append(Round("verify", int(number(item.get("number"))), f"{int(number(item.get('asked')))} failing requirement(s) sent",
                            status, error="\n".join(failing_before[:20]), diff=_diff(repo, item.get("commit"))))
    return rounds


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _checklist(verify_dir: Path, report: RunReport) -> dict[str, Any] | None:
    if not (verify_dir / "checklist.json").is_file():
        return None
    tree = _json(verify_dir / "checklist.json", report, dict)
    if not isinstance(tree, dict):
        return None
    try:
        rubric = node_from_dict(tree, where=str((verify_dir / "checklist.json").relative_to(report.root)))
    except InputError as exc:  # not a rubric tree: said, not shown
        report.problems.append(str(exc))
        return None
    graded = sorted(verify_dir.glob("grades-*.json"), key=lambda p: int("".join(ch for ch in p.stem if ch.isdigit()) or 0))
    grades = _json(graded[-1], report) if graded else None
    grades = grades if isinstance(grades, dict) else {}

    def attach(node: dict[str, Any]) -> None:
        children = node.get("sub_tasks") or []
        if not children and node.get("id") in grades and isinstance(grades[node["id"]], dict):
            node["grade"] = grades[node["id"]]
        for child in children:
            attach(child)

    attach(tree)
    graded = {leaf_id: number(g.get("score")) for leaf_id, g in grades.items() if isinstance(g, dict)}
    if graded:  # every group's weighted score, as PaperBench aggregates: the parents of what was judged
        scores = score_tree(rubric, graded)

        def mark(node: dict[str, Any]) -> None:
            if node.get("sub_tasks"):
                node["score"] = scores.get(str(node.get("id")))
                for child in node["sub_tasks"]:
                    if isinstance(child, dict):
                        mark(child)

        mark(tree)
    return tree
