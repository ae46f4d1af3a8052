"""The verify stage's checklist: what the paper requires, as a PaperBench-shaped requirement tree.

The model reads the paper (and the addendum, and the plan's inventory as a reminder of what the
paper holds) and writes groups of atomic requirements that can be checked in code: "the loss is
the sum of X and Y as in Eq. 3", "the baseline B is implemented", "Table 2's metric M is computed
on split S". A long paper is asked for by groups of sections at once; the answers are merged and
de-duplicated. The tree is made from the paper only, never from a benchmark's hidden rubric, and
has the JSON shape ``papercoder grade --rubric`` reads (every leaf Code Development).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from pydantic import BaseModel, Field, field_validator

from papercoder.rubric import CODE_DEV, RubricNode
from papercoder.llm import LLM, StructuredOutputError, TruncatedError
from papercoder.pipeline.inventory import Item
from papercoder.pipeline.prefix import system_message
from papercoder.prompts import render

STAGE = "verify"
GROUP_TOKENS = 12_000  # a paper longer than this is asked for by groups of sections
CHECKLIST_TOKENS = 8192
MAX_WEIGHT = 10


def _weight(value: Any) -> float:
    """A usable weight: a number from 1 to MAX_WEIGHT; anything else counts 1."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 1.0
    return min(float(MAX_WEIGHT), number) if number >= 1 else 1.0


class ChecklistItem(BaseModel):
    """One atomic requirement, checkable by reading the code."""

    requirement: str = Field(description="One requirement the code must meet, specific enough to check by reading it.")
    weight: float = Field(default=1, description="Importance from 1 to 10.")

    _coerce = field_validator("weight", mode="before")(lambda value: _weight(value))


class ChecklistGroup(BaseModel):
    """A component or experiment of the paper and the requirements that make it up."""

    requirement: str = Field(description="The component, baseline, dataset or experiment, in one sentence.")
    weight: float = Field(default=1, description="Importance from 1 to 10.")
    items: list[ChecklistItem] = Field(default_factory=list)

    _coerce = field_validator("weight", mode="before")(lambda value: _weight(value))


class Checklist(BaseModel):
    """Everything the paper requires of a faithful implementation."""

    groups: list[ChecklistGroup] = Field(default_factory=list)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def merge_checklists(answers: list[Checklist]) -> Checklist:
    """The answers of several section groups as one checklist: groups of the same name merged,
    each requirement once (compared without case and punctuation), first occurrence first."""
    groups: dict[str, ChecklistGroup] = {}
    seen: set[str] = set()
    for answer in answers:
        for group in answer.groups:
            key = _norm(group.requirement)
            if not key:
                continue
            target = groups.setdefault(key, ChecklistGroup(requirement=group.requirement.strip(), weight=group.weight))
            for item in group.items:
                item_key = _norm(item.requirement)
                if item_key and item_key not in seen:
                    seen.add(item_key)
                    target.items.append(ChecklistItem(requirement=item.requirement.strip(), weight=item.weight))
    return Checklist(groups=list(groups.values()))


def checklist_tree(checklist: Checklist, title: str) -> RubricNode:
    """The checklist as a requirement tree: a root, one node per group, leaves ``g.i``."""
    groups: list[RubricNode] = []
    for group in checklist.groups:
        items = [i for i in group.items if i.requirement.strip()]
        if not group.requirement.strip() or not items:
            continue
        number = str(len(groups) + 1)
        leaves = [
            RubricNode(id=f"{number}.{k}", requirements=item.requirement.strip(), weight=item.weight, task_category=CODE_DEV)
            for k, item in enumerate(items, start=1)
        ]
        groups.append(RubricNode(id=number, requirements=group.requirement.strip(), weight=group.weight, sub_tasks=leaves))
    return RubricNode(id="root", requirements=f"The repository reproduces the paper \u201c{title}\u201d faithfully.", sub_tasks=groups)


def tree_to_dict(node: RubricNode) -> dict[str, Any]:
    """PaperBench's JSON shape for a rubric node (what ``grade --rubric`` and ``load_rubric`` read)."""
    return {
        "id": node.id,
        "requirements": node.requirements,
        "weight": node.weight,
        "task_category": node.task_category,
        "finegrained_task_category": node.finegrained_task_category,
        "sub_tasks": [tree_to_dict(child) for child in node.sub_tasks],
    }


def paper_sections(paper: str) -> list[tuple[str, int]]:
    """(heading, estimated tokens) of each top-level section of the paper's Markdown, in order."""
    sections: list[tuple[str, int]] = []
    for block in re.split(r"(?m)^(?=## )", paper):
        lines = block.strip().splitlines()
        if lines and lines[0].startswith("## "):
            sections.append((lines[0][3:].strip(), len(block) // 4 + 1))
    return sections


def section_groups(sections: list[tuple[str, int]], max_tokens: int = GROUP_TOKENS) -> list[list[str]]:
    """Consecutive sections packed into groups of at most ``max_tokens`` (a larger section alone)."""
    groups: list[list[str]] = []
    size = 0
    for name, tokens in sections:
        if groups and size + tokens <= max_tokens:
            groups[-1].append(name)
            size += tokens
        else:
            groups.append([name])
            size = tokens
    return groups


async def build_checklist(
    llm: LLM, paper: str, title: str, *, addendum: str = "", inventory: list[Item] | tuple[Item, ...] = (),
    note=lambda message: None,
) -> tuple[RubricNode, list[str]]:
    """Ask for the checklist (by section groups for a long paper, at once); the tree and what went
    wrong (groups whose answer was unusable), for the caller to record."""
    sections = paper_sections(paper)
    total = len(paper) // 4 + 1
    groups: list[list[str] | None] = [None] if total <= GROUP_TOKENS or len(sections) < 2 else section_groups(sections)
    system = system_message(paper, addendum)  # the run's shared prefix: the paper is read from the cache
    problems: list[str] = []

    async def ask(group: list[str] | None) -> Checklist | None:
        request = render("verify/checklist", inventory=list(inventory), sections=group)
        messages = [system, {"role": "user", "content": request}]
        what = "the checklist" + (f" for {', '.join(group)}" if group else "")
        try:
            completion = await llm.acomplete(messages, max_tokens=CHECKLIST_TOKENS, schema=Checklist, stage=STAGE)
        except StructuredOutputError:
            problems.append(f"{what} was not valid JSON even after a repair turn")
            return None
        except TruncatedError:
            problems.append(f"{what} was cut at the output limit")
            return None
        parsed = completion.parsed
        return parsed if isinstance(parsed, Checklist) else Checklist.model_validate(parsed or {})

    if len(groups) > 1:
        note(f"verify: the paper is about {total:,} tokens; the checklist is asked for by {len(groups)} groups of sections")
    answers = await asyncio.gather(*(ask(group) for group in groups))
    tree = checklist_tree(merge_checklists([a for a in answers if a is not None]), title)
    return tree, problems
