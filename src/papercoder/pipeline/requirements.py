"""The checklist: what the paper requires, made once planning has decided the files, before any code.

PaperBench grades a reproduction against a tree of requirements naming every experiment, baseline,
dataset and variant; coverage wins. So the requirements come first: right after the planning
turns (at the same time as the interface skeleton), the model reads **every** section of the
paper, appendix and addendum included, a group of sections at a time, and writes atomic
requirements in PaperBench's rubric shape. Each leaf keeps

- its weight, and the section it comes from;
- a short verbatim quote of the passage that states it, checked against the paper text (a quote
  that is not there is asked for again once, then the leaf is kept without one and counted);
- the planned files that own it (named by the model among the planned files; else the file whose
  logic design shares the most words with it; else the entry point).

``planning/checklist.json`` is a rubric ``papercoder grade --rubric`` reads, with ``section``,
``quote``, ``quote_found`` and ``files`` on each leaf. Every analysis and code request lists the
requirements its file owns; the verify stage judges the code against the same tree.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from papercoder.llm import LLM, ContextLengthError, Message, StructuredOutputError, TruncatedError
from papercoder.pipeline.inventory import Item
from papercoder.pipeline.prefix import system_message
from papercoder.pipeline.window import answer_room, min_answer, stage_default
from papercoder.prompts import render
from papercoder.repo.paths import write_inside
from papercoder.rubric import CODE_DEV, RubricNode, node_from_dict
from papercoder.tokens import estimate_tokens

GROUP_TOKENS = 12_000  # sections are asked for in groups of about this size, so answers stay complete
CHECKLIST_TOKENS = 8192
MIN_CHECKLIST_TOKENS = 2048  # a short section's requirements still need a few hundred words
MAX_WEIGHT = 10
MIN_QUOTE_WORDS = 4  # a shorter quote cannot locate a passage
MAX_REQUIREMENTS = 400  # more is a runaway answer: each requirement costs two judge calls a verify round
ADDENDUM_SECTION = "Addendum"


def _weight(value: Any) -> float:
    """A usable weight: a number from 1 to MAX_WEIGHT; anything else counts 1."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 1.0
    return min(float(MAX_WEIGHT), number) if number >= 1 else 1.0


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        value = re.split(r"[,\s]+", value)
    return [v.strip() for v in value if isinstance(v, str) and v.strip()] if isinstance(value, list) else []


class ChecklistItem(BaseModel):
    """One atomic requirement, checkable by reading the code."""

    requirement: str = Field(description="One requirement the code must meet, specific enough to check by reading it.")
    weight: float = Field(default=1, description="Importance from 1 to 10.")
    section: str = Field(default="", description="The heading of the section that states it.")
    quote: str = Field(default="", description="A short verbatim quote of the sentence that states it.")
    files: list[str] = Field(default_factory=list, description="The planned files that should implement it.")

    _coerce = field_validator("weight", mode="before")(lambda value: _weight(value))
    _strings = field_validator("section", "quote", mode="before")(lambda value: _text(value))
    _files = field_validator("files", mode="before")(lambda value: _names(value))


class ChecklistGroup(BaseModel):
    """A component or experiment of the paper and the requirements that make it up."""

    requirement: str = Field(description="The component, baseline, dataset or experiment, in one sentence.")
    weight: float = Field(default=1, description="Importance from 1 to 10.")
    items: list[ChecklistItem] = Field(default_factory=list)

    _coerce = field_validator("weight", mode="before")(lambda value: _weight(value))


class Checklist(BaseModel):
    """Everything the paper requires of a faithful implementation."""

    groups: list[ChecklistGroup] = Field(default_factory=list)


class QuoteFix(BaseModel):
    """Exact quotes for requirements whose first quote was not found in the paper."""

    quotes: dict[str, str] = Field(default_factory=dict, description="Requirement id -> a verbatim quote.")


@dataclass
class Requirement:
    """A leaf of the checklist and where it comes from."""

    id: str
    text: str
    weight: float
    section: str = ""
    quote: str = ""
    quote_found: bool = False
    files: list[str] = field(default_factory=list)


