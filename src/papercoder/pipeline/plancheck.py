"""Consistency checks of the planning answers, and the deterministic fallbacks behind them.

Each review returns the answer fixed as well as it can be done without a model, the problems
written for the model (sent back in one repair turn), and the fallbacks a note should record if
the fixed answer is used. Planning asks for a repair when there are problems and, if the
repaired answer still has some, uses the fixed one: a usable plan even from a model that
answers nonsense (a tiny local model with schema-constrained decoding does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Generic, TypeVar

from papercoder.pipeline.codeblocks import extract_code, fenced_blocks, find_cycles
from papercoder.pipeline.inventory import Item, uncovered
from papercoder.pipeline.schemas import Design, FileLogic, LogicDesign, TaskPlan
from papercoder.repo.paths import UnsafePathError, safe_relpath
from papercoder.mermaid import DiagramError, check_diagram

T = TypeVar("T")

MAX_FILES = 40
MAX_PROBLEMS_SHOWN = 12
DEFAULT_ENTRY = "main.py"
# Files papercoder writes itself after coding; a plan listing them would be overwritten.
RESERVED = frozenset({"config.yaml", "requirements.txt", "readme.md", "reproduce.sh", "smoke.sh"})
ENTRY_NAMES = ("main.py", "run.py", "train.py", "__main__.py", "run_experiment.py", "experiment.py")
TEXT_SUFFIXES = frozenset(
    {".py", ".yaml", ".yml", ".json", ".txt", ".md", ".sh", ".cfg", ".toml", ".ini", ".csv", ".jsonl"}
)
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_PY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./\-]*\.py\b")


@dataclass
class Review(Generic[T]):
    """A checked answer: the fixed value, problems for a repair turn, fallbacks for the log."""

    value: T
    problems: list[str] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)  # the plan lost or guessed something: degraded
    fixes: list[str] = field(default_factory=list)  # tidied with nothing lost: a note is enough

    def problem_text(self) -> str:
        """The problems as a bulleted list for the model, capped so a nonsense answer stays short."""
        shown = [f"- {p}" for p in self.problems[:MAX_PROBLEMS_SHOWN]]
        if len(self.problems) > MAX_PROBLEMS_SHOWN:
            shown.append(f"- ... and {len(self.problems) - MAX_PROBLEMS_SHOWN} more problems of the same kind")
        return "\n".join(shown)


def clean_name(name: str) -> tuple[str | None, str]:
    """A model-proposed file name as a safe relative path, or ``None`` and why it is unusable."""
    shown = repr(str(name)[:80])  # repr: a name with a newline must not break the one-line note
    try:
        rel = safe_relpath(str(name))
    except UnsafePathError:
        return None, f"{shown} is not a safe relative path (no absolute paths, no '..')"
    parts = rel.split("/")
    if len(rel) > 120 or len(parts) > 5 or not all(_PART.match(p) for p in parts):
        return None, f"{shown} is not a usable file name (use letters, digits, '_', '-', '.', '/')"
    if PurePosixPath(rel).suffix.lower() not in TEXT_SUFFIXES:
        return None, f"{shown} is not a source file name with a usual extension such as .py"
    return rel, ""


def review_design(design: Design) -> Review[Design]:
    """Check the file list (safe, usable, not empty) and the entry point; fix what fails."""
    review: Review[Design] = Review(value=design)
    files: list[str] = []
    for name in design.file_list:
        rel, why = clean_name(name)
        if rel is None:
            review.problems.append(why)
            review.fallbacks.append(f"dropped {str(name)[:80]!r} from the file list: {why}")
        elif rel.lower() in RESERVED:
            review.fixes.append(f"dropped {rel} from the file list: papercoder writes it itself")
        elif rel not in files:
            files.append(rel)
    # a file cannot also be a folder: keep the file, drop what would lie inside it
    for name in [f for f in files if any(f.startswith(other + "/") for other in files)]:
        files.remove(name)
        review.problems.append(f"'{name}' lies inside a path that is also planned as a file")
        review.fallbacks.append(f"dropped {name} from the file list: a file of the list is its folder")
    if len(files) > MAX_FILES:
        review.problems.append(f"file_list has {len(files)} files; plan at most {MAX_FILES}")
        review.fallbacks.append(f"kept the first {MAX_FILES} of {len(files)} planned files")
        files = files[:MAX_FILES]
    if not files:
        review.problems.append("file_list names no usable source file; list the Python files to write, e.g. main.py")
        review.fallbacks.append(f"the file list named no usable file: fell back to a one-file plan ({DEFAULT_ENTRY})")
    entry = _choose_entry(design.entry_point, files, review)
    if entry not in files:
        files.append(entry)
    class_diagram = normalise_diagram(design.class_diagram, "classDiagram")
    sequence_diagram = normalise_diagram(design.sequence_diagram, "sequenceDiagram")
    for kind, text in (("class", class_diagram), ("sequence", sequence_diagram)):
        if len(text.strip().splitlines()) <= 1:
            review.fallbacks.append(f"the design has no usable {kind} diagram; an empty one was saved")
            continue
        try:
            check_diagram(text)
        except DiagramError as exc:
            review.problems.append(
                f"the {kind} diagram does not parse ({exc}); write it in plain Mermaid {kind} diagram syntax"
            )
            review.fixes.append(f"the {kind} diagram does not parse ({exc}): reports show its source")
    review.value = design.model_copy(
        update={
            "file_list": files,
            "entry_point": entry,
            "class_diagram": class_diagram,
            "sequence_diagram": sequence_diagram,
            "implementation_approach": design.implementation_approach.strip(),
            "unclear_points": [p.strip() for p in design.unclear_points if p.strip()],
        }
    )
    return review


def _choose_entry(proposed: str, files: list[str], review: Review[Design]) -> str:
    if not files:  # the one-file fallback plan is its own entry point
        return DEFAULT_ENTRY
    rel, _ = clean_name(proposed) if proposed.strip() else (None, "")
    if rel in files and rel.endswith(".py"):
        return rel
    conventional = sorted(
        (f for f in files if PurePosixPath(f).name in ENTRY_NAMES),
        key=lambda f: (f.count("/"), ENTRY_NAMES.index(PurePosixPath(f).name)),
    )
    if conventional:
        if proposed.strip() and proposed.strip() != DEFAULT_ENTRY:
            review.problems.append(f"entry_point '{proposed}' is not a Python file of file_list")
            review.fixes.append(f"took {conventional[0]} as the entry point instead of {proposed!r}")
        return conventional[0]
    if rel is not None and rel.endswith(".py"):
        review.problems.append(f"entry_point '{rel}' is not in file_list; add it or name a listed file")
        review.fixes.append(f"added the entry point {rel} to the file list")
        return rel
    review.problems.append("there is no entry point: entry_point must name a file of file_list that runs the experiment")
    review.fallbacks.append(f"added the entry point {DEFAULT_ENTRY} to the file list")
    return DEFAULT_ENTRY


def normalise_diagram(text: str, kind: str) -> str:
    """Mermaid source without code fences, starting with its diagram keyword."""
    body = extract_code(text, "diagram.mmd") if fenced_blocks(text) else text
    body = body.strip()
    if not body.startswith(kind):
        body = f"{kind}\n{body}" if body else kind
    return body + "\n"


def salvage_design(text: str) -> Design:
    """A design from an answer that is not valid JSON: the Python file names it mentions."""
    names: list[str] = []
    for name in _PY_NAME.findall(text or ""):
        if name not in names:
            names.append(name)
    return Design(implementation_approach="", file_list=names, class_diagram="", sequence_diagram="")


def review_logic(logic: LogicDesign, design: Design, inventory: list[Item] | None = None) -> Review[TaskPlan]:
    """Check the logic design against the (already reviewed) design; fix what fails.

    The task list must name exactly the planned files; every dependency must be a planned file;
    dependencies must not form a cycle. Fallbacks: the task list keeps the model's order for
    the files it got right and appends the missing ones in file-list order; unknown names and
    dependencies are dropped; a cycle keeps only dependencies on files earlier in the task list.
    """
    files = list(design.file_list)
    known = set(files)
    review: Review[TaskPlan] = Review(value=None)  # type: ignore[arg-type]
    tasks = _review_task_list(logic.task_list, known, review)
    missing = [f for f in files if f not in tasks]
    if missing:
        review.problems.append("task_list lacks these files of the file list: " + ", ".join(missing))
        review.fallbacks.append("appended to the task list, in file-list order: " + ", ".join(missing))
        tasks += missing
    entries = _review_entries(logic.logic_analysis, known, review)
    lacking = [f for f in tasks if f not in entries]
    if lacking:
        review.problems.append("logic_analysis has no entry for: " + ", ".join(lacking))
        review.fixes.append("no logic analysis for " + ", ".join(lacking) + " (the analysis stage writes one)")
    deps = {f: list(entries[f].depends_on) if f in entries else [] for f in tasks}
    position = {f: i for i, f in enumerate(tasks)}
    for group in find_cycles(tasks, deps):
        cycle = " -> ".join(group + [group[0]])
        review.problems.append(
            f"dependency cycle: {cycle}; a file may only depend on files written before it"
        )
        review.fallbacks.append(f"broke the dependency cycle {cycle} by keeping only dependencies on earlier tasks")
        members = set(group)
        for f in group:
            deps[f] = [d for d in deps[f] if d not in members or position[d] < position[f]]
    _review_dependencies(tasks, deps, design.entry_point, review)
    review.value = TaskPlan(
        required_packages=clean_packages(logic.required_packages),
        logic_analysis=[
            FileLogic(
                path=f,
                analysis=entries[f].analysis if f in entries else "",
                depends_on=deps[f],
                covers=_clean_ids(entries[f].covers) if f in entries else [],
            )
            for f in tasks
        ],
        task_list=tasks,
        shared_knowledge=logic.shared_knowledge.strip(),
        unclear_points=[p.strip() for p in logic.unclear_points if p.strip()],
        entry_point=design.entry_point,
    )
    if inventory:
        missing_items = uncovered(inventory, review.value, design.unclear_points + review.value.unclear_points)
        if missing_items:
            ids = ", ".join(item.id for item in missing_items)
            review.problems.append(
                f"no file covers these inventory items, and no unclear point says why: {ids}; add each ID to the "
                "covers of the file that implements it, or explain in unclear_points why it is left out"
            )
            review.fallbacks.append(f"inventory items that no file covers: {ids}")
    return review


def _clean_ids(ids: list[str]) -> list[str]:
    """Inventory IDs as the plan writes them (``e1``, ``[E1]``, ``E-1`` -> ``E1``), each once."""
    cleaned: list[str] = []
    for raw in ids:
        match = re.match(r"^\W*([A-Za-z]{1,2})\W?(\d{1,3})\b", str(raw))
        ident = f"{match.group(1).upper()}{int(match.group(2))}" if match else str(raw).strip()
        if ident and ident not in cleaned:
            cleaned.append(ident)
    return cleaned


def _review_dependencies(tasks: list[str], deps: dict[str, list[str]], entry: str, review: Review[TaskPlan]) -> None:
    """Every file must see the interfaces it uses, so a plan of several files where nothing
    depends on anything (every file written blind) or whose entry point uses no other file is
    sent back; the fallback makes the entry point depend on every other Python file."""
    python = [f for f in tasks if f.endswith(".py")]
    if len(python) < 2 or entry not in deps:
        return
    others = [f for f in python if f != entry]
    if not any(deps.values()):
        review.problems.append(
            "no file lists any depends_on, so every file would be written without the interfaces of the files it "
            "uses; list in depends_on every planned file that each file imports or calls"
        )
    elif not deps[entry]:
        review.problems.append(
            f"the entry point {entry} depends on no file; list in its depends_on every planned file it imports or runs"
        )
    else:
        return
    deps[entry] = [f for f in others if f not in deps[entry]] + deps[entry]
    for f in others:  # nothing may depend on the entry point now, or it would be a cycle
        deps[f] = [d for d in deps[f] if d != entry]
    # the entry point now comes after everything it depends on
    if entry in tasks and tasks.index(entry) != len(tasks) - 1:
        tasks.remove(entry)
        tasks.append(entry)
    review.fallbacks.append(f"the plan gave {entry} no dependencies; made it depend on every other Python file")


def _review_task_list(names: list[str], known: set[str], review: Review[TaskPlan]) -> list[str]:
    tasks: list[str] = []
    for name in names:
        rel, why = clean_name(name)
        if rel is None:
            review.problems.append(f"task_list: {why}")
            review.fallbacks.append(f"dropped {str(name)[:80]!r} from the task list: {why}")
        elif rel not in known:
            review.problems.append(f"task_list names '{rel}', which is not in the file list")
            review.fallbacks.append(f"dropped {rel} from the task list: it is not in the file list")
        elif rel not in tasks:
            tasks.append(rel)
    return tasks


def _review_entries(items: list[FileLogic], known: set[str], review: Review[TaskPlan]) -> dict[str, FileLogic]:
    entries: dict[str, FileLogic] = {}
    for item in items:
        rel, why = clean_name(item.path)
        if rel is None or rel not in known:
            reason = why or f"'{rel}' is not in the file list"
            review.problems.append(f"logic_analysis entry: {reason}")
            review.fallbacks.append(f"dropped the logic analysis of {str(item.path)[:80]!r}: {reason}")
            continue
        if rel in entries:
            continue
        deps: list[str] = []
        for dep in item.depends_on:
            dep_rel, _ = clean_name(dep)
            if dep_rel is None or dep_rel not in known:
                review.problems.append(f"'{rel}' depends on '{dep}', which is not in the file list")
                review.fallbacks.append(f"dropped the dependency of {rel} on {str(dep)[:80]!r}: not a planned file")
            elif dep_rel != rel and dep_rel not in deps:
                deps.append(dep_rel)
        entries[rel] = FileLogic(path=rel, analysis=item.analysis.strip(), depends_on=deps, covers=list(item.covers))
    return entries


_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*(\[[A-Za-z0-9_,\-]+\])?\s*([<>=!~]=?\s*[A-Za-z0-9.*+!\-]+\s*,?\s*)*$")


def clean_packages(packages: list[str]) -> list[str]:
    """Planned packages as requirement lines: stripped, valid, first mention of each name kept."""
    seen: set[str] = set()
    cleaned: list[str] = []
    for raw in packages:
        text = str(raw).strip().strip("`'\"").strip()
        if text.lower().startswith("pip install "):
            text = text[len("pip install ") :].strip()
        if not text or not _REQUIREMENT.match(text):
            continue
        name = re.split(r"[\[<>=!~\s]", text, maxsplit=1)[0].lower().replace("_", "-")
        if name not in seen:
            seen.add(name)
            cleaned.append(text)
    return cleaned
