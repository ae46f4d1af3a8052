"""CLI: ``papercoder report`` (one HTML page that shows a run)."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Optional

import typer

from papercoder.errors import InputError


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("report")(report)


def report(
    run_dir: Path = typer.Argument(..., help="A run directory made by `papercoder run`."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Write the page here (default: RUN/report.html)."),
    open_page: bool = typer.Option(False, "--open", help="Open the page in the default browser."),
) -> None:
    """Write RUN/report.html: plan, diagrams, code with its checks, debug and verify rounds, scores, cost."""
    from papercoder.report import write_report

    if out is not None and out.is_dir():
        raise InputError(f"{out} is a folder; give the report's file name, e.g. {out / 'report.html'}")
    try:
        path = write_report(run_dir, out)
    except OSError as exc:
        raise InputError(f"cannot write the report ({exc.strerror or exc}); choose another place with -o") from None
    typer.echo(f"report: {path}")
    if open_page:
        webbrowser.open(path.resolve().as_uri())
