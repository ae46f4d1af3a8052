"""CLI: ``papercoder export`` (a generated repository in another tool's layout)."""

from __future__ import annotations

from pathlib import Path

import typer

from papercoder.errors import InputError


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("export")(export)


def export(
    target: Path = typer.Argument(..., help="A run directory (its repo/ is exported) or a repository folder."),
    paperbench: Path = typer.Option(..., "--paperbench", help="Write DIR/submission/, a PaperBench submission."),
) -> None:
    """Write the repository as a PaperBench submission: committed, reproduce.sh at the root, no caches."""
    from papercoder.commands.debug import resolve_target
    from papercoder.export.paperbench import export_submission

    repo, _ = resolve_target(target)
    result = export_submission(repo, paperbench)
    typer.echo(f"submission: {result.submission} ({result.files} files, {result.bytes / 1e6:.1f} MB, committed)")
    for item in result.left_out:
        typer.echo(f"left out: {item}")
    if result.problems:
        raise InputError("the submission is not valid: " + "; ".join(result.problems))
    typer.echo("valid PaperBench submission layout: reproduce.sh at the root, everything committed, under 1 GB")
