"""Running the pipeline (and optionally eval, grade and reproduce) over many papers: ``papercoder batch``.

Layout under the batch folder ``OUT``::

    runs/<slug>/           each paper's run directory (its eval/ holds eval and grade results,
                           its reproduce/ the reproduction's)
    results/<slug>.json    one record per paper: status, cost, time, scores, reproduction, error
    summary.json, summary.md

A paper whose record says it is done, with every result the batch asks for, is skipped on
the next invocation; anything else is run again with ``resume=True``, so finished stages
and answered calls are not paid twice. Papers run as threads of this process (the default)
or as tasks of a Ray cluster (:mod:`papercoder.batch.ray`); either way each record is
written here, by this process, as its paper ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from papercoder.batch.local import run_in_threads
from papercoder.batch.papers import unique_slugs
from papercoder.batch.work import BatchOptions, is_done
from papercoder.errors import InputError
from papercoder.evaluate.report import format_table, read_json_object, write_json
from papercoder.run.runner import parse_stages

COLUMNS = ["paper", "status", "cost", "time", "eval", "grade", "reproduce"]


EXECUTORS = ("local", "ray")


def run_batch(
    papers: list[str],
    options: BatchOptions,
    *,
    on_record: Callable[[dict[str, Any]], None] = lambda record: None,
) -> list[dict[str, Any]]:
    """Process ``papers`` with at most ``options.jobs`` at a time; return one record per paper.

    Done papers are read back, not rerun. Each record is written as soon as its paper ends,
    so an interrupted batch loses at most the papers in flight.
    """
    if options.jobs < 1:
        raise InputError(f"-j {options.jobs} allows no paper at a time; give 1 or more")
    if options.stages is not None:
        options = replace(options, stages=parse_stages(options.stages))
        if "reproduce" in options.stages:
            raise InputError("batch runs reproductions with --reproduce (a task of its own, with GPUs); drop reproduce from --stages")
    if options.executor not in EXECUTORS:
        raise InputError(f"unknown --executor {options.executor!r}; choose {' or '.join(EXECUTORS)}")
    if options.executor == "ray":  # workers elsewhere see other working directories
        options = replace(options, out=options.out.resolve())
        papers = [str(Path(p).resolve()) if Path(p).exists() else p for p in papers]
    results_dir = options.out / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    slugs = unique_slugs(papers)
    records: dict[str, dict[str, Any]] = {}
    todo: list[tuple[str, str]] = []
    for paper, slug in zip(papers, slugs):
        previous = read_json_object(results_dir / f"{slug}.json")
        if is_done(previous, options):
            records[slug] = {**previous, "skipped": True}
            on_record(records[slug])
        else:
            todo.append((paper, slug))

    def finish(record: dict[str, Any]) -> None:
        write_json(results_dir / f"{record['slug']}.json", record)
        records[record["slug"]] = record
        on_record(record)

    try:
        if options.executor == "ray":
            from papercoder.batch.ray import run_on_ray  # Ray is imported only when asked for

            run_on_ray(todo, options, finish)
        else:
            run_in_threads(todo, options, finish)
    except KeyboardInterrupt:
        _write_summary(options.out, [records[s] for s in slugs if s in records])
        raise
    ordered = [records[s] for s in slugs]
    _write_summary(options.out, ordered)
    return ordered


def _write_summary(out: Path, records: list[dict[str, Any]]) -> None:
    write_json(out / "summary.json", records)
    (out / "summary.md").write_text(summary_table(records) + "\n", encoding="utf-8")


def summary_table(records: list[dict[str, Any]]) -> str:
    """The batch's table: paper, status, cost, time, eval score (1-5), grade (%)."""
    rows = []
    for r in records:
        status = r.get("status", "?") + (" (earlier)" if r.get("skipped") else "")
        grade = r.get("grade")
        rows.append({
            "paper": r.get("slug") or r.get("paper"), "status": status,
            "cost": f"${r.get('cost') or 0:.4f}", "time": f"{r.get('time') or 0:.1f}s",
            "eval": r.get("eval"), "grade": f"{grade * 100:.1f}%" if isinstance(grade, (int, float)) else None,
            "reproduce": _reproduction_cell(r.get("reproduce")),
        })
    table = format_table(rows, COLUMNS)
    errors = [f"{r.get('slug')}: {r['error']}" for r in records if r.get("error")]
    errors += [f"{r.get('slug')}: reproduce: {r['reproduce']['error']}" for r in records
               if isinstance(r.get("reproduce"), dict) and r["reproduce"].get("error")]
    return table + ("\n\nErrors:\n" + "\n".join(errors) if errors else "")


def _reproduction_cell(reproduction: Any) -> str | None:
    if not isinstance(reproduction, dict):
        return None
    if reproduction.get("error"):
        return "not run"
    if reproduction.get("ok"):
        return f"passed {reproduction.get('seconds') or 0:.0f}s"
    if reproduction.get("timed_out"):
        return "timed out"
    return f"failed (exit {reproduction.get('returncode')})"
