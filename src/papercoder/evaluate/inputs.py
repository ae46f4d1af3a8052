"""Opening what an evaluation needs: the paper, the repository folder, and the judge model.

Kept apart from the judging logic so tests can hand in a scripted judge, and so the model
layer and the paper readers are imported only when a command actually runs.
"""

from __future__ import annotations

from pathlib import Path

from papercoder.errors import InputError
from papercoder.llm import LLM
from papercoder.paper import Paper


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
    if (repo / "manifest.json").is_file() and (repo / "repo").is_dir():
        return repo / "repo"  # a papercoder run directory: the product is its repo/
    return repo


def open_judge(
    model: str | None,
    *,
    base_url: str | None = None,
    log_path: Path | None = None,
    max_cost: float | None = None,
    concurrency: int | None = None,
) -> LLM:
    """The judge model, recording every call in ``log_path`` so a rerun is answered from it."""
    from papercoder.llm import open_model

    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    return open_model(model, base_url=base_url, log_path=log_path, max_cost=max_cost,
                      concurrency=concurrency, quiet=True)
