"""Stage 2, analysis: a detailed implementation analysis of every planned file, concurrently.

Each analysis is grounded in the paper, plan, design, logic design, config and skeleton; the
request of a file depends only on those artifacts, never on other analyses, so all requests run
at once (bounded by ``ctx.concurrency``) and a resumed run asks the same questions.

One request asks for the analyses of a few consecutive files of the task order (``--analysis-group``,
default :data:`ANALYSIS_GROUP`), each answer section starting with a ``# File: PATH`` line. Every
request re-sends the paper and the planning artifacts, so four files a request cut this stage's
input by three quarters; the price is a longer answer to wait for. A file whose section is
missing, empty or cut is asked for again alone, the paper's one-request-per-file way, which is
also the way of the embedded model (it cannot keep several files apart) and of ``--analysis-group 1``;
a group whose answers would not fit the context window is halved until they do.
"""

from __future__ import annotations

import asyncio

from papercoder.llm import LLM, Completion, ContextLengthError, Message
from papercoder.pipeline.artifacts import CONTEXT_FIT_STEPS, PlanningArtifacts, load_artifacts
from papercoder.rundir.context import StageContext
from papercoder.pipeline.filesections import file_marker, split_by_file
from papercoder.pipeline.figures import file_images, with_images
from papercoder.pipeline.prefix import layered_messages
from papercoder.pipeline.window import (
    ContextBudgetError,
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
ANALYSIS_TOKENS = 8192  # answer room of one file's analysis
ANALYSIS_GROUP = 4  # files per request by default


async def run_analysis(ctx: StageContext) -> None:
    """Write ``analysis/<file>.md`` for every file of the task list."""
    artifacts = load_artifacts(ctx.paths)
    files = artifacts.tasks.task_list
    total = len(files)
    done = 0
    limit = asyncio.Semaphore(max(1, ctx.concurrency))
    ctx.progress(STAGE, 0, total)

    def keep(path: str, text: str) -> None:
        nonlocal done
        write_inside(ctx.paths.analysis, analysis_name(path), text)
        done += 1
        ctx.progress(STAGE, done, total)

    async def analyse(group: list[str]) -> None:
        if len(group) > 1:
            async with limit:
                answered = await analyse_group(ctx, artifacts, group)
            if answered is None:  # no room for all their answers: halves, down to one file each
                half = (len(group) + 1) // 2
                await asyncio.gather(analyse(group[:half]), analyse(group[half:]))
                return
            sections, alone = answered
            for path, text in sections.items():
                keep(path, text)
        else:
            alone = group
        for path in alone:
            async with limit:
                text = await analyse_file(ctx, artifacts, path)
            keep(path, text)

    groups = group_files(files, analyses_per_call(ctx))
    results = await asyncio.gather(*(analyse(group) for group in groups), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:  # every analysis that succeeded is already on disk
        raise errors[0]


def analyses_per_call(ctx: StageContext) -> int:
    """Files per analysis request of this run: see :func:`files_per_request`."""
    return files_per_request(ctx.llm, ctx.analysis_group)


def files_per_request(llm: LLM, asked: int | None = None) -> int:
    """Files per analysis request: as asked, else the provider's own number (the embedded model
    says one), else :data:`ANALYSIS_GROUP`. The cost estimate asks it too, before a run exists."""
    if asked is not None:
        return max(1, int(asked))
    return max(1, int(getattr(llm.provider, "analyses_per_call", ANALYSIS_GROUP)))


def group_files(files: list[str], size: int) -> list[list[str]]:
    """``files`` in task order, cut into as few runs of at most ``size`` as possible, of even
    lengths (7 files by 4: 4 and 3), so the longest answer to wait for is as short as it can be."""
    if not files:
        return []
    count = -(-len(files) // max(1, size))
    base, extra = divmod(len(files), count)
    groups, start = [], 0
    for k in range(count):
        end = start + base + (k < extra)
        groups.append(files[start:end])
        start = end
    return groups


def analysis_name(path: str) -> str:
    """Where the analysis of ``path`` lives under ``analysis/``: the file path plus ``.md``."""
    return path + ".md"


def analysis_messages(
    ctx: StageContext, artifacts: PlanningArtifacts, path: str, window: int | None = None
) -> tuple[list[Message], int]:
    """The request for the analysis of ``path`` (fitted to ``window``) and its ``max_tokens``."""
    parts = _parts_for(artifacts, [path])
    entry = artifacts.tasks.entry_point
    images = file_images(ctx, _figure_text(parts), f"the analysis of {path}")

    def build(chosen: list[Part]) -> list[Message]:
        return with_images(layered_messages(
            chosen, lambda own: render("analysis/file", parts=own, path=path, is_entry=path == entry, entry_point=entry)
        ), images)

    window = window or ctx.llm.context_window
    default = stage_default(window, ANALYSIS_TOKENS, prose=True)
    messages, taken = fit_parts(
        parts, build, window=window, min_output=min_answer(window, default), steps=CONTEXT_FIT_STEPS,
        what=f"the analysis of {path}",
    )
    if taken:
        ctx.note(f"analysis of {path}: to fit the context window, " + "; ".join(taken))
    return messages, answer_room(window, messages, default)


def _figure_text(parts: list[Part]) -> str:
    """Where a file's request names the figures it needs: its logic design and its requirements."""
    return "\n".join(part.text for part in parts if part.key.startswith(("file-logic:", "requirements")))


def _parts_for(artifacts: PlanningArtifacts, paths: list[str]) -> list[Part]:
    """The shared context of every analysis request, then the logic design of each of ``paths``."""
    parts = artifacts.context_parts()
    for path in paths:
        logic = artifacts.tasks.logic_of(path)
        if logic.analysis:
            parts.append(Part(f"file-logic:{path}", f"The logic design of {path}", logic.analysis))
        parts += artifacts.requirements_part(path, key=f"requirements:{path}")
    return parts


def group_messages(
    ctx: StageContext, artifacts: PlanningArtifacts, group: list[str]
) -> tuple[list[Message], int]:
    """The request for the analyses of ``group`` and its ``max_tokens``.

    Nothing is cut to make it fit: a group whose context and answers do not fit the window
    raises :class:`ContextBudgetError`, and is then split in halves; one file alone is fitted.
    """
    parts = _parts_for(artifacts, group)
    entry = artifacts.tasks.entry_point
    window = ctx.llm.context_window
    default = len(group) * stage_default(window, ANALYSIS_TOKENS, prose=True)  # each file the room it has alone

    images = file_images(ctx, _figure_text(parts), f"the analyses of {', '.join(group)}")

    def build(chosen: list[Part]) -> list[Message]:
        return with_images(layered_messages(
            chosen,
            lambda own: render("analysis/files", parts=own, paths=group, entry_point=entry,
                               example=file_marker(group[0])),
        ), images)

    messages, _ = fit_parts(parts, build, window=window, min_output=default, steps=[],
                            what=f"the analyses of {', '.join(group)}")
    return messages, answer_room(window, messages, default)


async def analyse_group(
    ctx: StageContext, artifacts: PlanningArtifacts, group: list[str]
) -> tuple[dict[str, str], list[str]] | None:
    """Ask for the analyses of ``group`` in one request: ``({path: analysis}, files to ask alone)``,
    or None when the context window has no room for the request and all its answers.

    A file is asked again alone when its section is missing or empty, or when it is the last
    section of a cut answer (it may be incomplete) or comes after it.
    """
    what = f"analyses of {', '.join(group)}"
    try:
        messages, max_tokens = group_messages(ctx, artifacts, group)
        completion = await ctx.llm.acomplete(messages, max_tokens=max_tokens, stage=STAGE, allow_truncated=True)
    except (ContextBudgetError, ContextLengthError):
        ctx.note(f"{what}: no room in the context window for them in one answer; asked for in smaller groups")
        return None
    sections = split_by_file(completion.text, group)
    cut = completion.finish_reason == "length"
    if cut and sections:  # the last section may stop mid-sentence
        del sections[max(sections, key=group.index)]
    alone = [path for path in group if path not in sections]
    if alone:
        why = "the answer was cut at the output limit" if cut else "the answer has no section for them"
        ctx.note(f"{what}: {why}; asked for again alone: {', '.join(alone)}")
    return {path: text + "\n" for path, text in sections.items()}, alone


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
