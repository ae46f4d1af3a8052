"""The files of the generated repository that need no model: requirements, scripts, README.

All deterministic, from the plan and the generated code, so they cost nothing and a rerun
writes the same bytes.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import PurePosixPath

from papercoder import pysource
from papercoder.pipeline.codeblocks import imported_top_level
from papercoder.pipeline.inventory import Item, files_covering
from papercoder.pipeline.plancheck import clean_packages
from papercoder.pipeline.schemas import Design, TaskPlan
from papercoder.prompts import render
from papercoder.mermaid import DiagramError, check_diagram
from papercoder.repo.importmap import IMPORT_TO_DISTRIBUTION, distribution_for

_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__"}
# Namespace packages whose pip name cannot be told from the import: left to the planned list.
_AMBIGUOUS = frozenset({"google", "azure", "mpl_toolkits"})


def _key(name: str) -> str:
    return re.split(r"[\[<>=!~\s;]", name, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def requirements_text(planned: list[str], sources: dict[str, str]) -> str:
    """``requirements.txt``: the planned packages, then third-party imports the plan missed.

    Import names are mapped to pip names (``sklearn`` -> ``scikit-learn``); standard-library
    modules and the repository's own modules are left out.
    """
    local = local_modules(list(sources))
    lines: list[str] = []
    seen: set[str] = set()

    def add(requirement: str) -> None:
        key = _key(requirement)
        if key and key not in seen:
            seen.add(key)
            lines.append(requirement)

    for requirement in clean_packages(planned):
        name = re.split(r"[\[<>=!~\s;]", requirement, maxsplit=1)[0]
        if name in _STDLIB or name in local:
            continue
        add(distribution_for(name) if name == requirement and name in IMPORT_TO_DISTRIBUTION else requirement)
    imported: set[str] = set()
    for path in sorted(sources):
        if path.endswith(".py"):
            imported.update(imported_top_level(sources[path]))
    for module in sorted(imported):
        if module not in _STDLIB and module not in local and module not in _AMBIGUOUS:
            add(distribution_for(module))  # the one import-to-distribution table (repo/importmap.py)
    return "".join(f"{line}\n" for line in lines)


def local_modules(paths: list[str]) -> set[str]:
    """Names the repository's own files can be imported as (every directory and file stem)."""
    names: set[str] = set()
    for path in paths:
        for part in PurePosixPath(path).with_suffix("").parts:
            names.add(part)
    return names


def readme_text(
    title: str,
    design: Design,
    tasks: TaskPlan,
    model: str = "",
    inventory: list[Item] | tuple[Item, ...] = (),
    sources: dict[str, str] | None = None,
) -> str:
    """The README of the generated repository: what it is, where each item of the paper is
    implemented (file and functions), what is not implemented and why, its files, how to run it."""
    files = [{"path": item.path, "summary": _first_sentence(item.analysis)} for item in tasks.logic_analysis]
    unclear = list(dict.fromkeys(design.unclear_points + tasks.unclear_points))
    mapped, missing = [], []
    for item in inventory:
        where = files_covering(item, tasks)
        if where:
            names = [name for path in where for name in matching_names(item.text, (sources or {}).get(path, ""))]
            mapped.append({"id": item.id, "text": item.text, "files": where, "names": names[:6]})
        else:
            reason = next((p for p in unclear if re.search(rf"\b{item.id}\b", p)), "no file of the plan covers it")
            missing.append({"id": item.id, "text": item.text, "reason": reason})
    diagrams = []
    for name, source in (("Classes", design.class_diagram), ("Calls", design.sequence_diagram)):
        try:
            check_diagram(source)
        except DiagramError:  # GitHub would show an error box: leave a broken diagram out
            continue
        diagrams.append((name, source.strip()))
    return render(
        "coding/repo_readme",
        title=title,
        model=model,
        approach=design.implementation_approach.strip(),
        diagrams=diagrams,
        files=files,
        entry_point=tasks.entry_point,
        unclear=unclear,
        mapped=mapped,
        missing=missing,
    )


def matching_names(text: str, source: str) -> list[str]:
    """Top-level functions and classes (and methods) of ``source`` whose name shares a word with ``text``."""
    try:
        tree = pysource.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return []
    words = {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}
    found: list[str] = []
    for node in tree.body:
        candidates = [node] + (list(node.body) if isinstance(node, ast.ClassDef) else [])
        for item in candidates:
            if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or item.name.startswith("_"):
                continue
            parts = {p for p in re.split(r"_|(?<=[a-z0-9])(?=[A-Z])", item.name) if p}
            if words & {p.lower() for p in parts}:
                name = f"{node.name}.{item.name}" if item is not node else item.name
                if name not in found:
                    found.append(name)
    return found


def _first_sentence(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    match = re.match(r"(.+?[.!?])(\s|$)", flat)
    sentence = match.group(1) if match else flat
    return sentence if len(sentence) <= limit else sentence[: limit - 3].rstrip() + "..."


def reproduce_script(entry_point: str) -> str:
    """``reproduce.sh``: the entry point with the paper's config."""
    return render("coding/reproduce_sh", entry_point=entry_point)


def smoke_script(entry_point: str) -> str:
    """``smoke.sh``: the entry point in smoke mode (tiny synthetic data, CPU, under a minute)."""
    return render("coding/smoke_sh", entry_point=entry_point)
