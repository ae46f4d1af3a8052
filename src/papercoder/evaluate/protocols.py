"""The evaluation protocols: how a repository is judged, one row each.

- ``paper2code``: the Paper2Code paper's 1-5 correctness score, n samples (``papercoder eval``);
- ``paperbench``: PaperBench's judge on a rubric: file ranking, a free-text verdict per leaf and
  a call that reads it back (``papercoder grade``, the default);
- ``lexical``: a cheaper rubric judge: one call per leaf with the files that share its words
  (``grade --judge lexical``, ``batch --grade`` and the verify stage).

Adding a protocol: write its module here (named after the protocol), then add one row.
Rubric protocols share one calling convention, :data:`RubricGrader`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from papercoder.evaluate.graded import GradeResult
from papercoder.evaluate.lexical import grade_repo
from papercoder.evaluate.paper2code import evaluate_repo
from papercoder.evaluate.paperbench import grade_paperbench
from papercoder.rubric import RubricNode
from papercoder.llm import LLM
from papercoder.paper import Paper


@dataclass
class RubricSettings:
    """What a rubric protocol may use besides the repository, paper and rubric (each ignores what it does not)."""

    code_dev: bool = False
    addendum: str = ""
    judge_addendum: str = ""
    parser: LLM | None = None  # paperbench: the model that reads verdicts back (None: the judge)
    max_prior_nodes: int | None = None  # paperbench
    files_tokens: int | None = None  # lexical: repository text per leaf at most


RubricGrader = Callable[[Path, Paper, RubricNode, LLM, RubricSettings], Awaitable[GradeResult]]


@dataclass(frozen=True)
class Protocol:
    """One way of judging a repository."""

    name: str
    kind: str  # "rubric" (a PaperBench rubric, a score per leaf) or "score" (1-5 over samples)
    run: Callable[..., Awaitable[Any]]  # rubric: a RubricGrader; score: paper2code.evaluate_repo
    calls_per_leaf: int = 0  # rubric protocols: model calls per leaf (for cost estimates)
    uses_parser: bool = False  # rubric protocols: a second model reads the verdicts back


async def _paperbench(repo: Path, paper: Paper, tree: RubricNode, llm: LLM, s: RubricSettings) -> GradeResult:
    return await grade_paperbench(repo, paper, tree, llm, code_dev=s.code_dev, addendum=s.addendum,
                                  judge_addendum=s.judge_addendum, parser=s.parser, max_prior_nodes=s.max_prior_nodes)


async def _lexical(repo: Path, paper: Paper, tree: RubricNode, llm: LLM, s: RubricSettings) -> GradeResult:
    return await grade_repo(repo, paper, tree, llm, code_dev=s.code_dev, files_tokens=s.files_tokens)


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("paper2code", "score", evaluate_repo),
        Protocol("paperbench", "rubric", _paperbench, calls_per_leaf=3, uses_parser=True),
        Protocol("lexical", "rubric", _lexical, calls_per_leaf=1),
    )
}
RUBRIC_PROTOCOLS: tuple[str, ...] = tuple(name for name, p in PROTOCOLS.items() if p.kind == "rubric")