@dataclass
class ChecklistOutcome:
    """What building the checklist made and what went wrong, for the stage to record."""

    tree: RubricNode
    requirements: dict[str, Requirement]
    problems: list[str] = field(default_factory=list)  # unusable answers: the stage is degraded
    requests: int = 0
    unquoted: int = 0  # leaves kept without a verbatim quote
    dropped: int = 0  # requirements over the cap, the least weighted first
    owner_fallbacks: int = 0  # leaves whose owner the model did not name among the planned files


# --- parsing and checking what the model says -------------------------------------------------


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def quote_found(quote: str, paper: str) -> bool:
    """Whether ``quote`` is in ``paper`` word for word (case, spacing and punctuation aside)."""
    wanted = _normal(quote)
    return len(wanted.split()) >= MIN_QUOTE_WORDS and f" {wanted} " in f" {_normal(paper)} "


def choose_owners(named: list[str], requirement: str, files: dict[str, str], entry_point: str) -> tuple[list[str], bool]:
    """The planned files that own a requirement, and whether they had to be guessed.

    ``files`` maps each planned file to its logic design. The files the model named are kept when
    they are planned; with none left, the file whose logic design shares the most words with the
    requirement owns it, else the entry point.
    """
    owners: list[str] = []
    for name in named:
        path = name.strip().strip("`").removeprefix("./")
        if path in files and path not in owners:
            owners.append(path)
    if owners:
        return owners, False
    words = {w for w in _normal(requirement).split() if len(w) > 2}
    best, score = "", 0
    for path, logic in files.items():
        shared = len(words & set(_normal(logic + " " + path).split()))
        if shared > score:
            best, score = path, shared
    if best and score >= 2:
        return [best], True
    return ([entry_point] if entry_point in files or not files else [next(iter(files))]), True


def paper_sections(paper: str) -> list[tuple[str, int]]:
    """(heading, estimated tokens) of each top-level section of the paper's Markdown, in order."""
    sections: list[tuple[str, int]] = []
    for block in re.split(r"(?m)^(?=## )", paper):
        lines = block.strip().splitlines()
        if lines and lines[0].startswith("## "):
            sections.append((lines[0][3:].strip(), estimate_tokens(block)))
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


def merge_checklists(answers: list[Checklist]) -> Checklist:
    """The answers of several section groups as one checklist: groups of the same name merged,
    each requirement once (compared without case and punctuation), first occurrence first."""
    groups: dict[str, ChecklistGroup] = {}
    seen: set[str] = set()
    for answer in answers:
        for group in answer.groups:
            key = _normal(group.requirement)
            if not key:
                continue
            target = groups.setdefault(key, ChecklistGroup(requirement=group.requirement.strip(), weight=group.weight))
            for item in group.items:
                item_key = _normal(item.requirement)
                if item_key and item_key not in seen:
                    seen.add(item_key)
                    target.items.append(item.model_copy(update={"requirement": item.requirement.strip()}))
    return Checklist(groups=list(groups.values()))


def cap_checklist(checklist: Checklist, limit: int) -> tuple[Checklist, int]:
    """At most ``limit`` requirements: the least weighted go (the later ones among equals); the
    rest keep their order. Returns the checklist and how many went."""
    items = [(g, i, item) for g, group in enumerate(checklist.groups) for i, item in enumerate(group.items)]
    if len(items) <= limit:
        return checklist, 0
    ranked = sorted(items, key=lambda entry: (-entry[2].weight, entry[0], entry[1]))
    keep = {(g, i) for g, i, _ in ranked[:limit]}
    groups = [group.model_copy(update={"items": [item for i, item in enumerate(group.items) if (g, i) in keep]})
              for g, group in enumerate(checklist.groups)]
    return Checklist(groups=[g for g in groups if g.items]), len(items) - limit


def checklist_tree(checklist: Checklist, title: str, *, paper: str = "") -> tuple[RubricNode, dict[str, Requirement]]:
    """The checklist as a requirement tree (a root, one node per group, leaves ``g.i``) and each
    leaf's source and owners; quotes are checked against ``paper`` when it is given."""
    groups: list[RubricNode] = []
    meta: dict[str, Requirement] = {}
    for group in checklist.groups:
        items = [i for i in group.items if i.requirement.strip()]
        if not group.requirement.strip() or not items:
            continue
        number = str(len(groups) + 1)
        leaves = []
        for k, item in enumerate(items, start=1):
            leaf_id = f"{number}.{k}"
            leaves.append(RubricNode(id=leaf_id, requirements=item.requirement.strip(), weight=item.weight, task_category=CODE_DEV))
            found = quote_found(item.quote, paper) if paper else bool(item.quote)
            meta[leaf_id] = Requirement(leaf_id, item.requirement.strip(), item.weight, item.section, item.quote, found, list(item.files))
        groups.append(RubricNode(id=number, requirements=group.requirement.strip(), weight=group.weight, sub_tasks=leaves))
    root = RubricNode(id="root", requirements=f"The repository reproduces the paper \u201c{title}\u201d faithfully.", sub_tasks=groups)
    return root, meta


