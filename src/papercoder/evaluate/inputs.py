"""Opening what an evaluation needs: the paper, the repository folder, and the judge model.

Kept apart from the judging logic so tests can hand in a scripted judge, and so the model
layer and the paper readers are imported only when a command actually runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from papercoder.config import Config, named_server
from papercoder.errors import InputError
from papercoder.llm import LLM
from papercoder.paper import Paper
from papercoder.rundir.paths import RunPaths, is_run_directory

# the judge of PaperBench (SimpleJudge's default, at high reasoning effort) and of the Paper2Code
# experiments; reasoning_effort=high is what papercoder sends OpenAI's reasoning models by default
PAPERBENCH_JUDGE = "openai:o3-mini"
PAPERBENCH_PARSER = "openai:gpt-4o-2024-08-06"  # SimpleJudge's default for reading a verdict back
NOT_COMPARABLE = ("the judge is the model a run would use, not o3-mini (PaperBench's and the paper's judge), so "
                  "scores are not comparable with published ones; give -m openai:o3-mini (an OpenAI key) or "
                  "set judge_model in the config file")
_warned = False


def load_paper(source: str | Path) -> Paper:
    """Read the paper in any format papercoder reads (PDF, LaTeX, Markdown, s2orc JSON, arXiv id)."""
    from papercoder.paper import read_paper

    return read_paper(str(source))


def check_repo(path: str | Path, what: str = "repository") -> Path:
    """The folder to judge, or an :class:`InputError` saying what is wrong with it."""
    repo = Path(path)
    if not repo.exists():
        raise InputError(f"{what} {repo} does not exist; give the folder of the code to judge")
    if not repo.is_dir():
        raise InputError(f"{what} {repo} is not a folder; give the folder of the code to judge")
    if is_run_directory(repo):
        return RunPaths(repo).repo  # a papercoder run directory: the product is its repo/
    return repo


def default_judge(model: str | None, *, base_url: str | None = None, config: Config | None = None,
                  env: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """The judge to open and, when it is not PaperBench's, why the scores will not compare.

    A flag wins, then ``judge_model`` in the config file; else o3-mini where an OpenAI key is set
    and no other server is named; else ``None`` (the model a run would use) with a warning.
    """
    if model:
        return model, ""
    if config is None:
        from papercoder.config import load_config

        config = load_config()
    env = os.environ if env is None else env
    if config.judge_model:
        return config.judge_model, ""
    if named_server(base_url, config, env) is None and env.get(config.api_key_env or "OPENAI_API_KEY"):
        return PAPERBENCH_JUDGE, ""
    return None, NOT_COMPARABLE


def default_parser(judge_model: str | None, *, base_url: str | None = None, config: Config | None = None,
                   env: Mapping[str, str] | None = None) -> str | None:
    """The model that reads a free-text verdict back when none is named: PaperBench's (gpt-4o)
    beside an OpenAI judge on OpenAI's own API, else ``None`` (the judge reads its own)."""
    if not judge_model or not judge_model.startswith("openai:"):
        return None
    if config is None:
        from papercoder.config import load_config

        config = load_config()
    env = os.environ if env is None else env
    return PAPERBENCH_PARSER if named_server(base_url, config, env) is None else None


def open_judge(
    model: str | None,
    *,
    base_url: str | None = None,
    log_path: Path | None = None,
    max_cost: float | None = None,
    concurrency: int | None = None,
) -> LLM:
    """The judge model (``model``, else :func:`default_judge`), recording every call in
    ``log_path`` so a rerun is answered from it."""
    global _warned
    from papercoder.llm import open_model

    model, note = default_judge(model, base_url=base_url)
    if note and not _warned:
        _warned = True
        print(f"note: {note}", file=sys.stderr)
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    return open_model(model, base_url=base_url, log_path=log_path, max_cost=max_cost,
                      concurrency=concurrency, quiet=True)
