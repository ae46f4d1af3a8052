"""Planning's last turn: the interface skeleton, the contract every file is then written against.

One request after the four planning turns, shaped like every analysis and coding request (system
with the paper, then the planning artifacts, then its own instruction), so it also warms the
prefix those waves share. The answer is checked (:mod:`papercoder.pipeline.skeleton`); problems
get one repair turn asking again only for the files concerned; what is still wrong is recorded.
Saved as ``planning/interfaces.md``.
"""

from __future__ import annotations

from papercoder.llm import ContextLengthError, Message, TruncatedError
from papercoder.pipeline.artifacts import CONTEXT_FIT_STEPS, PlanningArtifacts, load_artifacts
from papercoder.rundir.context import StageContext
from papercoder.pipeline.prefix import layered_messages
from papercoder.pipeline.skeleton import diagram_names, parse_skeleton, review_skeleton, skeleton_document
from papercoder.pipeline.window import (
    answer_room,
    complete_text,
    fit_parts,
    min_answer,
    shorten,
    stage_default,
)
from papercoder.prompts import render
from papercoder.repo.paths import write_inside

STAGE = "planning"
INTERFACE_TOKENS = 16384
MAX_PROBLEMS_SHOWN = 20


def interface_messages(ctx: StageContext, artifacts: PlanningArtifacts) -> tuple[list[Message], int]:
    """The skeleton request (fitted to the window) and its ``max_tokens``."""
    files = [f for f in artifacts.tasks.task_list if f.endswith(".py")]

    def build(chosen):
        return layered_messages(chosen, lambda own: render("planning/interfaces", parts=own, files=files))

    window = ctx.llm.context_window
    default = stage_default(window, INTERFACE_TOKENS)
    messages, taken = fit_parts(
        artifacts.planning_parts(), build, window=window, min_output=min_answer(window, default), steps=CONTEXT_FIT_STEPS,
        what="the interface skeleton",
    )
    if taken:
        ctx.note("planning (interfaces): to fit the context window, " + "; ".join(taken))
    return messages, answer_room(window, messages, default)


async def write_interfaces(ctx: StageContext) -> dict[str, str]:
    """Ask for, check, repair once and save the skeleton; returns ``{path: stub source}``."""
    artifacts = load_artifacts(ctx.paths)
    files = [f for f in artifacts.tasks.task_list if f.endswith(".py")]
    if not files:
        return {}
    classes, methods = diagram_names(artifacts.design.class_diagram)
    messages, max_tokens = interface_messages(ctx, artifacts)
    answer = await _ask(ctx, messages, max_tokens, "the interface skeleton")
    skeleton = parse_skeleton(answer, files)
    problems = review_skeleton(skeleton, files, classes, methods)
    if problems:
        skeleton, problems = await _repair(ctx, messages, answer, skeleton, problems, files, classes, methods)
    for problem in problems:
        if "no skeleton was given" in problem or "does not parse" in problem:
            ctx.degrade(f"planning (interfaces): {problem}; that file is written from its analysis alone")
        else:
            ctx.note(f"planning (interfaces): still after a repair turn: {problem}")
    if not skeleton:
        ctx.degrade("planning (interfaces): the model gave no usable skeleton; files are written from the design and their analyses")
    write_inside(ctx.paths.planning, ctx.paths.interfaces.name, skeleton_document(skeleton, artifacts.tasks.task_list))
    return skeleton


async def _ask(ctx: StageContext, messages: list[Message], max_tokens: int, what: str) -> str:
    try:
        text, continued = await complete_text(ctx.llm, messages, max_tokens=max_tokens, stage=STAGE, what=what)
    except TruncatedError as exc:
        ctx.degrade(f"planning: {what} was cut at the output limit even after a continuation; the files it lacks are checked below")
        return exc.completion.text
    if continued:
        ctx.note(f"planning: {what} was cut at the output limit and continued once")
    return text


async def _repair(
    ctx: StageContext,
    messages: list[Message],
    answer: str,
    skeleton: dict[str, str],
    problems: list[str],
    files: list[str],
    classes: list[str],
    methods: dict[str, list[str]],
) -> tuple[dict[str, str], list[str]]:
    """One repair turn for the files concerned; keeps the result only if it has fewer problems."""
    missing = [f for f in files if f not in skeleton]
    turn = [
        *messages,
        {"role": "assistant", "content": shorten(answer, 60_000) or "(no answer)"},
        {"role": "user", "content": render("planning/interfaces_repair", problems=problems[:MAX_PROBLEMS_SHOWN], extra=missing)},
    ]
    window = ctx.llm.context_window
    default = stage_default(window, INTERFACE_TOKENS)
    room = answer_room(window, turn, default)
    if room < min_answer(window, default) // 2:
        ctx.note("planning (interfaces): no room in the context window for a repair turn")
        return skeleton, problems
    try:
        fixed_answer = await _ask(ctx, turn, room, "the repaired interface skeleton")
    except ContextLengthError:
        ctx.note("planning (interfaces): the repair turn did not fit the context window")
        return skeleton, problems
    merged = {**skeleton, **parse_skeleton(fixed_answer, files)}
    again = review_skeleton(merged, files, classes, methods)
    if len(again) < len(problems):
        ctx.note(f"planning (interfaces): a repair turn fixed {len(problems) - len(again)} of {len(problems)} problem(s)")
        return merged, again
    return skeleton, problems
