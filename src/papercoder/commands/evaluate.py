"""``papercoder eval`` (1-5 correctness judge), ``grade`` (PaperBench rubric) and ``batch``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

MODEL_HELP = ("Judge model (default: judge_model from the config file, else openai:o3-mini when OPENAI_API_KEY is set "
              "and no other server is named, the judge of PaperBench and of the paper; else the model a run would use).")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("eval")(eval_command)
    app.command("grade")(grade_command)
    app.command("batch")(batch_command)


def eval_command(
    repo: Path = typer.Argument(..., help="The repository folder to judge (a run's repo/ or any folder)."),
    paper: str = typer.Option(..., "--paper", "-p", help="The paper the repository reproduces (any format papercoder reads)."),
    gold: Optional[Path] = typer.Option(None, "--gold", help="The authors' code: judge against it (reference-based)."),
    samples: int = typer.Option(8, "-n", "--samples", min=1, help="Judge samples to average."),
    model: Optional[str] = typer.Option(None, "-m", "--model", help=MODEL_HELP),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="An OpenAI-compatible server."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", help="Stop before spending more than this many USD."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, help="Judge calls at the same time."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Results folder (default: the run's eval/ or REPO/.papercoder/eval)."),
    all_files: bool = typer.Option(False, "--all-files", help="Also judge the README, shell scripts and requirements (the paper judges code and config only)."),
) -> None:
    """Score how correctly REPO implements the paper, 1 to 5, with critiques."""
    from papercoder.evaluate.api import JudgeOptions, run_eval
    from papercoder.evaluate.report import format_eval

    judge = JudgeOptions(model=model, base_url=base_url, max_cost=max_cost, concurrency=concurrency)
    result, path = run_eval(repo, paper, gold=gold, n=samples, judge=judge, out=out, all_files=all_files)
    typer.echo(format_eval(result))
    typer.echo(f"Results: {path}")


def grade_command(
    repo: Optional[Path] = typer.Argument(None, help="The repository folder to grade."),
    rubric: Optional[Path] = typer.Option(None, "--rubric", "-r", help="A PaperBench rubric tree (rubric.json)."),
    paper: Optional[str] = typer.Option(None, "--paper", "-p", help="The paper the rubric is about."),
    from_judgements: Optional[Path] = typer.Option(
        None, "--from-judgements", help="Grade nothing: recompute a graded PaperBench tree (expected_result.json) from its leaves and compare."
    ),
    judge_eval_dir: Optional[Path] = typer.Option(
        None, "--judge-eval", help="Measure the judge on PaperBench JudgeEval cases (<paper>/<n>/submission.tar and grading/expected_result.json)."
    ),
    papers_dir: Optional[Path] = typer.Option(None, "--papers", help="With --judge-eval: PaperBench's data/papers (<paper>/paper.md, addendum.md, judge.addendum.md)."),
    code_dev: bool = typer.Option(False, "--code-dev", help="Grade only Code Development leaves (PaperBench Code-Dev); the same as --mode code-dev."),
    mode: str = typer.Option("full", "--mode", help="code-dev (Code Development leaves, no reproduce files) or full (every leaf; results from the files reproduce.sh wrote)."),
    judge_protocol: str = typer.Option("paperbench", "--judge", help="paperbench (PaperBench's protocol: file ranking, free-text verdict, a parsing call) or lexical (one call per leaf, files by shared words; cheaper)."),
    addendum: Optional[Path] = typer.Option(None, "--addendum", help="The paper's addendum (clarifications), shown to the judge."),
    judge_addendum: Optional[Path] = typer.Option(None, "--judge-addendum", help="Notes for grading this paper, added to the judge's instructions."),
    parse_model: Optional[str] = typer.Option(None, "--parse-model", help="The model that reads the judge's free-text verdict back (default: gpt-4o-2024-08-06, PaperBench's, beside an OpenAI judge on OpenAI; else the judge)."),
    max_prior_nodes: Optional[int] = typer.Option(None, "--max-prior-nodes", min=0, help="Preceding rubric nodes shown per leaf at most (default: all)."),
    model: Optional[str] = typer.Option(None, "-m", "--model", help=MODEL_HELP),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="An OpenAI-compatible server."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", help="Stop before spending more than this many USD."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, help="Judge calls at the same time."),
    files_tokens: int = typer.Option(24_000, "--files-tokens", min=0, help="With --judge lexical: repository text per leaf at most, in tokens (0: as much as the context holds)."),
    depth: Optional[int] = typer.Option(None, "--depth", min=0, help="Print the tree only down to this depth."),
    explain: bool = typer.Option(False, "--explain", help="Print the judge's explanation under each leaf."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Results folder (default: the run's eval/ or REPO/.papercoder/eval)."),
) -> None:
    """Grade REPO against a PaperBench rubric: each leaf 0/1, parents the weighted mean."""
    from papercoder.errors import InputError
    from papercoder.evaluate.api import JudgeOptions, run_grade
    from papercoder.evaluate.report import format_grade

    if from_judgements is not None:
        from papercoder.evaluate.judgements import format_recomputed, recompute

        recomputed = recompute(from_judgements, code_dev=code_dev)
        typer.echo(format_recomputed(recomputed, max_depth=depth))
        if recomputed.differences:
            raise typer.Exit(1)
        return
    if judge_eval_dir is not None:
        _judge_eval(judge_eval_dir, papers_dir, model=model, base_url=base_url, max_cost=max_cost,
                    concurrency=concurrency, parse_model=parse_model, out=out)
        return
    if repo is None or rubric is None or paper is None:
        raise InputError("grade needs REPO, --rubric RUBRIC and --paper PAPER (or --from-judgements GRADED.json)")

    if mode not in ("code-dev", "full"):
        raise InputError(f"unknown --mode {mode!r}; choose code-dev or full")
    texts = {}
    for label, path in (("addendum", addendum), ("judge addendum", judge_addendum)):
        try:
            texts[label] = path.read_text(encoding="utf-8") if path is not None else ""
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"the {label} {path} cannot be read ({exc}); give a text file") from None
    judge = JudgeOptions(model=model, base_url=base_url, max_cost=max_cost, concurrency=concurrency)
    result, path = run_grade(repo, rubric, paper, code_dev=code_dev or mode == "code-dev", judge=judge, out=out,
                             files_tokens=files_tokens or None, protocol=judge_protocol, addendum=texts["addendum"],
                             judge_addendum=texts["judge addendum"], parse_model=parse_model, max_prior_nodes=max_prior_nodes)
    typer.echo(format_grade(result, max_depth=depth, explain=explain))
    typer.echo(f"Results: {path}")


def batch_command(
    papers: Path = typer.Argument(..., help="A folder of papers, or a CSV with a column of paper paths."),
    evaluate: bool = typer.Option(False, "--eval", help="Judge each generated repository 1-5 (reference-free)."),
    samples: int = typer.Option(8, "-n", "--samples", min=1, help="Judge samples per paper with --eval."),
    rubric: Optional[Path] = typer.Option(None, "--grade", help="Grade each repository against this rubric.json."),
    code_dev: bool = typer.Option(False, "--code-dev", help="With --grade: Code Development leaves only."),
    jobs: int = typer.Option(2, "-j", "--jobs", min=1, help="Papers at the same time."),
    out: Path = typer.Option(Path("batch"), "-o", "--out", help="Batch folder: runs/, results/, summary."),
    model: Optional[str] = typer.Option(None, "-m", "--model", help="Model for the pipeline."),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help="Model for --eval/--grade (default: as eval's -m; else --model)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="An OpenAI-compatible server."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", help="USD cap per paper (pipeline and judging each)."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, help="Model calls at the same time, per paper."),
    stages: Optional[str] = typer.Option(None, "--stages", help="The pipeline's stages, comma-separated, as for run (default: run's defaults)."),
    reproduce: bool = typer.Option(False, "--reproduce", help="Run each repository's reproduce.sh after its pipeline (hours, a GPU)."),
    reproduce_timeout: float = typer.Option(36_000.0, "--reproduce-timeout", min=1, help="Wall-clock seconds per reproduction (default 10 hours)."),
    gpus_per_paper: Optional[float] = typer.Option(None, "--gpus-per-paper", min=0, help="GPUs per reproduction (Ray: default 1 when the cluster has any; local: >0 shows this machine's GPUs)."),
    executor: str = typer.Option("local", "--executor", help="local (threads of this process) or ray (a Ray cluster)."),
    address: Optional[str] = typer.Option(None, "--address", help="With --executor ray: join this running cluster (default: start a local instance)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="With --executor ray: pipeline worker processes (default one per node, at most -j)."),
) -> None:
    """Run the pipeline over many papers (resumable), optionally judging and reproducing each;
    print one table. Exits 1 unless every paper is done (and, with --reproduce, passed)."""
    from papercoder.errors import InputError
    from papercoder.batch import BatchOptions, discover_papers, run_batch, succeeded, summary_table

    if rubric is not None and not rubric.is_file():
        raise InputError(f"rubric {rubric} does not exist; give the path of a PaperBench rubric.json")
    if executor == "local" and (address is not None or workers is not None):
        raise InputError("--address and --workers belong to --executor ray; add --executor ray or drop them")
    options = BatchOptions(out=out, jobs=jobs, model=model, base_url=base_url, max_cost=max_cost,
                           concurrency=concurrency, evaluate=evaluate, samples=samples, rubric=rubric,
                           code_dev=code_dev, judge_model=judge_model, stages=[stages] if stages else None, reproduce=reproduce,
                           reproduce_timeout=reproduce_timeout, gpus_per_paper=gpus_per_paper, executor=executor,
                           address=address, workers=workers)
    found = discover_papers(papers)
    where = f" on Ray ({address or 'a local instance'})" if executor == "ray" else ""
    typer.echo(f"{len(found)} papers, {jobs} at a time{where}; results in {out}")
    ended = 0

    def progress(record: dict) -> None:
        nonlocal ended
        ended += 1
        state = "already done" if record.get("skipped") else record.get("status")
        reproduction = record.get("reproduce") if not record.get("skipped") else None
        if isinstance(reproduction, dict):
            state += "; reproduce " + ("passed" if reproduction.get("ok") else reproduction.get("error") or "failed")
        typer.echo(f"  [{ended}/{len(found)}] {record['slug']}: {state}" + (f" - {record['error']}" if record.get("error") else ""))

    records = run_batch(found, options, on_record=progress)
    typer.echo("")
    typer.echo(summary_table(records))
    failed = [r for r in records if not succeeded(r)]
    if failed:
        typer.echo(f"{len(failed)} of {len(records)} papers not done: " + ", ".join(r["slug"] for r in failed))
        raise typer.Exit(1)


def _judge_eval(root: Path, papers: Optional[Path], *, model, base_url, max_cost, concurrency, parse_model, out) -> None:
    """``grade --judge-eval``: our judge against JudgeEval's human grades."""
    from papercoder.errors import InputError
    from papercoder.evaluate.api import JudgeOptions, run_judge_eval
    from papercoder.evaluate.judgeeval import format_judge_eval

    if papers is None:
        raise InputError("--judge-eval needs --papers DIR (PaperBench's data/papers, with <paper>/paper.md)")
    judge = JudgeOptions(model=model, base_url=base_url, max_cost=max_cost, concurrency=concurrency)
    result, _, path = run_judge_eval(root, papers, judge=judge, parse_model=parse_model, out=out)
    typer.echo(format_judge_eval(result))
    typer.echo(f"Results: {path}")
