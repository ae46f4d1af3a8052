"""``papercoder ingest``: read a paper and write it as Markdown or JSON."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path

import typer

from papercoder.errors import InputError


class OutputFormat(str, Enum):
    markdown = "markdown"
    json = "json"


def ingest(
    paper: str = typer.Argument(
        ...,
        help="A PDF, a .tex file, a LaTeX folder, a .tar.gz/.tgz/.zip source archive, Markdown, "
        "s2orc JSON, a .txt file, or an arXiv id/URL (arxiv:2504.17192).",
        show_default=False,
    ),
    output: Path = typer.Option(
        None, "-o", "--output", help="Write here instead of to standard output.", show_default=False
    ),
    output_format: OutputFormat = typer.Option(
        OutputFormat.markdown, "--format", help="markdown: the text the models see; json: the structured paper."
    ),
    keep_references: bool = typer.Option(
        False, "--keep-references", help="Keep the bibliography (dropped by default: it only costs tokens)."
    ),
) -> None:
    """Read a paper and write it as clean Markdown (or JSON): title, abstract, sections, captions.

    Without -o the paper goes to standard output and a one-line summary (title, sections,
    characters, estimated tokens, figures) to standard error; with -o the summary is printed, and
    the figures are saved in paper/figures/ beside the output, where its image links point.
    """
    from papercoder.paper import read_paper
    from papercoder.paper.model import FIGURES_FOLDER
    from papercoder.tokens import estimate_tokens

    result = read_paper(paper, keep_references=keep_references)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if output_format is OutputFormat.json:
        rendered = json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n"
    else:
        rendered = result.to_markdown()
    if output is None:
        sys.stdout.write(rendered)
        sys.stdout.flush()
    else:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(rendered, encoding="utf-8")
            if result.figures:  # where paper.md's image links point: paper/figures/ beside it
                from papercoder.paper.figures import save_figures

                save_figures(output.parent / FIGURES_FOLDER, result.figures)
        except OSError as exc:
            raise InputError(f"cannot write {output}: {exc.strerror or exc}; choose another output path.")
    appendix = sum(1 for s in result.sections if s.appendix)
    summary = (
        f"{result.title} | {result.source_format} | {len(result.sections)} sections"
        + (f" ({appendix} in the appendix)" if appendix else "")
        + f" | {len(rendered):,} characters | ~{estimate_tokens(rendered):,} tokens"
        + (f" | {len(result.figures)} figure(s)" if result.figures else "")
        + (f" | written to {output}" if output is not None else "")
        + (f", figures in {output.parent / FIGURES_FOLDER}" if output is not None and result.figures else "")
    )
    typer.echo(summary, err=output is None)


def register(app: typer.Typer) -> None:
    """Add ``ingest`` to the app."""
    app.command("ingest")(ingest)
