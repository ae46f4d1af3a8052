"""One function per command: judge or grade a repository, write the results, return them.

The judge's calls are recorded in ``<results>/calls.sqlite``: running the same evaluation
again (or resuming one that stopped halfway) is answered from that log and costs nothing.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

from papercoder.evaluate import inputs
from papercoder.evaluate.graded import GradeResult
from papercoder.evaluate.judgeeval import JudgeEvalResult, judge_eval
from papercoder.evaluate.lexical import FILES_TOKENS
from papercoder.evaluate.report import format_eval, format_grade, results_dir, write_json
from papercoder.rubric import load_rubric
from papercoder.evaluate.paper2code import EvalResult
from papercoder.evaluate.protocols import PROTOCOLS, RUBRIC_PROTOCOLS, RubricSettings
from papercoder.errors import InputError
from papercoder.llm import LLM


@dataclass
class JudgeOptions:
    """How to reach the judge model."""

    model: str | None = None
    base_url: str | None = None
    max_cost: float | None = None
    concurrency: int | None = None


async def _close(llm: LLM) -> None:
    close = getattr(llm, "aclose", None)
    if close is not None:
        await close()


def run_eval(
    repo: str | Path,
    paper: str | Path,
    *,
    gold: str | Path | None = None,
    n: int = 8,
    judge: JudgeOptions | None = None,
    out: str | Path | None = None,
    all_files: bool = False,
) -> tuple[EvalResult, Path]:
    """Score ``repo`` 1-5 against ``paper`` (and ``gold``, the authors' code); write eval JSON.
    ``all_files`` also shows the judge the repository's documentation and shell scripts."""
    if n < 1:
        raise InputError(f"-n {n} asks for no samples; give a number of samples of 1 or more")
    repo_dir = inputs.check_repo(repo)
    gold_dir = inputs.check_repo(gold, "reference repository") if gold is not None else None
    out_dir = results_dir(repo_dir, Path(out) if out is not None else None)
    the_paper = inputs.load_paper(paper)
    judge = judge or JudgeOptions()
    llm = inputs.open_judge(judge.model, base_url=judge.base_url, log_path=out_dir / "calls.sqlite",
                            max_cost=judge.max_cost, concurrency=judge.concurrency)

    async def go() -> EvalResult:
        try:
            return await PROTOCOLS["paper2code"].run(repo_dir, the_paper, llm, reference=gold_dir, n=n, all_files=all_files)
        finally:
            await _close(llm)

    result = asyncio.run(go())
    name = "eval-reference" if gold_dir is not None else "eval"
    data = {"repo": str(repo_dir.resolve()), "paper": str(paper),
            "reference": str(gold_dir.resolve()) if gold_dir else None, **result.to_dict()}
    path = write_json(out_dir / f"{name}.json", data)
    (out_dir / f"{name}.md").write_text(format_eval(result) + "\n", encoding="utf-8")
    return result, path


def run_grade(
    repo: str | Path,
    rubric: str | Path,
    paper: str | Path,
    *,
    code_dev: bool = False,
    judge: JudgeOptions | None = None,
    out: str | Path | None = None,
    files_tokens: int | None = FILES_TOKENS,
    protocol: str = "paperbench",
    addendum: str = "",
    judge_addendum: str = "",
    parse_model: str | None = None,
    max_prior_nodes: int | None = None,
) -> tuple[GradeResult, Path]:
    """Grade ``repo`` against a PaperBench rubric; write the graded tree as JSON.

    ``protocol`` ``paperbench`` follows PaperBench's judge (file ranking, free-text verdict, a
    parsing call; :mod:`papercoder.evaluate.paperbench`); ``lexical`` is the cheaper one-call
    judge with files picked by shared words (:mod:`papercoder.evaluate.lexical`)."""
    if protocol not in RUBRIC_PROTOCOLS:
        raise InputError(f"unknown --judge {protocol!r}; choose {' or '.join(RUBRIC_PROTOCOLS)}")
    grader = PROTOCOLS[protocol]
    repo_dir = inputs.check_repo(repo)
    tree = load_rubric(rubric)
    out_dir = results_dir(repo_dir, Path(out) if out is not None else None)
    the_paper = inputs.load_paper(paper)
    judge = judge or JudgeOptions()
    llm = inputs.open_judge(judge.model, base_url=judge.base_url, log_path=out_dir / "calls.sqlite",
                            max_cost=judge.max_cost, concurrency=judge.concurrency)

    parser = None
    parse_model = parse_model or inputs.default_parser(llm.model, base_url=judge.base_url)
    if grader.uses_parser and parse_model:
        parser = inputs.open_judge(parse_model, base_url=judge.base_url, log_path=out_dir / "calls.sqlite",
                                   max_cost=judge.max_cost, concurrency=judge.concurrency)

    async def go() -> GradeResult:
        try:
            settings = RubricSettings(code_dev=code_dev, addendum=addendum, judge_addendum=judge_addendum, parser=parser,
                                      max_prior_nodes=max_prior_nodes, files_tokens=files_tokens)
            return await grader.run(repo_dir, the_paper, tree, llm, settings)
        finally:
            await _close(llm)
            if parser is not None:
                await _close(parser)

    result = asyncio.run(go())
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(rubric).name.removesuffix(".json").removesuffix(".rubric"))
    name = f"grade-{stem}" + ("-codedev" if code_dev else "") + ("-lexical" if protocol == "lexical" else "")
    data = {"repo": str(repo_dir.resolve()), "paper": str(paper), "rubric": str(Path(rubric).resolve()),
            **result.to_dict()}
    path = write_json(out_dir / f"{name}.json", data)
    (out_dir / f"{name}.md").write_text(format_grade(result, explain=True) + "\n", encoding="utf-8")
    return result, path


def run_judge_eval(root: str | Path, papers: str | Path, *, judge: JudgeOptions | None = None,
                   parse_model: str | None = None, out: str | Path | None = None) -> tuple[JudgeEvalResult, str, Path]:
    """The judge of ``judge`` on PaperBench's human-graded cases under ``root``; the result, the
    judge's model and where ``judge-eval.json`` was written (``out``, default ``root/.papercoder``)."""
    judge = judge or JudgeOptions()
    folder = Path(out) if out is not None else Path(root) / ".papercoder"
    llm = inputs.open_judge(judge.model, base_url=judge.base_url, log_path=folder / "calls.sqlite", max_cost=judge.max_cost,
                            concurrency=judge.concurrency)
    parse_model = parse_model or inputs.default_parser(llm.model, base_url=judge.base_url)
    parser = inputs.open_judge(parse_model, base_url=judge.base_url, log_path=folder / "calls.sqlite", max_cost=judge.max_cost,
                               concurrency=judge.concurrency) if parse_model else None

    async def go() -> JudgeEvalResult:
        try:
            return await judge_eval(Path(root), Path(papers), llm, parser=parser)
        finally:
            await _close(llm)
            if parser is not None:
                await _close(parser)

    result = asyncio.run(go())
    data = {"judge": llm.model, "cases": result.cases, "overall": result.overall.__dict__ if result.overall else None,
            "by_category": {k: v.__dict__ for k, v in result.by_category.items()}}
    return result, llm.model, write_json(folder / "judge-eval.json", data)