def tree_to_dict(node: RubricNode, meta: dict[str, Requirement] | None = None) -> dict[str, Any]:
    """PaperBench's JSON shape for a rubric node; leaves also carry their source and owners."""
    data: dict[str, Any] = {
        "id": node.id,
        "requirements": node.requirements,
        "weight": node.weight,
        "task_category": node.task_category,
        "finegrained_task_category": node.finegrained_task_category,
        "sub_tasks": [tree_to_dict(child, meta) for child in node.sub_tasks],
    }
    if meta and node.id in meta and node.is_leaf:
        req = meta[node.id]
        data.update(section=req.section, quote=req.quote, quote_found=req.quote_found, files=list(req.files))
    return data


def save_checklist(path: Path, tree: RubricNode, meta: dict[str, Requirement]) -> None:
    write_inside(path.parent, path.name, json.dumps(tree_to_dict(tree, meta), indent=2, ensure_ascii=False) + "\n")


def load_checklist(path: Path) -> tuple[RubricNode, dict[str, Requirement]]:
    """The tree and each leaf's source and owners (an InputError when the file is not a rubric)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    tree = node_from_dict(data, where=str(path))
    meta: dict[str, Requirement] = {}

    def visit(node: Any) -> None:
        if not isinstance(node, dict):
            return
        children = node.get("sub_tasks") or []
        if not children and node.get("id") is not None:
            leaf_id = str(node["id"])
            meta[leaf_id] = Requirement(
                leaf_id, str(node.get("requirements") or "").strip(), _weight(node.get("weight", 1)),
                _text(node.get("section")), _text(node.get("quote")), node.get("quote_found") is True,
                _names(node.get("files")),
            )
        for child in children if isinstance(children, list) else []:
            visit(child)

    visit(data)
    return tree, meta


def requirements_by_file(meta: dict[str, Requirement]) -> dict[str, list[Requirement]]:
    """Each owning file's requirements, in checklist order."""
    owned: dict[str, list[Requirement]] = {}
    for req in meta.values():
        for path in req.files:
            owned.setdefault(path, []).append(req)
    return owned


def render_requirements(requirements: list[Requirement]) -> str:
    """A file's requirements as the analysis and code requests list them."""
    return "\n".join(f"- [{r.id}] {r.text}" + (f" (from: {r.section})" if r.section else "") for r in requirements)


# --- asking the model -----------------------------------------------------------------------------


