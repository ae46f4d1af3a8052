"""Readable summaries of evaluation results, and where results are written.

Plain text on purpose: the same lines go to the terminal and into ``summary.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from papercoder.evaluate.graded import GradeResult
from papercoder.evaluate.paper2code import EvalResult
from papercoder.repo.paths import write_atomic
from papercoder.rundir.paths import RunPaths


def results_dir(repo: Path, out: Path | None = None) -> Path:
    """Where results of judging ``repo`` go: ``out``; else the run's ``eval/`` when ``repo`` is a
    papercoder run's ``repo/`` (its parent has ``manifest.json``); else ``<repo>/.papercoder/eval``."""
    if out is not None:
        return Path(out)
    repo = Path(repo).resolve()
    if RunPaths(repo.parent).manifest.is_file():
        return RunPaths(repo.parent).eval
    return repo / ".papercoder" / "eval"


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON atomically (a reader never sees half a file)."""
    return write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def format_eval(result: EvalResult, *, critiques: int = 10) -> str:
    """Score, spread, valid samples, the top critiques by severity, what was left out, cost."""
    s = result.summary
    lines = [f"Correctness ({result.mode}, judge {result.model}, {result.samples} samples)"]
    if s.mean is None:
        lines.append(f"  score: none - no valid sample ({s.invalid} invalid)")
    else:
        lines.append(f"  score: {s.mean:.2f} / 5  (std {s.std:.2f}; {s.valid} valid, {s.invalid} invalid)")
        lines.append("  samples: " + ", ".join(f"{x:g}" for x in s.scores))
    for reason in sorted(set(s.invalid_reasons)):
        lines.append(f"  invalid: {s.invalid_reasons.count(reason)} x {reason}")
    if result.critiques:
        lines.append("Top critiques:")
        for c in result.critiques[:critiques]:
            where = c["file"] + (f" :: {c['function']}" if c["function"] else "")
            seen = f" (x{c['samples']})" if c["samples"] > 1 else ""
            lines.append(f"  [{c['severity']}] {where or '(general)'}{seen}: {_one_line(c['critique'], 160)}")
    lines.append(f"Files judged: {len(result.included)}" + (f" (+{len(result.reference_included)} of the authors' code)" if result.reference_included else ""))
    if result.omitted:
        lines.append(f"Left out for the context ({len(result.omitted)}): " + _names(result.omitted))
    if result.reference_omitted:
        lines.append(f"Authors' files left out ({len(result.reference_omitted)}): " + _names(result.reference_omitted))
    for note in result.notes:
        if "did not fit" not in note:
            lines.append(f"Note: {note}")
    if result.skipped:
        lines.append(f"Not read ({len(result.skipped)}): " + _names([f"{p} ({r})" for p, r in result.skipped.items()]))
    lines.append("Usage: " + result.usage.line())
    return "\n".join(lines)


def format_tree(result: GradeResult, *, max_depth: int | None = None, explain: bool = False) -> str:
    """The graded tree: one line per node with its score and weight, leaves marked pass/fail
    (with ``explain``, each shown leaf is followed by the judge's explanation or error)."""
    lines = []
    for node, depth, _ in result.tree.walk():
        if max_depth is not None and depth > max_depth:
            continue
        indent = "  " * depth
        score = result.scores[node.id]
        if node.is_leaf:
            g = result.grades[node.id]
            mark = "PASS" if g.score else ("FAIL" if g.valid else "INVALID")
            head = f"{indent}[{mark}] "
        else:
            head = f"{indent}{score * 100:5.1f}% "
        text = _one_line(node.requirements, max(40, 110 - len(head)))
        lines.append(f"{head}(w{node.weight:g}) {text}")
        if explain and node.is_leaf:
            g = result.grades[node.id]
            why = g.explanation if g.valid else f"invalid answer: {g.error}"
            lines.append(f"{indent}    -> {_one_line(why, 160)}")
    return "\n".join(lines)


def format_grade(result: GradeResult, *, max_depth: int | None = None, explain: bool = False) -> str:
    """The tree, then the total, the counts and the cost."""
    passed = sum(g.score for g in result.grades.values())
    kind = "Code-Dev " if result.code_dev else ""
    lines = [
        format_tree(result, max_depth=max_depth, explain=explain),
        "",
        f"{kind}score: {result.total * 100:.2f}%  ({passed}/{len(result.grades)} leaves passed, "
        f"{result.invalid} invalid answers; judge {result.model})",
    ]
    lines += [f"Note: {note}" for note in result.notes]
    lines.append("Usage: " + result.usage.line())
    return "\n".join(lines)


def format_table(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> str:
    """A plain aligned table (the batch summary)."""
    rows = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    out = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _names(names: list[str], limit: int = 12) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."
