"""Running the benchmark: every paper under every variant and seed, exported and graded, tabulated.

Layout under ``OUT``::

    <variant>/<id>/seed-<k>/run/          the run directory (resumed on a re-run)
    <variant>/<id>/seed-<k>/submission/   the repository as PaperBench's grader reads it
    <variant>/<id>/seed-<k>/grade/        the PaperBench-protocol grade (Code-Dev), its call log
    records/<variant>/<id>-<k>.json       what each took: scores, cost and time of generation and grading
    results.json, summary.md

Re-running the same command skips every record that is complete and continues the others from
their call logs. ``--max-cost`` bounds the whole benchmark: each task gets an even share, and no
task starts when the money spent plus its share would pass the bound.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from papercoder.bench.layout import BenchPaper
from papercoder.bench.variants import Variant
from papercoder.errors import InputError, PapercoderError
from papercoder.evaluate import api
from papercoder.evaluate.report import format_table, read_json_object, write_json
from papercoder.export.paperbench import export_submission
from papercoder.run import run_paper

# Published Code-Dev figures, shown as labelled references only, never mixed with measured rows.
REFERENCES = [
    ("PaperCoder (Paper2Code paper)", "44-51", "Seo et al., Paper2Code, ICLR 2026: PaperBench Code-Dev"),
    ("IterativeAgent (PaperBench paper)", "43.4", "Starace et al., PaperBench, 2025: Code-Dev"),
    ("DeepCode", "73.5 (claimed)", "the DeepCode repository's README"),
    ("PaperGuru", "66", "its authors' report"),
]


@dataclass
class BenchOptions:
    """How to run the benchmark."""

    out: Path
    variants: list[Variant]
    seeds: int = 1
    jobs: int = 2
    model: str | None = None
    base_url: str | None = None
    judge_model: str | None = None  # None: PaperBench's judge where reachable (see evaluate.inputs)
    judge_base_url: str | None = None  # an OpenAI-compatible server for the judge (default: OpenAI's)
    parse_model: str | None = None
    max_cost: float | None = None
    concurrency: int | None = None
    executor: str = "local"  # "local" (threads of this process) or "ray"
    address: str | None = None  # Ray: a running cluster to join; None starts a local instance


@dataclass
class Task:
    variant: Variant
    paper: BenchPaper
    seed: int

    @property
    def key(self) -> str:
        return f"{self.variant.name}/{self.paper.id}-{self.seed}"


def run_bench(papers: list[BenchPaper], options: BenchOptions,
              on_record: Callable[[dict[str, Any], int, int], None] = lambda record, k, n: None) -> dict[str, Any]:
    """Run every task not done yet; write the records, ``results.json`` and ``summary.md``."""
    if options.seeds < 1:
        raise InputError(f"--seeds {options.seeds} runs nothing; give 1 or more")
    if options.jobs < 1:
        raise InputError(f"-j {options.jobs} allows no paper at a time; give 1 or more")
    names = [v.name for v in options.variants]
    if len(set(names)) != len(names):
        raise InputError(f"two variants share a name ({', '.join(names)}); give each its own")
    tasks = [Task(v, p, s) for v in options.variants for p in papers for s in range(1, options.seeds + 1)]
    share = options.max_cost / max(1, len([t for t in tasks if not t.paper.problem])) if options.max_cost else None
    records: dict[str, dict[str, Any]] = {}
    todo: list[Task] = []
    for task in tasks:
        previous = read_json_object(_record_path(options.out, task))
        if previous and previous.get("complete"):
            records[task.key] = {**previous, "skipped": True}
        elif task.paper.problem:
            records[task.key] = _record(task, status="skipped", error=task.paper.problem)
        else:
            todo.append(task)
    done_count = 0
    for record in list(records.values()):
        done_count += 1
        on_record(record, done_count, len(tasks))

    def spent() -> float:
        return sum(float(r.get("generation_cost") or 0) + float(r.get("grading_cost") or 0) for r in records.values())

    def refused(task: Task) -> dict[str, Any] | None:
        """The record of a task the budget keeps from starting, or None when it may start."""
        if options.max_cost is None or spent() + (share or 0) <= options.max_cost + 1e-9:
            return None
        return _record(task, status="budget", error=f"not started: ${spent():.2f} spent, and its share of "
                                                   f"${share:.2f} would pass --max-cost ${options.max_cost:.2f}")

    def work(task: Task) -> dict[str, Any]:
        return refused(task) or run_task(task, options, share)

    def finish(record: dict[str, Any]) -> None:
        nonlocal done_count
        records[record["key"]] = record
        if record.get("status") != "budget":
            write_json(_record_path(options.out, _task_of(record, tasks)), record)
        done_count += 1
        on_record(record, done_count, len(tasks))

    if options.executor == "ray":
        _on_ray(todo, options, share, refused, finish)
    elif options.executor == "local":
        with ThreadPoolExecutor(max_workers=options.jobs, thread_name_prefix="bench") as pool:
            for future in as_completed([pool.submit(work, task) for task in todo]):
                finish(future.result())
    else:
        raise InputError(f"unknown --executor {options.executor!r}; choose local or ray")
    ordered = [records[t.key] for t in tasks if t.key in records]
    results = summarize(ordered, options)
    write_json(options.out / "results.json", results)
    (options.out / "summary.md").write_text(summary_markdown(results) + "\n", encoding="utf-8")
    return results


def run_task(task: Task, options: BenchOptions, share: float | None) -> dict[str, Any]:
    """Generate, export and grade one paper under one variant and seed; never raises for the paper."""
    base = options.out / task.variant.name / task.paper.id / f"seed-{task.seed}"
    record = _record(task, status="failed")
    variant = dict(task.variant.options)
    stages = variant.pop("stages", None)
    run_options = {"model": options.model, "base_url": options.base_url, "concurrency": options.concurrency, **variant}
    start = time.monotonic()
    try:
        result = run_paper(str(task.paper.paper), out_dir=base / "run", resume=True, addendum=task.paper.addendum,
                           stages=[stages] if stages else None, max_cost=share, show_progress=False, **run_options)
        total = result.total
        record.update(status=str(result.status), generation_cost=float(total.cost or 0), generation_cost_unknown=total.cost_unknown,
                      calls=total.calls, input_tokens=total.input_tokens, cached_input_tokens=total.cached_input_tokens,
                      output_tokens=total.output_tokens)
        record["generation_seconds"] = round(time.monotonic() - start, 2)
        submission = base / "submission"
        if submission.exists():
            shutil.rmtree(submission)  # made anew from the run's repository, so a resumed task exports what it graded
        exported = export_submission(Path(result.repo), base)
        record["export_problems"] = exported.problems
        started = time.monotonic()
        judge = api.JudgeOptions(model=options.judge_model, base_url=options.judge_base_url, max_cost=share,
                                 concurrency=options.concurrency)
        graded, path = api.run_grade(submission, task.paper.rubric, str(task.paper.paper), code_dev=True,
                                     judge=judge, out=base / "grade", protocol="paperbench",
                                     addendum=_text(task.paper.addendum), judge_addendum=task.paper.judge_addendum,
                                     parse_model=options.parse_model)
        record.update(score=graded.total, invalid_verdicts=graded.invalid, judge=graded.model, grade_file=str(path),
                      grading_cost=float(graded.usage.cost or 0), grading_cost_unknown=graded.usage.cost_unknown,
                      grading_seconds=round(time.monotonic() - started, 2), grading_calls=graded.usage.calls,
                      complete=True)
    except PapercoderError as exc:
        record["error"] = str(exc)
    except Exception as exc:  # one paper's bug must not stop the others; the record keeps it
        record["error"] = f"{type(exc).__name__}: {exc}"
    return record


def _on_ray(todo: list[Task], options: BenchOptions, share: float | None,
            refused: Callable[[Task], dict[str, Any] | None], finish: Callable[[dict[str, Any]], None]) -> None:
    """The tasks as Ray tasks (``-j`` at a time over the cluster), each retried once if its worker dies;
    the budget is checked here, before each task is sent."""
    from papercoder.batch.ray import PIPELINE_CPUS, connect, import_ray

    ray = import_ray()
    if not todo:
        return
    started = connect(options.address)
    remote = ray.remote(run_task).options(num_cpus=PIPELINE_CPUS, max_retries=1)
    queue = list(todo)
    pending: dict[Any, Task] = {}
    try:
        while queue or pending:
            while queue and len(pending) < options.jobs:
                task = queue.pop(0)
                kept_out = refused(task)
                if kept_out is not None:
                    finish(kept_out)
                    continue
                pending[remote.remote(task, options, share)] = task
            if not pending:
                break
            ready, _ = ray.wait(list(pending), num_returns=1)
            task = pending.pop(ready[0])
            try:
                finish(ray.get(ready[0]))
            except Exception as exc:  # the task failed twice on the cluster: its record says so
                finish(_record(task, status="failed", error=f"the Ray task failed: {str(exc).splitlines()[0][:300]}"))
    finally:
        if started:
            ray.shutdown()


def summarize(records: list[dict[str, Any]], options: BenchOptions) -> dict[str, Any]:
    """Per variant: per paper and overall Code-Dev mean and standard error over seeds, costs, times;
    each variant's difference from the first with its standard error; the references apart."""
    variants: dict[str, Any] = {}
    for variant in options.variants:
        mine = [r for r in records if r.get("variant") == variant.name]
        papers: dict[str, Any] = {}
        for paper_id in dict.fromkeys(r["paper"] for r in mine):
            rows = [r for r in mine if r["paper"] == paper_id]
            scores = [float(r["score"]) for r in rows if isinstance(r.get("score"), (int, float))]
            papers[paper_id] = {
                **_mean_se(scores), "runs": len(rows), "graded": len(scores),
                "status": ", ".join(sorted({str(r.get("status")) for r in rows})),
                "generation_cost": sum(float(r.get("generation_cost") or 0) for r in rows),
                "grading_cost": sum(float(r.get("grading_cost") or 0) for r in rows),
                "generation_seconds": sum(float(r.get("generation_seconds") or 0) for r in rows),
                "grading_seconds": sum(float(r.get("grading_seconds") or 0) for r in rows),
                "calls": sum(int(r.get("calls") or 0) + int(r.get("grading_calls") or 0) for r in rows),
                "input_tokens": sum(int(r.get("input_tokens") or 0) for r in rows),
                "errors": [r["error"] for r in rows if r.get("error")],
            }
        # PaperBench's way: a seed's score is the mean over the papers; the mean and its standard error run over seeds
        per_seed = []
        for seed in range(1, options.seeds + 1):
            seed_scores = [float(r["score"]) for r in mine if r.get("seed") == seed and isinstance(r.get("score"), (int, float))]
            if seed_scores and len(seed_scores) == len([p for p in papers if not _skipped(mine, p)]):
                per_seed.append(sum(seed_scores) / len(seed_scores))
        variants[variant.name] = {"options": variant.text, "papers": papers, "overall": {**_mean_se(per_seed), "seeds": len(per_seed)},
                                  "cost": sum(p["generation_cost"] + p["grading_cost"] for p in papers.values())}
    first = options.variants[0].name if options.variants else None
    for name, data in variants.items():
        if name != first and first is not None:
            a, b = variants[first]["overall"], data["overall"]
            if a["mean"] is not None and b["mean"] is not None:
                se = math.sqrt((a["se"] or 0) ** 2 + (b["se"] or 0) ** 2) if a["se"] is not None and b["se"] is not None else None
                data["difference"] = {"from": first, "mean": b["mean"] - a["mean"], "se": se}
    return {"variants": variants, "seeds": options.seeds, "judge": options.judge_model, "references": REFERENCES,
            "records": len(records)}


