"""Stage 2, analysis: a detailed implementation analysis of every planned file, concurrently.

Each analysis is grounded in the paper, plan, design, logic design and config; the request of a
file depends only on those artifacts, never on other analyses, so all files run at once
(bounded by ``ctx.concurrency``) and a resumed run asks the same questions.
"""

from __future__ import annotations

import asyncio

from papercoder.llm import Completion, Message
from papercoder.pipeline.artifacts import CONTEXT_FIT_STEPS, PlanningArtifacts, load_artifacts
from papercoder.pipeline.context import StageContext
from papercoder.pipeline.prefix import layered_messages
from papercoder.pipeline.turns import (
    Part,
    answer_room,
    fit_parts,
    min_answer,
    stage_default,
    with_window_retries,
)
from papercoder.prompts import render
from papercoder.repo.paths import write_inside

STAGE = "analysis"
ANALYSIS_TOKENS = 8192


async def run_analysis(ctx: StageContext) -> None:
    """Write ``analysis/<file>.md`` for every file of the task list."""
    artifacts = load_artifacts(ctx.paths)
    files = artifacts.tasks.task_list
    total = len(files)
    done = 0
    limit = asyncio.Semaphore(max(1, ctx.concurrency))
    ctx.progress(STAGE, 0, total)

    async def analyse(path: str) -> None:
        nonlocal done
        async with limit:
            text = await analyse_file(ctx, artifacts, path)
        write_inside(ctx.paths.analysis, analysis_name(path), text)
        done += 1
        ctx.progress(STAGE, done, total)

    results = await asyncio.gather(*(analyse(path) for path in files), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:  # every analysis that succeeded is already on disk
        raise errors[0]


def analysis_name(path: str) -> str:
    """Where the analysis of ``path`` lives under ``analysis/``: the file path plus ``.md``."""
    return path + ".md"


def analysis_messages(
    ctx: StageContext, artifacts: PlanningArtifacts, path: str, window: int | None = None
) -> tuple[list[Message], int]:
    """The request for the analysis of ``path`` (fitted to ``window``) and its ``max_tokens``."""
    logic = artifacts.tasks.logic_of(path)
    parts = artifacts.context_parts()
    if logic.analysis:
        parts.append(Part("file-logic", f"The logic design of {path}", logic.analysis))
    entry = artifacts.tasks.entry_point

    def build(chosen: list[Part]) -> list[Message]:
        return layered_messages(
            chosen, lambda own: render("analysis/file", parts=own, path=path, is_entry=path == entry, entry_point=entry)
        )

    window = window or ctx.llm.context_window
    default = stage_default(window, ANALYSIS_TOKENS, prose=True)
    messages, taken = fit_parts(
        parts, build, window=window, min_output=min_answer(window, default), steps=CONTEXT_FIT_STEPS,
        what=f"the analysis of {path}",
    )
    if taken:
        ctx.note(f"analysis of {path}: to fit the context window, " + "; ".join(taken))
    return messages, answer_room(window, messages, default)


async def analyse_file(ctx: StageContext, artifacts: PlanningArtifacts, path: str) -> str:
    """Ask for the analysis of one file; a cut answer is kept (it is prose) and noted."""

    async def attempt(window: int) -> Completion:
        messages, max_tokens = analysis_messages(ctx, artifacts, path, window)
        return await ctx.llm.acomplete(messages, max_tokens=max_tokens, stage=STAGE, allow_truncated=True)

    completion = await with_window_retries(ctx.llm, attempt, ctx.note, f"analysis of {path}")
    text = completion.text.strip()
    if completion.finish_reason == "length":
        ctx.degrade(f"analysis of {path}: cut at the output limit even with more room; kept as it is")
    if not text:
        ctx.degrade(f"analysis of {path}: the model wrote nothing; the logic design stands in for it")
        text = artifacts.tasks.logic_of(path).analysis.strip() or f"(no analysis of {path})"
    return text + "\n"
