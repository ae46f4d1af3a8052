"""CLI: ``papercoder reproduce`` (run reproduce.sh the way PaperBench does)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from papercoder.errors import InputError


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("reproduce")(reproduce_command)


def reproduce_command(
    target: Path = typer.Argument(..., help="A run directory (its repo/ is run) or a repository folder."),
    executor: str = typer.Option("local", "--executor", help="local (this machine, scrubbed environment), docker or podman."),
    image: str = typer.Option("python:3.12", "--image", help="The container image (docker, podman)."),
    gpus: bool = typer.Option(False, "--gpus", help="Let the run see the GPUs."),
    no_network: bool = typer.Option(False, "--no-network", help="Run without network (pip installs then fail)."),
    timeout: float = typer.Option(36_000.0, "--timeout", min=1, help="Wall-clock seconds at most (default 10 hours)."),
    max_processes: int = typer.Option(4096, "--max-processes", min=1,
                                      help="Processes and threads the local run may have alive at once (a fork bomb's end)."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Where the copy and its results go (default: RUN/reproduce or REPO/.papercoder/reproduce)."),
) -> None:
    """Run reproduce.sh in a fresh copy of the repository, tee its output to reproduce.log, and
    report what it wrote; exits 1 when it fails."""
    from papercoder.commands.debug import resolve_target
    from papercoder.reproduce.executors import ContainerExecutor, LocalExecutor
    from papercoder.reproduce.reproduction import reproduce

    repo, paths = resolve_target(target)
    if executor == "local":
        chosen = LocalExecutor(network=not no_network, gpus=gpus, max_processes=max_processes)
    elif executor in ("docker", "podman"):
        chosen = ContainerExecutor(engine=executor, image=image, network=not no_network, gpus=gpus)
    else:
        raise InputError(f"unknown --executor {executor!r}; choose local, docker or podman")
    folder = out or (paths.reproduce if paths is not None else repo / ".papercoder" / "reproduce")
    folder.mkdir(parents=True, exist_ok=True)
    result = reproduce(repo, folder, chosen, timeout=timeout)
    typer.echo(result.summary())
    for line in result.warnings:
        typer.echo(f"warning: {line}", err=True)
    for name in result.written[:20]:
        typer.echo(f"  wrote {name}")
    if len(result.written) > 20:
        typer.echo(f"  ... and {len(result.written) - 20} more (summary.json)")
    typer.echo(f"grade it: papercoder grade {result.folder} --rubric RUBRIC --paper PAPER --mode full")
    if not result.ok:
        typer.echo("the log's end:\n" + result.log_tail)
        raise typer.Exit(1)
