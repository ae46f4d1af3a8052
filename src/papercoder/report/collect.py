"""Read what a run directory holds into one :class:`RunReport`, for the page to show.

Every artifact is optional: a run stopped after planning has no repository, an old run no
inventory, a run never graded no scores. What is missing is recorded as missing, never guessed;
what is damaged (unreadable JSON) is named in ``problems`` so the page can say so.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papercoder.rundir.paths import RunPaths, refuse_links
from papercoder.rundir.manifest import Manifest

MAX_FILE_BYTES = 200_000  # a generated file larger than this is listed, not shown
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
    report.plan = _read(paths.plan)
    for kind in ("class", "sequence"):
        source = _read(paths.diagrams / f"{kind}.mmd")
        if source.strip():
            report.diagrams[kind] = source
    tasks = _json(paths.tasks, report) or {}
    covers = {str(e.get("path")): [str(c) for c in e.get("covers") or []]
              for e in tasks.get("logic_analysis") or [] if isinstance(e, dict)}
    for item in _json(paths.inventory, report) or []:
        if isinstance(item, dict) and "id" in item:
            files = [path for path, ids in covers.items() if str(item["id"]).upper() in {i.upper() for i in ids}]
            report.inventory.append({**item, "files": files})
    report.files = _repo_files(paths, covers)
    _name_functions(report)
    report.debug = _json(paths.debug / "report.json", report)
    report.verify = _json(paths.verify / "report.json", report)
    report.rounds = _rounds(paths.repo, report.debug, report.verify)
    # the tree verify judged, with its grades; before verify has run, planning's checklist
    report.checklist = _checklist(paths.verify, report) or _checklist(paths.planning, report)
    for path in sorted(paths.eval.glob("*.json")) if paths.eval.is_dir() else []:
        data = _json(path, report)
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


def _json(path: Path, report: RunReport) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        report.problems.append(f"{path.relative_to(report.root)} could not be read ({exc})")
        return None


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
    for dirpath, dirnames, filenames in os.walk(repo):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not skip_dir(here / d))  # never walks into a .venv
        for file_name in sorted(filenames):
            path = here / file_name
            if path.is_symlink() or not path.is_file():
                continue
            size = path.stat().st_size
            text: str | None = None
            if size <= MAX_FILE_BYTES:
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


def _diff(repo: Path, commit: str | None) -> str:
    if not commit or not (repo / ".git").exists():
        return ""
    try:
        shown = subprocess.run(["git", "-C", str(repo), "show", "--no-color", "--format=%s%n", commit],
                               capture_output=True, text=True, timeout=30, errors="replace")
    except (OSError, subprocess.SubprocessError):
        return ""
    text = shown.stdout if shown.returncode == 0 else ""
    return text if len(text) <= MAX_DIFF_CHARS else text[:MAX_DIFF_CHARS] + "\n... (diff cut for the report)\n"


def _rounds(repo: Path, debug: dict[str, Any] | None, verify: dict[str, Any] | None) -> list[Round]:
    rounds: list[Round] = []
    for note in (debug or {}).get("notes") or []:
        applied, failed = note.get("applied") or [], note.get("failed") or []
        status = f"{len(applied)} edit(s) applied" + (f", {len(failed)} failed to apply" if failed else "")
        rounds.append(Round("debug", int(note.get("number") or 0), str(note.get("command") or ""), status,
                            error=str(note.get("run") or ""), diff=_diff(repo, note.get("commit"))))
    failing_before = [f"{f.get('id')}: {f.get('requirement')}" for f in (verify or {}).get("failing") or []]
    for item in (verify or {}).get("rounds") or []:
        applied = item.get("applied") or []
        status = (f"undone: {item['undone']}" if item.get("undone") else f"{len(applied)} edit(s) applied") + \
            f"; {len(item.get('fixed') or [])} requirement(s) now met; coverage {float(item.get('coverage') or 0):.2f}"
        rounds.append(Round("verify", int(item.get("number") or 0), f"{item.get('asked', 0)} failing requirement(s) sent",
                            status, error="\n".join(failing_before[:20]), diff=_diff(repo, item.get("commit"))))
    return rounds


def _checklist(verify_dir: Path, report: RunReport) -> dict[str, Any] | None:
    if not (verify_dir / "checklist.json").is_file():
        return None
    tree = _json(verify_dir / "checklist.json", report)
    if not isinstance(tree, dict):
        return None
    graded = sorted(verify_dir.glob("grades-*.json"), key=lambda p: int("".join(ch for ch in p.stem if ch.isdigit()) or 0))
    grades = _json(graded[-1], report) if graded else None
    grades = grades if isinstance(grades, dict) else {}

    def attach(node: dict[str, Any]) -> None:
        children = node.get("sub_tasks") or []
        if not children and node.get("id") in grades:
            node["grade"] = grades[node["id"]]
        for child in children:
            attach(child)

    attach(tree)
    return tree
