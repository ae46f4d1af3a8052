"""CLI: ``papercoder check`` (static checks) and ``papercoder debug`` (run and repair)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Optional

import typer

from papercoder.errors import InputError
from papercoder.rundir.paths import RunPaths, refuse_links

# the checks, the sandbox and the loop are imported when a command runs: the sandbox needs
# POSIX modules, and the rest of the CLI must not depend on them


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("check")(check)
    app.command("debug")(debug)


def resolve_target(path: Path) -> tuple[Path, RunPaths | None]:
    """(repository folder, run paths or None): a run directory means its ``repo/``."""
    if not path.is_dir():
        raise InputError(f"{path} is not a folder; give a run directory or a repository folder")
    paths = RunPaths(path)
    refuse_links(paths)
    if paths.repo.is_dir() and (paths.manifest.is_file() or paths.planning.is_dir() or paths.paper.is_file()):
        return paths.repo, paths
    return path, None


def check(
    target: Path = typer.Argument(..., help="A repository folder, or a run directory (its repo/ is checked)."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON (file, line, kind, message)."),
) -> None:
    """Static checks of a generated repository, without running it; exits 1 when something is found."""
    from papercoder.repo.checks import check_repository, findings_json, format_findings

    repo, _ = resolve_target(target)
    findings = check_repository(repo)
    typer.echo(findings_json(findings) if as_json else format_findings(findings), nl=False)
    if findings:
        raise typer.Exit(1)


def debug(
    target: Path = typer.Argument(..., help="A run directory, or any repository folder."),
    model: Optional[str] = typer.Option(None, "-m", "--model", help="Model, e.g. openai:gpt-4.1 (default: configured)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="An OpenAI-compatible server to use."),
    max_iterations: int = typer.Option(3, "--max-iterations", min=0, help="Repair rounds at most."),
    cmd: Optional[str] = typer.Option(None, "--cmd", help="What to run instead of smoke.sh (a shell command)."),
    venv: bool = typer.Option(False, "--venv", help="Run in a virtual environment with requirements.txt installed."),
    system_packages: bool = typer.Option(
        True, "--system-packages/--no-system-packages", help="Let the --venv environment see the system's packages (reuses an installed torch)."
    ),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", help="Stop before spending more than this many USD."),
    timeout: float = typer.Option(120.0, "--timeout", min=1, help="Wall-clock seconds per run."),
    memory: int = typer.Option(8192, "--memory", min=64, help="Memory limit per process, in MiB."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Run the repository's smoke check in a sandbox and repair it with the model until it passes."""
    from papercoder.pipeline.debugging import debug_repository
    from papercoder.pipeline.repair import planned_entry_point, repair_prefix
    from papercoder.repo.sandbox import Limits

    repo, paths = resolve_target(target)
    if paths is not None:
        log_path, report_dir, venv_dir = paths.calls, paths.debug, paths.venv
        entry = planned_entry_point(paths.design)
    else:
        log_path, report_dir = repo / ".papercoder" / "calls.sqlite", repo / ".papercoder" / "debug"
        venv_dir = repo / ".papercoder" / "venv"
        entry = None
    log_path.parent.mkdir(parents=True, exist_ok=True)
    from papercoder.llm.models import open_model  # not at import: ingest and --help need no model stack

    llm = open_model(model, base_url=base_url, log_path=log_path, max_cost=max_cost)
    say = lambda message: typer.echo(message, err=True)  # noqa: E731
    prefix = repair_prefix(paths, llm, repo, what="debugging", note=say) if paths is not None else []
    report = asyncio.run(
        debug_repository(
            repo,
            llm,
            prefix=prefix,
            max_iterations=max_iterations,
            cmd=cmd,
            use_venv=venv,
            venv_dir=venv_dir,
            venv_system_packages=system_packages,
            limits=Limits(timeout=timeout, memory_mb=memory),
            report_dir=report_dir,
            entry_point=entry,
            note=say,
        )
    )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(report.summary())
        for warning in report.warnings:
            typer.echo(f"warning: {warning}")
        typer.echo(f"report: {report_dir / 'report.json'}; history: git -C {repo} log -p")
    if paths is not None:  # a run directory: its page shows the new rounds
        from papercoder.run import write_run_report

        page = write_run_report(paths)
        if page is not None and not as_json:
            typer.echo(f"page: {page}")
    if not report.passed:
        raise typer.Exit(1)
