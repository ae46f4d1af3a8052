"""CLI: ``papercoder bench`` (papercoder's PaperBench Code-Dev score, with variants side by side)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("bench")(bench)


def bench(
    papers_dir: Path = typer.Argument(..., help="PaperBench's data/papers folder (<id>/paper.md, rubric.json, addendum.md, ...)."),
    out: Path = typer.Option(Path("bench-out"), "-o", "--out", help="Where runs, submissions, grades and the summary go."),
    split: Optional[str] = typer.Option(None, "--split", help="A PaperBench split by name (dev, lite, all, ...), from its experiments/splits/."),
    paper_ids: Optional[str] = typer.Option(None, "--papers", help="Paper ids, comma-separated, instead of a split."),
    splits_dir: Optional[Path] = typer.Option(None, "--splits-dir", help="Where the split lists are (default: PAPERS_DIR/../../experiments/splits)."),
    variant: Optional[list[str]] = typer.Option(None, "--variant", help='NAME="run options", repeatable, e.g. paper="--analysis-group 1 --coding sequential"; default: one variant, papercoder\'s defaults.'),
    seeds: int = typer.Option(1, "--seeds", min=1, help="Runs per paper and variant (PaperBench reports mean ± standard error over them)."),
    jobs: int = typer.Option(2, "-j", "--jobs", min=1, help="Papers at a time."),
    model: Optional[str] = typer.Option(None, "-m", "--model", help="The model that writes the code (as for run)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="An OpenAI-compatible server for the model."),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help="The grader (default: PaperBench's o3-mini where an OpenAI key reaches OpenAI, as grade)."),
    judge_base_url: Optional[str] = typer.Option(None, "--judge-base-url", help="An OpenAI-compatible server for the grader."),
    parse_model: Optional[str] = typer.Option(None, "--parse-model", help="The model that reads verdicts back (as grade)."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", min=0.0, help="USD for the whole benchmark, generation and grading; each run gets an even share."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, help="Model calls at the same time, per paper."),
    judge_eval: Optional[Path] = typer.Option(None, "--judge-eval", help="PaperBench's judge_eval folder: measure the grader's F1 on human grades too."),
    executor: str = typer.Option("local", "--executor", help="local (threads of this process) or ray (a Ray cluster, as batch)."),
    address: Optional[str] = typer.Option(None, "--address", help="With --executor ray: join this running cluster (default: start a local instance)."),
) -> None:
    """Run papercoder on PaperBench's papers, export and grade each repository (Code-Dev), and tabulate
    the scores per variant. Resumable; exits 1 unless every paper was graded."""
    from papercoder.bench.driver import BenchOptions, run_bench
    from papercoder.bench.layout import read_papers, read_split, splits_dir_for
    from papercoder.bench.variants import Variant, parse_variant
    from papercoder.errors import InputError

    if split and paper_ids:
        raise InputError("give --split or --papers, not both")
    ids = [p.strip() for p in paper_ids.split(",") if p.strip()] if paper_ids else None
    if split:
        ids = read_split(split, splits_dir or splits_dir_for(papers_dir))
    papers = read_papers(papers_dir, ids)
    variants = [parse_variant(v) for v in variant] if variant else [Variant("default", {}, "")]
    options = BenchOptions(out=out, variants=variants, seeds=seeds, jobs=jobs, model=model, base_url=base_url,
                           judge_model=judge_model, judge_base_url=judge_base_url, parse_model=parse_model,
                           max_cost=max_cost, concurrency=concurrency, executor=executor, address=address)
    for paper in papers:
        if paper.problem:
            typer.echo(f"warning: {paper.id}: {paper.problem}; skipped", err=True)
    runnable = [p for p in papers if not p.problem]
    typer.echo(f"{len(runnable)} paper(s) x {len(variants)} variant(s) x {seeds} seed(s); results in {out}")
    cost = 0.0

    def progress(record: dict, done: int, total: int) -> None:
        nonlocal cost
        cost += float(record.get("generation_cost") or 0) + float(record.get("grading_cost") or 0)
        state = "already done" if record.get("skipped") else record.get("status")
        score = f", Code-Dev {record['score'] * 100:.1f}" if isinstance(record.get("score"), (int, float)) else ""
        error = f" - {record['error']}" if record.get("error") else ""
        typer.echo(f"  [{done}/{total}] {record['key']}: {state}{score}{error} (running cost ${cost:.2f})")

    results = run_bench(papers, options, on_record=progress)
    if judge_eval is not None:
        _judge_eval_beside(results, judge_eval, papers_dir, options)
    typer.echo("")
    typer.echo((out / "summary.md").read_text(encoding="utf-8"))
    incomplete = [k for k, v in results["variants"].items() for p, row in v["papers"].items() if row["graded"] < row["runs"]]
    if incomplete or any(p.problem for p in papers):
        raise typer.Exit(1)


def _judge_eval_beside(results: dict, root: Path, papers_dir: Path, options) -> None:
    """The grader's F1 on PaperBench's human-graded cases, added to the results and the summary."""
    from papercoder.evaluate.api import JudgeOptions, run_judge_eval
    from papercoder.evaluate.report import write_json

    judge = JudgeOptions(model=options.judge_model, base_url=options.judge_base_url, max_cost=options.max_cost,
                         concurrency=options.concurrency)
    outcome, model, _ = run_judge_eval(root, papers_dir, judge=judge, parse_model=options.parse_model,
                                       out=options.out / "judge-eval")
    overall = outcome.overall.__dict__ if outcome.overall else None
    results["judge_eval"] = {"judge": model, "overall": overall}
    write_json(options.out / "results.json", results)
    f1 = f"{overall['f1']:.2f}" if overall and overall.get("f1") is not None else "n/a"
    with (options.out / "summary.md").open("a", encoding="utf-8") as handle:
        handle.write(f"\nThe grader ({model}) on PaperBench's human-graded cases: F1 {f1} "
                     "(PaperBench reports 0.83 for o3-mini at high effort).\n")
