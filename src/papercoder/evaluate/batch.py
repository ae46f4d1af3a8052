"""Running the pipeline (and optionally eval and grade) over many papers, a few at a time.

Layout under the batch folder ``OUT``::

    runs/<slug>/           each paper's run directory (its eval/ holds eval and grade results,
                           its reproduce/ the reproduction's)
    results/<slug>.json    one record per paper: status, cost, time, scores, reproduction, error
    summary.json, summary.md

A paper whose record says it is done, with every result the batch asks for, is skipped on
the next invocation; anything else is run again with ``resume=True``, so finished stages
and answered calls are not paid twice. Papers run as threads of this process (the default)
or as tasks of a Ray cluster (:mod:`papercoder.scale.ray_batch`); either way each record is
written here, by this process, as its paper ends.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from papercoder.errors import InputError, PapercoderError
from papercoder.evaluate import api
from papercoder.evaluate.report import format_table, write_json

PAPER_SUFFIXES = (".pdf", ".tex", ".md", ".markdown", ".json", ".txt", ".tar.gz", ".tgz")
COLUMNS = ["paper", "status", "cost", "time", "eval", "grade", "reproduce"]
EXECUTORS = ("local", "ray")
REPRODUCE_TIMEOUT = 36_000.0  # ten hours, as `papercoder reproduce` defaults


@dataclass
class BatchOptions:
    """What to do for every paper, and how."""

    out: Path
    jobs: int = 2
    model: str | None = None
    base_url: str | None = None
    max_cost: float | None = None  # per paper
    concurrency: int | None = None
    evaluate: bool = False
    samples: int = 8
    rubric: Path | None = None
    code_dev: bool = False
    judge_model: str | None = None  # None: PaperBench's judge where reachable, else ``model`` (batch_judge)
    stages: list[str] | None = None  # the pipeline's stages (None: the run's defaults)
    reproduce: bool = False  # run each repository's reproduce.sh after its pipeline
    reproduce_timeout: float = REPRODUCE_TIMEOUT
    gpus_per_paper: float | None = None  # Ray: GPUs per reproduction (None: 1 if the cluster has any); local: > 0 shows the GPUs
    executor: str = "local"  # "local" (threads of this process) or "ray"
    address: str | None = None  # Ray: a running cluster to join; None starts a local instance
    workers: int | None = None  # Ray: worker processes for pipelines (None: one per node, at most --jobs)


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
    from papercoder.run import paper_slug

    seen: dict[str, int] = {}
    slugs = []
    for paper in papers:
        slug = paper_slug(paper)
        seen[slug] = seen.get(slug, 0) + 1
        slugs.append(slug if seen[slug] == 1 else f"{slug}-{seen[slug]}")
    return slugs


def is_done(record: dict[str, Any] | None, options: BatchOptions) -> bool:
    """A record counts as done when the run finished and every requested result is in it."""
    if not record or record.get("status") not in ("done", "degraded") or record.get("error"):
        return False
    if record.get("stages") != options.stages:  # other stages asked for: the run resumes to add them
        return False
    if options.evaluate and record.get("eval") is None:
        return False
    if options.rubric is not None and record.get("grade") is None:
        return False
    if options.reproduce and not isinstance(record.get("reproduce"), dict):
        return False
    return True


def succeeded(record: dict[str, Any]) -> bool:
    """A paper the batch can count as a success: the run done (not degraded), no error, and a
    reproduction, when one ran, that passed."""
    reproduction = record.get("reproduce")
    return (record.get("status") == "done" and not record.get("error")
            and (not isinstance(reproduction, dict) or bool(reproduction.get("ok"))))


def new_record(paper: str, slug: str, options: BatchOptions, error: str | None = None) -> dict[str, Any]:
    """A paper's record before (or instead of) its run: failed until the run says otherwise."""
    return {"paper": paper, "slug": slug, "run_dir": str(options.out / "runs" / slug), "status": "failed",
            "cost": 0.0, "time": 0.0, "eval": None, "grade": None, "error": error, "stages": options.stages}


def batch_judge(options: BatchOptions) -> str | None:
    """The judge of --eval and --grade: --judge-model, else PaperBench's where it can be reached
    (see :func:`papercoder.evaluate.inputs.default_judge`), else the pipeline's model."""
    from papercoder.evaluate.inputs import default_judge

    return options.judge_model or default_judge(None, base_url=options.base_url)[0] or options.model


