"""Stage 1, planning: one conversation of four turns from the paper to a checked plan, then the
interface skeleton.

Turns: overall plan (Markdown) -> architecture design (:class:`Design`) -> logic design
(:class:`LogicDesign`) -> ``config.yaml``; then one request for the interface skeleton
(:mod:`papercoder.pipeline.interfaces`), shaped like the analysis and coding requests. Each structured answer is checked
(:mod:`papercoder.pipeline.plancheck`); problems get one repair turn, and what is still wrong
after it is fixed by a deterministic fallback, noted in the run log. Later turns see the checked
answers, so the conversation stays consistent with what is written to disk.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel

from papercoder.errors import InputError
from papercoder.llm import Completion, Message, StructuredOutputError
from papercoder.pipeline.codeblocks import extract_code, fenced_blocks
from papercoder.pipeline.artifacts import load_artifacts, paper_title, read_addendum
from papercoder.rundir.context import StageContext
from papercoder.pipeline.interfaces import write_interfaces
from papercoder.pipeline.requirements import ChecklistOutcome, build_checklist, save_checklist
from papercoder.pipeline.inventory import parse_inventory, save_inventory
from papercoder.llm.images import without_image_data
from papercoder.pipeline.figures import planning_message
from papercoder.pipeline.prefix import system_message
from papercoder.pipeline.plancheck import Review, review_design, review_logic, salvage_design
from papercoder.pipeline.schemas import Design, LogicDesign, TaskPlan, dump_model
from papercoder.pipeline.window import (
    ContextBudgetError,
    answer_room,
    fit_conversation,
    min_answer,
    shorten,
    stage_default,
    with_window_retries,
)
from papercoder.prompts import render
from papercoder.repo.paths import write_inside
from papercoder.repo.yamlread import load_yaml, numbers_as_numbers

STAGE = "planning"
PLAN_TOKENS = 12288  # answer limits are safety bounds sized for a capable model on a long paper
DESIGN_TOKENS = 12288
LOGIC_TOKENS = 16384
CONFIG_TOKENS = 4096
TURNS = 6  # four conversation turns, then the skeleton and the checklist at once
REPAIR_QUOTE = 6000  # characters of a wrong answer quoted back in its repair turn
EMPTY_CONFIG = "# papercoder: the model gave no usable config.yaml; the code uses its own documented defaults\n{}\n"

M = TypeVar("M", bound=BaseModel)


async def run_planning(ctx: StageContext) -> None:
    """Plan the repository for ``ctx.paths.paper``; write ``planning/*`` (see RunPaths)."""
    if not ctx.paths.paper.is_file():
        raise InputError(f"{ctx.paths.paper} does not exist; ingest the paper into the run directory first")
    paper = ctx.paths.paper.read_text(encoding="utf-8")
    if not paper.strip():
        raise InputError(f"{ctx.paths.paper} is empty; ingest the paper again")
    addendum = read_addendum(ctx.paths)
    talk = _Conversation(ctx, paper, addendum)
    ctx.progress(STAGE, 0, TURNS)

    plan = await talk.text_turn(render("planning/overall_plan"), PLAN_TOKENS, "overall plan")
    write_inside(ctx.paths.planning, "plan.md", plan.strip() + "\n")
    inventory = parse_inventory(plan)
    save_inventory(ctx.paths.inventory, inventory)
    if not inventory:
        ctx.degrade("planning: the overall plan has no inventory of experiments, baselines and datasets to cover")
    ctx.progress(STAGE, 1, TURNS)

    design = await talk.json_turn(
        render("planning/architecture_design"), Design, review_design, salvage_design, "architecture design",
        DESIGN_TOKENS,
    )
    write_inside(ctx.paths.planning, "design.json", dump_model(design))
    write_inside(ctx.paths.planning, "diagrams/class.mmd", design.class_diagram)
    write_inside(ctx.paths.planning, "diagrams/sequence.mmd", design.sequence_diagram)
    ctx.progress(STAGE, 2, TURNS)

    tasks: TaskPlan = await talk.json_turn(
        render("planning/logic_design", files=design.file_list, entry_point=design.entry_point, inventory=inventory),
        LogicDesign,
        lambda logic: review_logic(logic, design, inventory),
        lambda text: LogicDesign(required_packages=[], logic_analysis=[], task_list=[]),
        "logic design",
        LOGIC_TOKENS,
    )
    write_inside(ctx.paths.planning, "tasks.json", dump_model(tasks))
    ctx.progress(STAGE, 3, TURNS)

    config = await talk.config_turn()
    write_inside(ctx.paths.planning, "config.yaml", config)
    ctx.progress(STAGE, 4, TURNS)

    talk.save(ctx.paths.planning / "conversation.json")
    # the skeleton and the checklist need the same decided plan, not each other: at the same time,
    # so the requirements cost the critical path nothing
    await asyncio.gather(write_interfaces(ctx), write_requirements(ctx))
    ctx.progress(STAGE, TURNS, TURNS)


async def write_requirements(ctx: StageContext) -> ChecklistOutcome:
    """Planning's checklist step: build ``planning/checklist.json`` from the paper and the plan."""
    artifacts = load_artifacts(ctx.paths)
    tasks = artifacts.tasks
    files = {path: tasks.logic_of(path).analysis.strip() or path for path in tasks.task_list}
    full = ctx.paths.paper_full.read_text(encoding="utf-8") if ctx.paths.paper_full.is_file() else ""
    outcome = await build_checklist(
        ctx.llm, artifacts.paper, paper_title(artifacts.paper), addendum=artifacts.addendum,
        inventory=artifacts.inventory, files=files, entry_point=tasks.entry_point, full_paper=full,
        note=ctx.note, max_requirements=_requirement_cap(), figures=planning_message(ctx),
    )
    save_checklist(ctx.paths.checklist, outcome.tree, outcome.requirements)
    for problem in outcome.problems:
        ctx.degrade(f"planning (checklist): {problem}")
    if not outcome.requirements:
        ctx.degrade("planning (checklist): the model gave no usable checklist; files are written without requirements")
        return outcome
    if outcome.unquoted or outcome.owner_fallbacks:
        ctx.note(
            f"planning (checklist): of {len(outcome.requirements)} requirements, {outcome.unquoted} have no verbatim "
            f"quote of the paper and {outcome.owner_fallbacks} had their files guessed"
        )
    return outcome



def _requirement_cap() -> int:
    """``max_requirements`` from the config file, else the default cap."""
    from papercoder.config import configured
    from papercoder.pipeline.requirements import MAX_REQUIREMENTS

    return configured("max_requirements") or MAX_REQUIREMENTS


class _Conversation:
    """The planning conversation: its messages, every raw answer, and how to ask a turn."""

    def __init__(self, ctx: StageContext, paper: str, addendum: str = ""):
        self.ctx = ctx
        self.paper = paper.strip()
        self.window = ctx.llm.context_window
        # the run's shared prefix: every later stage's requests start with this same message
        self.messages: list[Message] = [system_message(paper, addendum)]
        figures = planning_message(ctx)
        if figures:  # right after the paper, in the cached prefix of every later turn
            self.messages.append(figures)
        self.offset = len(self.messages) - 1  # the earlier answers' places move by the figures message
        self.answers: list[dict[str, str]] = []  # every answer as the model gave it, repairs included

    def _fit(self, messages: list[Message], default: int, prose: bool) -> tuple[list[Message], int]:
        """The messages cut to fit the window (the plan first, then the paper) and ``max_tokens``."""
        window = self.window
        default = stage_default(window, default, prose=prose)
        # earlier answers give way first (the plan, the design, the logic design), the paper last
        answers = [
            (index, messages[index]["content"], f"shortened the {name} in the conversation")
            for index, name in ((2 + self.offset, "overall plan"), (4 + self.offset, "design"), (6 + self.offset, "logic design"))
            if index < len(messages) - 1 and messages[index]["role"] == "assistant"
        ]
        fitted, taken = fit_conversation(
            messages,
            window=window,
            min_output=min_answer(window, default),
            shrinkable=[*answers, (0, self.paper, "shortened the paper")],
        )
        for step in taken:
            self.ctx.note(f"planning: {step} to fit the context window of {window} tokens")
        return fitted, answer_room(window, fitted, default)

    async def _ask(
        self, messages: list[Message], default: int, *, prose: bool = False, **kwargs: Any
    ) -> tuple[str, Any, str]:
        async def attempt(window: int) -> Completion:
            self.window = window  # once the model rejects a length, later turns keep the smaller window
            fitted, max_tokens = self._fit(messages, default, prose)
            return await self.ctx.llm.acomplete(
                fitted, max_tokens=max_tokens, stage=STAGE, allow_truncated=True, **kwargs
            )

        completion = await with_window_retries(self.ctx.llm, attempt, self.ctx.note, "planning", start=self.window)
        return completion.text, completion.parsed, completion.finish_reason

    async def text_turn(self, prompt: str, default: int, what: str) -> str:
        self.messages.append({"role": "user", "content": prompt})
        text, _, finish = await self._ask(self.messages, default, prose=True)
        self.answers.append({"turn": what, "text": text})
        if finish == "length":
            self.ctx.degrade(f"planning: the {what} was cut at the output limit even with more room; kept as it is")
        if not text.strip():
            self.ctx.degrade(f"planning: the model wrote an empty {what}")
            text = f"(the model wrote no {what})"
        self.messages.append({"role": "assistant", "content": text})
        return text

    async def json_turn(
        self,
        prompt: str,
        schema: type[M],
        review: Callable[[M], Review[Any]],
        salvage: Callable[[str], M],
        what: str,
        default: int,
    ) -> Any:
        """Ask for ``schema``; check it; one repair turn for problems; fall back for the rest."""
        self.messages.append({"role": "user", "content": prompt})
        text, parsed = await self._ask_json(self.messages, schema, default, what)
        result = review(parsed if parsed is not None else salvage(text))
        if parsed is not None and result.problems:
            repair = self._repair(text, render("planning/repair", what=what, problems=result.problem_text()))
            try:
                _, parsed2 = await self._ask_json(repair, schema, default, what)
            except ContextBudgetError:
                self.ctx.note(f"planning: no room in the context window for a repair turn of the {what}")
                parsed2 = None
            if parsed2 is not None:
                second = review(parsed2)
                if len(second.problems) <= len(result.problems):
                    result = second
        for fix in result.fixes:
            self.ctx.note(f"planning ({what}): {fix}")
        for fallback in result.fallbacks:
            self.ctx.degrade(f"planning ({what}): {fallback}")
        # later turns see the checked answer, not the raw one
        self.messages.append({"role": "assistant", "content": dump_model(result.value)})
        return result.value

    def _repair(self, answer: str, request: str) -> list[Message]:
        """The conversation, the answer to repair (quoted at most ``REPAIR_QUOTE`` characters), the request."""
        return [
            *self.messages,
            {"role": "assistant", "content": shorten(answer, REPAIR_QUOTE)},
            {"role": "user", "content": request},
        ]

    async def _ask_json(
        self, messages: list[Message], schema: type[M], default: int, what: str
    ) -> tuple[str, M | None]:
        try:
            text, parsed, _ = await self._ask(messages, default, schema=schema)
        except StructuredOutputError as exc:
            self.answers.append({"turn": what, "text": exc.text})
            self.ctx.degrade(f"planning: the {what} was not valid JSON even after a repair turn; using what could be salvaged")
            return exc.text, None
        self.answers.append({"turn": what, "text": text})
        return text, parsed

    async def config_turn(self) -> str:
        """Turn 4: config.yaml; invalid YAML gets one repair turn, then an empty config."""
        self.messages.append({"role": "user", "content": render("planning/config")})
        text, _, _ = await self._ask(self.messages, CONFIG_TOKENS)
        self.answers.append({"turn": "config", "text": text})
        config, error = parse_config(text)
        if error:
            repair = self._repair(text, render("planning/config_repair", error=error))
            try:
                text, _, _ = await self._ask(repair, CONFIG_TOKENS)
                self.answers.append({"turn": "config", "text": text})
                config, error = parse_config(text)
            except ContextBudgetError:
                self.ctx.note("planning: no room in the context window for a repair turn of config.yaml")
        if error:
            self.ctx.degrade(f"planning: config.yaml was still invalid after a repair turn ({error}); wrote an empty config")
            config = EMPTY_CONFIG
        elif not load_yaml(config):
            self.ctx.degrade("planning: config.yaml holds no settings; the code uses its own documented defaults")
        self.messages.append({"role": "assistant", "content": "```yaml\n" + config.strip() + "\n```"})
        return config

    def save(self, path: Path) -> None:
        data = {"messages": without_image_data({"messages": self.messages})["messages"], "answers": self.answers}
        write_inside(path.parent, path.name, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def parse_config(text: str) -> tuple[str, str]:
    """The YAML of a config answer and ``""``, or ``""`` and what is wrong with it.

    Takes the ```yaml block if there is one; the document must be a mapping with string keys
    (an empty document counts as an empty mapping).
    """
    body = extract_code(text, "config.yaml") if fenced_blocks(text) else text.strip() + "\n"
    body = numbers_as_numbers(body)  # "lr: 1e-4" loads as a string in YAML 1.1; "1.0e-4" as the number the paper gives
    try:
        data = load_yaml(body)
    except yaml.YAMLError as exc:
        return "", "it is not valid YAML: " + " ".join(str(exc).split())[:300]
    if data is None:
        return "{}\n" if not body.strip() else body, ""
    if not isinstance(data, dict):
        return "", f"it holds a {type(data).__name__}, not a mapping of keys to values"
    if not all(isinstance(key, str) for key in data):
        return "", "some of its top-level keys are not strings"
    return body, ""