def summary_markdown(results: dict[str, Any]) -> str:
    """The table a user reads: measured rows per variant and paper, then the published references."""
    rows = []
    for name, data in results["variants"].items():
        for paper_id, p in data["papers"].items():
            rows.append({"variant": name, "paper": paper_id, "Code-Dev": _fmt(p["mean"], p["se"]), "status": p["status"],
                         "generation $": f"{p['generation_cost']:.2f}", "grading $": f"{p['grading_cost']:.2f}",
                         "generation s": f"{p['generation_seconds']:.0f}", "grading s": f"{p['grading_seconds']:.0f}",
                         "calls": p["calls"]})
        overall = data["overall"]
        diff = data.get("difference")
        rows.append({"variant": name, "paper": "**overall**", "Code-Dev": _fmt(overall["mean"], overall["se"]),
                     "status": f"{overall['seeds']} complete seed(s)" + (f"; vs {diff['from']}: {_fmt(diff['mean'], diff['se'], sign=True)}" if diff else ""),
                     "generation $": "", "grading $": f"{data['cost']:.2f} total", "generation s": "", "grading s": "", "calls": ""})
    table = format_table(rows, ["variant", "paper", "Code-Dev", "status", "generation $", "grading $", "generation s", "grading s", "calls"])
    references = "\n".join(f"| reference, not measured here | {who} | {score} | {source} |" for who, score, source in results["references"])
    errors = [f"- {name}/{pid}: {e}" for name, d in results["variants"].items() for pid, p in d["papers"].items() for e in p["errors"]]
    return (
        "# papercoder on PaperBench Code-Dev\n\n"
        f"Scores are PaperBench Code-Dev (0-100), mean ± standard error over seeds ({results['seeds']} asked); "
        f"judged by {results['judge'] or 'the default judge (see README)'}.\n\n" + table
        + "\n\nPublished figures, for orientation only (other judges, other settings):\n\n| | system | Code-Dev | source |\n|---|---|---|---|\n"
        + references + ("\n\nErrors:\n" + "\n".join(errors) if errors else "")
    )


def _mean_se(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "se": None}
    mean = sum(values) / len(values)
    if len(values) < 2:
        return {"mean": mean, "se": None}
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return {"mean": mean, "se": math.sqrt(variance / len(values))}


def _fmt(mean: float | None, se: float | None, *, sign: bool = False) -> str:
    if mean is None:
        return "n/a"
    text = f"{mean * 100:+.1f}" if sign else f"{mean * 100:.1f}"
    return text + (f" ± {se * 100:.1f}" if se is not None else "")


def _skipped(records: list[dict[str, Any]], paper_id: str) -> bool:
    return all(r.get("status") == "skipped" for r in records if r["paper"] == paper_id)


def _record(task: Task, **fields: Any) -> dict[str, Any]:
    return {"key": task.key, "variant": task.variant.name, "paper": task.paper.id, "seed": task.seed, "score": None,
            "generation_cost": 0.0, "grading_cost": 0.0, "error": None, **fields}


def _task_of(record: dict[str, Any], tasks: list[Task]) -> Task:
    return next(t for t in tasks if t.key == record["key"])


def _record_path(out: Path, task: Task) -> Path:
    return out / "records" / task.variant.name / f"{task.paper.id}-{task.seed}.json"


def _text(path: Path | None) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path else ""
