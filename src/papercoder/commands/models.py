"""``papercoder models`` (what is configured, does it answer) and ``papercoder ask`` (one call)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("models")(models_command)
    app.command("ask")(ask_command)
    app.command("doctor")(doctor_command)


def models_command(
    base_url: Optional[str] = typer.Option(None, "--base-url", help="An OpenAI-compatible server to check."),
    config_path: Optional[Path] = typer.Option(None, "--config", help="Read this config file only."),
    offline: bool = typer.Option(False, "--offline", help="Do not contact any server."),
) -> None:
    """Show the configured model, whether keys are set, and whether servers answer."""
    from papercoder.config import load_config
    from papercoder.llm.status import check_setup

    config = load_config(config_path)
    default, checks = check_setup(config, base_url=base_url, probe=not offline)
    typer.echo(f"default model: {default}")
    width = max(len(check.name) for check in checks)
    for check in checks:
        typer.echo(f"  {'ok ' if check.ok else '-- '} {check.name.ljust(width)}  {check.state}")
    if config.aliases:
        from papercoder.llm.models import choose_model
        from papercoder.errors import PapercoderError

        typer.echo("aliases:")
        for alias in sorted(config.aliases):
            try:
                choice = choose_model(alias, base_url=base_url, config=config)
                typer.echo(f"  {alias} -> {choice.spec}" + (f" at {choice.base_url}" if choice.base_url else ""))
            except PapercoderError as exc:
                typer.echo(f"  {alias} -> error: {exc}")


def doctor_command(
    model: Optional[str] = typer.Option(None, "-m", "--model", help="The model to check (default: the one a run would use)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="An OpenAI-compatible server."),
    config_path: Optional[Path] = typer.Option(None, "--config", help="Read this config file only."),
    offline: bool = typer.Option(False, "--offline", help="Do not contact any server."),
) -> None:
    """What a run on this machine will have: model and window, keys, sandbox, git, containers, Ray."""
    from papercoder.config import load_config
    from papercoder.run.doctor import can_run, diagnose

    rows = diagnose(load_config(config_path), model=model, base_url=base_url, probe=not offline)
    width = max(len(row.name) for row in rows)
    for row in rows:
        typer.echo(f"{'ok ' if row.ok else '-- '} {row.name.ljust(width)}  {row.state}")
    ready, why = can_run(rows)
    if not ready:
        typer.echo(f"error: a run cannot proceed here: {why}", err=True)
        raise typer.Exit(1)
    typer.echo("a run can proceed here")


def ask_command(
    prompt: str = typer.Argument(..., help="The question; '-' reads it from standard input."),
    model: Optional[str] = typer.Option(None, "-m", "--model", help="Model string, e.g. openai:gpt-4.1, local:smollm2."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="Base URL of an OpenAI-compatible server."),
    system: Optional[str] = typer.Option(None, "--system", help="A system prompt."),
    max_tokens: int = typer.Option(256, "--max-tokens", min=1, help="Longest answer, in tokens."),
    temperature: Optional[float] = typer.Option(None, "--temperature", min=0.0, max=2.0),
    as_json: bool = typer.Option(False, "--json", help="Print the answer with usage, cost and latency as JSON."),
    config_path: Optional[Path] = typer.Option(None, "--config", help="Read this config file only."),
) -> None:
    """Ask a model one question, to check a setup. The answer goes to stdout, a summary to stderr."""
    from papercoder.config import load_config
    from papercoder.llm import open_model

    text = sys.stdin.read() if prompt == "-" else prompt
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    llm = open_model(model, base_url=base_url, config=load_config(config_path))
    completion = llm.complete(messages, max_tokens=max_tokens, temperature=temperature, stage="ask",
                              allow_truncated=True)
    if as_json:
        record = {k: v for k, v in asdict(completion).items() if k not in ("parsed", "call_id", "cached")}
        record["model"] = llm.model
        typer.echo(json.dumps(record, indent=2))
        return
    typer.echo(completion.text)
    usage = completion.usage
    cost = "unknown" if completion.cost is None else f"${completion.cost:.5f}"
    note = "; cut at --max-tokens" if completion.finish_reason == "length" else ""
    typer.echo(
        f"[{llm.model}: {usage.input_tokens} tokens in, {usage.output_tokens} out, {cost}, "
        f"{completion.latency:.2f}s{note}]",
        err=True,
    )