async def build_checklist(
    llm: LLM,
    paper: str,
    title: str,
    *,
    addendum: str = "",
    inventory: list[Item] | tuple[Item, ...] = (),
    files: dict[str, str] | None = None,
    entry_point: str = "main.py",
    full_paper: str = "",
    stage: str = "planning",
    note: Callable[[str], None] = lambda message: None,
    max_requirements: int = MAX_REQUIREMENTS,
    figures: Message | None = None,
) -> ChecklistOutcome:
    """Ask for the checklist, a group of sections at a time (the whole paper, appendix and addendum
    included), check its quotes and owners. ``files`` maps the planned files to their logic design
    (empty outside a run: leaves then have no owners); ``full_paper`` is the paper before it was
    condensed to fit, when it was, which quotes are checked against too. ``figures`` is planning's
    message of figures: after the paper, so a requirement a figure states (quoted by its caption) is
    listed too, and the cache serves it from the planning conversation."""
    files = dict(files or {})
    sections = paper_sections(paper)
    groups: list[list[str]] = section_groups(sections) if sections else [[]]
    if addendum.strip():
        groups.append([ADDENDUM_SECTION])
    system = system_message(paper, addendum)  # the run's shared prefix: the paper is read from the cache
    sizes = {name: tokens for name, tokens in sections} | {ADDENDUM_SECTION: estimate_tokens(addendum), "": estimate_tokens(paper)}
    outcome = ChecklistOutcome(tree=RubricNode(id="root", requirements=title), requirements={})

    async def ask(group: list[str]) -> Checklist | None:
        request = render("planning/checklist", inventory=list(inventory), sections=group, files=files,
                         addendum_only=group == [ADDENDUM_SECTION], figures=figures is not None)
        messages = [system, *([figures] if figures else []), {"role": "user", "content": request}]
        what = "the checklist" + (f" for {', '.join(group)}" if group else "")
        window = llm.context_window
        # room sized to the text the group covers (a cut answer is asked again with twice the room),
        # so the budget does not hold the worst case of a long answer for a short section
        covered = sizes.get(ADDENDUM_SECTION if group == [ADDENDUM_SECTION] else "", 0) if not group or group == [ADDENDUM_SECTION] \
            else sum(sizes.get(name, 0) for name in group)
        default = stage_default(window, min(CHECKLIST_TOKENS, max(MIN_CHECKLIST_TOKENS, covered // 2)))
        room = answer_room(window, messages, default)
        if room < min_answer(window, default):
            outcome.problems.append(f"{what} has no room for an answer in the context window of {window} tokens")
            return None
        outcome.requests += 1
        try:
            completion = await llm.acomplete(messages, max_tokens=room, schema=Checklist, stage=stage)
        except ContextLengthError:
            outcome.problems.append(f"the request for {what} did not fit the model's context window")
            return None
        except StructuredOutputError:
            outcome.problems.append(f"{what} was not valid JSON even after a repair turn")
            return None
        except TruncatedError:
            outcome.problems.append(f"{what} was cut at the output limit")
            return None
        parsed = completion.parsed
        return parsed if isinstance(parsed, Checklist) else Checklist.model_validate(parsed or {})

    if len(groups) > 1:
        note(f"checklist: {len(groups)} groups of sections, asked for at once")
    answers = await asyncio.gather(*(ask(group) for group in groups))
    source = paper + "\n" + addendum + "\n" + full_paper
    merged = merge_checklists([a for a in answers if a is not None])
    merged, outcome.dropped = cap_checklist(merged, max_requirements)
    if outcome.dropped:
        kept = sum(len(g.items) for g in merged.groups)
        note(f"checklist: the model listed {kept + outcome.dropped:,} requirements, which would take "
             f"{2 * (kept + outcome.dropped):,} judge calls a verify round; kept the {kept:,} weighted highest "
             f"(raise max_requirements in papercoder.toml to keep more)")
    tree, meta = checklist_tree(merged, title, paper=source)
    outcome.tree, outcome.requirements = tree, meta
    if not meta:
        return outcome
    await _ask_for_quotes(llm, system, meta, source, outcome, stage)
    outcome.unquoted = sum(1 for r in meta.values() if not r.quote_found)
    for req in meta.values():
        if not req.quote_found:
            req.quote = ""  # a quote that is not in the paper is no source
        if files:
            req.files, guessed = choose_owners(req.files, req.text, files, entry_point)
            outcome.owner_fallbacks += guessed
        else:
            req.files = []
    return outcome


async def _ask_for_quotes(
    llm: LLM, system: dict, meta: dict[str, Requirement], source: str, outcome: ChecklistOutcome, stage: str
) -> None:
    """Once: exact quotes for the leaves whose quote is not in the paper."""
    missing = [r for r in meta.values() if not r.quote_found]
    if not missing:
        return
    messages = [system, {"role": "user", "content": render("planning/checklist_quotes", requirements=missing)}]
    window = llm.context_window
    room = answer_room(window, messages, stage_default(window, CHECKLIST_TOKENS // 2))
    if room < 256:
        return  # no room to ask: the leaves stay, without a quote, and are counted
    outcome.requests += 1
    try:
        completion = await llm.acomplete(messages, max_tokens=room, schema=QuoteFix, stage=stage)
    except (StructuredOutputError, TruncatedError, ContextLengthError):
        return  # the leaves stay, without a quote, and are counted
    parsed = completion.parsed
    fix = parsed if isinstance(parsed, QuoteFix) else QuoteFix.model_validate(parsed or {})
    for leaf_id, quote in fix.quotes.items():
        req = meta.get(str(leaf_id))
        if req is not None and isinstance(quote, str) and quote_found(quote, source):
            req.quote, req.quote_found = quote.strip(), True
