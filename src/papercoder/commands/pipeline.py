"""``papercoder run`` (the whole pipeline) and ``plan``/``analyze``/``code`` (one stage)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

CODING_HELP = (
    "How files are written: 'wave' (default: all at once against the interface skeleton) or 'sequential' "
    "(one after another, each seeing the full code of the earlier ones: the original method, slower and dearer)."
)
GROUP_HELP = (
    "Files whose analyses one request asks for (default 4; 1 for the embedded model): 1 is the original "
    "method's one request per file, which re-sends the paper and plan for every file."
)
JUDGE_HELP = "The verify stage's judge, e.g. openai:o3-mini (default: verify_judge_model in the config file, else the model that writes the code)."
FIGURES_HELP = "Images a request may carry at most, for a model that reads them (0: captions only; default: max_figures in the config file, else 12)."
WINDOW_HELP = "The model's context window in tokens, when the server does not say it (default: context_window in the config file, else the server's, the price list's or the model file's)."
STAGES_HELP = "Stages to run, comma-separated, from plan, analyze, code, debug, verify, reproduce (default: all but reproduce)."


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("run")(run)
    app.command("estimate")(estimate_command)
    for stage, name, what in (
        ("plan", "plan", "Planning: overall plan, architecture and diagrams, logic design, config.yaml."),
        ("analyze", "analyze", "Analysis: a detailed implementation analysis of every planned file."),
        ("code", "code", "Coding: write every planned file against the interface skeleton, check the files against each other, then the repository's extras."),
    ):
        app.command(name, help=f"{what} Runs one stage on an existing run directory.")(_single_stage(stage))


def run(
    paper: str = typer.Argument(..., help="The paper: PDF, LaTeX (.tex, folder, .tar.gz), Markdown, s2orc JSON, text, or an arXiv id."),
    model: Optional[str] = typer.Option(None, "-m", "--model", help="Model, e.g. openai:gpt-4.1, anthropic:claude-sonnet-4-6, local:smollm2."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Run directory (default: runs/<paper-slug>)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in the run directory: done stages are skipped, answered calls come from the call log."),
    stages: Optional[str] = typer.Option(None, "--stages", help=STAGES_HELP),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", help="Stop before the run would spend more than this many USD."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, help="Model calls at the same time."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="An OpenAI-compatible server (vLLM, Ollama, llama.cpp, ...)."),
    debug_iterations: int = typer.Option(3, "--debug-iterations", min=0, help="Repair rounds of the debug stage at most."),
    wait: bool = typer.Option(False, "--wait", help="If another papercoder process is using the run directory, wait for it instead of stopping."),
    addendum: Optional[Path] = typer.Option(None, "--addendum", help="Clarifications to the paper (dataset links, scope), sent right after the paper in every request and never shortened; default: addendum in papercoder.toml."),
    coding: Optional[str] = typer.Option(None, "--coding", help=CODING_HELP),
    analysis_group: Optional[int] = typer.Option(None, "--analysis-group", min=1, help=GROUP_HELP),
    verify_rounds: int = typer.Option(2, "--verify-rounds", min=0, help="Refinement rounds of the verify stage at most (0: check only)."),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help=JUDGE_HELP),
    context_window: Optional[int] = typer.Option(None, "--context-window", min=1, help=WINDOW_HELP),
    max_figures: Optional[int] = typer.Option(None, "--max-figures", min=0, help=FIGURES_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the calls, tokens and cost each stage is expected to take, as ranges; call no model."),
) -> None:
    """Turn PAPER into a code repository: plan, analyze, code, debug, verify."""
    from papercoder.config import load_config
    from papercoder.run import RunInterrupted, run_paper

    if addendum is None:
        configured = load_config().addendum
        addendum = Path(configured).expanduser() if configured else None
    if dry_run:
        from papercoder.run.engine import read_addendum_file
        from papercoder.run.estimate import dry_run as estimate_paper, format_estimate
        from papercoder.run.runner import parse_stages

        result, name, notes = estimate_paper(paper, model=model, base_url=base_url, context_window=context_window,
                                             addendum=read_addendum_file(addendum) if addendum else "",
                                             stages=parse_stages([stages] if stages else None), analysis_group=analysis_group,
                                             debug_rounds=debug_iterations, verify_rounds=verify_rounds)
        typer.echo(format_estimate(result, model=name))
        for line in notes:
            typer.echo(f"Note: {line}.")
        typer.echo("After planning, `papercoder estimate RUN_DIR` gives a narrower figure for the stages left.")
        return
    try:
        result = run_paper(
            paper,
            out_dir=out,
            model=model,
            base_url=base_url,
            resume=resume,
            stages=[stages] if stages is not None else None,
            max_cost=max_cost,
            concurrency=concurrency,
            show_progress=True,
            debug_iterations=debug_iterations,
            addendum=addendum,
            wait=wait,
            coding=coding,
            verify_rounds=verify_rounds,
            analysis_group=analysis_group,
            judge_model=judge_model,
            context_window=context_window,
            max_figures=max_figures,
        )
    except RunInterrupted as exc:
        _stop(exc)
    _report(result)


def estimate_command(
    run_dir: Path = typer.Argument(..., help="A run directory that has been planned."),
    model: Optional[str] = typer.Option(None, "-m", "--model", help="Model to price (default: the one the run used)."),
) -> None:
    """The calls, tokens and cost the stages a run has still to run are expected to take, from what
    planning decided (its files, its checklist); no model is called."""
    from papercoder.run.estimate import estimate_run, format_estimate

    result, name, notes = estimate_run(run_dir, model=model)
    typer.echo(format_estimate(result, model=name))
    for line in notes:
        typer.echo(f"Note: {line}.")


def _single_stage(stage: str):
    def command(
        run_dir: Path = typer.Argument(..., help="A run directory made by `papercoder run`."),
        model: Optional[str] = typer.Option(None, "-m", "--model", help="Model (default: the one the run used)."),
        max_cost: Optional[float] = typer.Option(None, "--max-cost", help="Stop before spending more than this many USD."),
        concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, help="Model calls at the same time."),
        base_url: Optional[str] = typer.Option(None, "--base-url", help="An OpenAI-compatible server."),
        wait: bool = typer.Option(False, "--wait", help="Wait for another papercoder process using the run directory."),
        coding: Optional[str] = typer.Option(None, "--coding", help=CODING_HELP + " Only the code stage reads it."),
        analysis_group: Optional[int] = typer.Option(
            None, "--analysis-group", min=1, help=GROUP_HELP + " Only the analyze stage reads it."
        ),
        context_window: Optional[int] = typer.Option(None, "--context-window", min=1, help=WINDOW_HELP),
        max_figures: Optional[int] = typer.Option(None, "--max-figures", min=0, help=FIGURES_HELP),
    ) -> None:
        from papercoder.run import RunInterrupted, run_stage

        try:
            result = run_stage(
                stage,
                run_dir,
                model=model,
                base_url=base_url,
                max_cost=max_cost,
                concurrency=concurrency,
                show_progress=True,
                wait=wait,
                coding=coding,
                analysis_group=analysis_group,
                context_window=context_window,
                max_figures=max_figures,
            )
        except RunInterrupted as exc:
            _stop(exc)
        _report(result)

    command.__name__ = f"{stage}_command"
    return command


def _stop(interrupted: BaseException) -> None:
    """Say how to resume, then exit at once: a local model's computation still running in a
    worker thread cannot be stopped, and its answer is not needed (the call log has the rest)."""
    print(str(interrupted), file=sys.stderr)
    run_dir = getattr(interrupted, "run_dir", None)
    if run_dir is not None and (Path(run_dir) / "report.html").is_file():
        print(f"report: {Path(run_dir) / 'report.html'} (shows where the run stopped)", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


# Exit codes of `papercoder run` and the one-stage commands (the README lists them).
EXIT_DONE = 0  # every stage finished with everything asked for
EXIT_DEGRADED = 1  # finished, but a fallback fired or something is cut, empty or does not run
# 2: the run stopped on an error (bad input, model, budget): one `error:` line says what to do
# 130: interrupted (Ctrl-C); the message says how to resume


def _report(result) -> None:
    """The summary table of what this invocation did (or why it did nothing), the run's status
    and every fallback; then exit with the code that status stands for."""
    from papercoder.run.progress import print_fallbacks, print_summary

    if not result.stages and result.skipped:
        print(
            f"nothing to run: {', '.join(result.skipped)} already done in {result.run_dir} "
            f"(its totals are in {result.run_dir / 'manifest.json'})"
        )
        if Path(result.repo).is_dir():
            print(f"repository: {result.repo}")
    else:
        print_summary(result.stages, result.repo, status=_status_text(result))
        _print_verification(result)
    print_fallbacks(result.status, result.fallbacks)
    if getattr(result, "report", None):
        print(f"report: {result.report}")
    print(_next_step(result))
    sys.stdout.flush()
    if result.status != "done":
        raise typer.Exit(EXIT_DEGRADED)


def _next_step(result) -> str:
    """One line saying what to do next."""
    manifest = getattr(result, "manifest", None)
    pending = [s for s, record in (manifest.stages.items() if manifest else []) if record.status == "pending" and s != "reproduce"]
    if pending:
        return f"next: papercoder run {manifest.source} -o {result.run_dir} --resume   # runs {', '.join(pending)}"
    if Path(result.repo).is_dir():
        return f"next: papercoder reproduce {result.run_dir}   # run reproduce.sh as PaperBench does (hours, maybe a GPU)"
    return f"next: papercoder report {result.run_dir}"


def _status_text(result) -> str:
    if result.debug_status:
        detail = result.manifest.stage("debug").detail if getattr(result, "manifest", None) else {}
        ran = f", {detail['planned_ran']} of {detail['planned_total']} planned files ran" if "planned_ran" in detail else ""
        return f"debugging: {result.debug_status}{ran}"
    return ""


def _print_verification(result) -> None:
    """Coverage before and after verification, and the requirements still failing (ten at most)."""
    if not getattr(result, "verify_summary", None):
        return
    print(result.verify_summary)
    failing = getattr(result, "still_failing", [])
    if failing:
        print("still failing:")
        for line in failing[:10]:
            print(f"  {line}")
        if len(failing) > 10:
            print(f"  ... and {len(failing) - 10} more (see verify/report.json)")
