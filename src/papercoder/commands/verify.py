"""CLI: ``papercoder verify`` (check the code against the paper's requirements and refine it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from papercoder.commands.pipeline import JUDGE_HELP
from papercoder.errors import InputError


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("verify")(verify)


def verify(
    target: Path = typer.Argument(..., help="A run directory (its repo/ and paper), or a repository folder with --paper."),
    paper: Optional[str] = typer.Option(None, "--paper", help="The paper, for a plain repository folder (any format `ingest` reads)."),
    rounds: int = typer.Option(2, "--rounds", min=0, help="Refinement rounds at most (0: check only)."),
    model: Optional[str] = typer.Option(None, "-m", "--model", help="Model (default: the run's, else the configured one)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="An OpenAI-compatible server."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", help="Stop before spending more than this many USD."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (a plain repository folder only)."),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help=JUDGE_HELP),
) -> None:
    """Check the code against a checklist of the paper's requirements, and refine what fails."""
    from papercoder.commands.debug import resolve_target

    repo, paths = resolve_target(target)
    if paths is not None and paper is None:
        from papercoder.commands.pipeline import _report
        from papercoder.run import run_stage

        _report(run_stage("verify", paths.root, model=model, base_url=base_url, max_cost=max_cost, verify_rounds=rounds,
                          judge_model=judge_model))
        return
    if paper is None:
        raise InputError(f"{target} is not a run directory; give the paper with --paper PAPER")
    _verify_folder(repo, paper, rounds=rounds, model=model, base_url=base_url, max_cost=max_cost, as_json=as_json,
                   judge_model=judge_model)


def _verify_folder(repo: Path, paper: str, *, rounds: int, model, base_url, max_cost, as_json: bool, judge_model) -> None:
    from papercoder.config import load_config
    from papercoder.llm.models import open_model
    from papercoder.paper import read_paper
    from papercoder.run.runner import run_async
    from papercoder.verify.stage import verify_repository

    text = read_paper(paper).to_markdown()
    state = repo / ".papercoder"
    state.mkdir(parents=True, exist_ok=True)
    llm = open_model(model, base_url=base_url, log_path=state / "calls.sqlite", max_cost=max_cost)
    judge_spec = judge_model or load_config().verify_judge_model
    judge = open_model(judge_spec, log_path=state / "calls.sqlite", max_cost=max_cost, quiet=True) if judge_spec else None

    async def main():
        try:
            return await verify_repository(repo, llm, text, rounds=rounds, out_dir=state / "verify", judge=judge,
                                           note=lambda message: typer.echo(message, err=True))
        finally:
            await llm.aclose()
            if judge is not None:
                await judge.aclose()

    report = run_async(main())
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(report.summary())
        for failing in report.failing:
            typer.echo(f"  still failing: [{failing['id']}] {failing['requirement']}")
        for problem in report.problems:
            typer.echo(f"warning: {problem}")
        typer.echo(f"report: {state / 'verify' / 'report.json'}; history: git -C {repo} log -p")
    if report.problems or report.invalid_judgements:
        raise typer.Exit(1)