def run_one(paper: str, slug: str, options: BatchOptions) -> dict[str, Any]:
    """Run, then judge, one paper; never raises for a problem of that paper (it goes in the record)."""
    from papercoder.run import run_paper

    record = new_record(paper, slug, options)
    run_dir = Path(record["run_dir"])
    start = time.monotonic()
    judge = api.JudgeOptions(model=batch_judge(options), base_url=options.base_url,
                             max_cost=options.max_cost, concurrency=options.concurrency)
    try:
        result = run_paper(paper, out_dir=run_dir, model=options.model, base_url=options.base_url,
                           resume=True, max_cost=options.max_cost, concurrency=options.concurrency,
                           show_progress=False, stages=options.stages)
        record["status"] = str(result.status)
        record["cost"] = _cost(getattr(result, "total", None))
        repo = Path(result.repo)
        if options.evaluate:
            evaluation, path = api.run_eval(repo, paper, n=options.samples, judge=judge, out=run_dir / "eval")
            record["eval"] = evaluation.summary.mean
            record["eval_valid"] = evaluation.summary.valid
            record["cost"] += evaluation.usage.cost
            record["eval_file"] = str(path)
        if options.rubric is not None:
            # the one-call lexical judge: a third of the calls of PaperBench's protocol, over many papers
            graded, path = api.run_grade(repo, options.rubric, paper, code_dev=options.code_dev, judge=judge,
                                         out=run_dir / "eval", protocol="lexical")
            record["grade"] = graded.total
            record["cost"] += graded.usage.cost
            record["grade_file"] = str(path)
    except PapercoderError as exc:
        record["error"] = str(exc)
    except Exception as exc:  # one paper's bug must not stop the others; the record keeps it
        record["error"] = f"{type(exc).__name__}: {exc}"
    record["time"] = round(time.monotonic() - start, 2)
    if record["error"] and record["status"] in ("done", "degraded"):
        record["status"] = "eval failed"
    return record


def wants_reproduction(record: dict[str, Any], options: BatchOptions) -> bool:
    """Reproduce a paper only when asked and its run wrote a repository (done or degraded)."""
    return options.reproduce and record.get("status") in ("done", "degraded") and not record.get("error")


def reproduce_one(record: dict[str, Any], options: BatchOptions, *, gpu_ids: list[str] | None = None) -> dict[str, Any]:
    """Run one paper's reproduce.sh (``<run>/reproduce/``) and return what the record keeps of it.

    ``gpu_ids`` (Ray's assignment) are the GPUs the script sees; without them, GPUs are visible
    when ``gpus_per_paper`` asks for any. Never raises for the paper's own problem.
    """
    from papercoder.reproduce.executors import LocalExecutor
    from papercoder.reproduce.run import reproduce

    run_dir = Path(record["run_dir"])
    gpus = bool(gpu_ids) or bool(options.gpus_per_paper)
    try:
        result = reproduce(run_dir / "repo", run_dir / "reproduce", LocalExecutor(gpus=gpus, gpu_ids=gpu_ids),
                           timeout=options.reproduce_timeout)
    except PapercoderError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # a full disk, a vanished folder: this paper's problem, not the batch's
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": result.ok, "returncode": result.returncode, "seconds": result.seconds, "timed_out": result.timed_out,
            "attempts": result.attempts, "written": len(result.written), "summary": result.summary()}


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
        from papercoder.run.runner import parse_stages

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
        previous = _read(results_dir / f"{slug}.json")
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
            from papercoder.scale.ray_batch import run_on_ray

            run_on_ray(todo, options, finish)
        else:
            _run_in_threads(todo, options, finish)
    except KeyboardInterrupt:
        _write_summary(options.out, [records[s] for s in slugs if s in records])
        raise
    ordered = [records[s] for s in slugs]
    _write_summary(options.out, ordered)
    return ordered


def _run_in_threads(todo: list[tuple[str, str]], options: BatchOptions, finish: Callable[[dict[str, Any]], None]) -> None:
    """The in-process executor: ``options.jobs`` papers at a time as threads of this process."""
    def work(item: tuple[str, str]) -> dict[str, Any]:
        record = run_one(*item, options)
        if wants_reproduction(record, options):
            record["reproduce"] = reproduce_one(record, options)
        return record

    pool = ThreadPoolExecutor(max_workers=options.jobs, thread_name_prefix="paper")
    futures = [pool.submit(work, item) for item in todo]
    try:
        for future in as_completed(futures):
            finish(future.result())
    except KeyboardInterrupt:
        # No new paper starts; papers already running finish their current model call in the
        # background (a thread cannot be stopped); a running reproduce.sh is killed.
        pool.shutdown(wait=False, cancel_futures=True)
        from papercoder.reproduce.executors import stop_running

        stop_running()
        raise
    pool.shutdown()


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


def _cost(total: Any) -> float:
    cost = getattr(total, "cost", 0.0) if total is not None else 0.0
    return float(cost or 0.0)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
