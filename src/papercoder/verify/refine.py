"""One refinement round: the failed requirements, one request per file that owns them, all at once.

Each request starts with the run's shared prefix (the paper whole, the plan, the skeleton, from
the provider's cache), then its own part: the requirements that file owns and why the reviewer
found them unmet, the passages of the paper that state them when the paper was condensed to fit,
the repository's files (the owner first) and refinement's own rules: implement what is missing,
as the paper states it, keeping the smoke path working. Debugging's minimal-change rule is not
refinement's: a missing baseline is an addition.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import re
from dataclasses import dataclass
from pathlib import Path

from papercoder.evaluate.graded import LeafGrade
from papercoder.llm import LLM, Message
from papercoder.pipeline.repair import edit_loop, fit_context
from papercoder.pipeline.requirements import Requirement, quote_found
from papercoder.prompts import render
from papercoder.rubric import RubricNode

STAGE = "verify"
MAX_LEAVES = 12  # failed requirements per request: more makes one answer too long to apply well
PASSAGE_CHARS = 1500  # the paragraph around a requirement's quote, at most


@dataclass(frozen=True)
class Failed:
    """A requirement the judge found unmet, why, and the file that owns it."""

    id: str
    requirement: str
    reason: str
    file: str  # the file that owns it (the checklist's), else the first the judge saw, else ""
    quote: str = ""  # the passage of the paper that states it, when the checklist has one


def failed_leaves(tree: RubricNode, grades: dict[str, LeafGrade], owners: dict[str, Requirement] | None = None) -> list[Failed]:
    """The leaves scored 0, in tree order, each with its owning file."""
    out = []
    for leaf in tree.leaves():
        grade = grades.get(leaf.id)
        if grade is None or grade.score != 0:
            continue
        source = (owners or {}).get(leaf.id)
        owner = (source.files[0] if source and source.files else "") or (grade.files or [""])[0]
        out.append(Failed(leaf.id, leaf.requirements, grade.explanation or grade.error or "not found", owner,
                          source.quote if source else ""))
    return out


ImagesFor = Callable[[str, str], list[dict]]  # (text naming figures, what the request is) -> the images it carries


def passage(quote: str, paper: str) -> str:
    """The paragraph of ``paper`` that holds ``quote`` (at most PASSAGE_CHARS), or ""."""
    if not quote or not paper:
        return ""
    for paragraph in re.split(r"\n\s*\n", paper):
        if quote_found(quote, paragraph):
            text = paragraph.strip()
            return text if len(text) <= PASSAGE_CHARS else text[:PASSAGE_CHARS] + " [...]"
    return ""


def refine_messages(
    llm: LLM, repo: Path, owner: str, failed: list[Failed], prefix: list[Message], command: str | None, *, full_paper: str = "",
    images_for: ImagesFor | None = None,
) -> list[Message]:
    """The request for ``failed`` (at most MAX_LEAVES, all owned by ``owner``) after ``prefix``;
    with ``images_for``, it carries the figures its requirements and their passages name."""
    quoted = [(leaf.id, passage(leaf.quote, full_paper)) for leaf in failed] if full_paper else []
    mentioned = " ".join([owner, *(leaf.requirement for leaf in failed)])
    files, omitted = fit_context(llm, repo, mentioned, [], prefix, first=(owner,) if owner else ())
    request = render(
        "verify/refine",
        owner=owner,
        leaves=[{"id": leaf.id, "requirement": leaf.requirement, "reason": leaf.reason} for leaf in failed],
        passages=[(leaf_id, text) for leaf_id, text in quoted if text],
        command=command or "",
        files=files,
        omitted=omitted,
    )
    message: Message = {"role": "user", "content": request}
    if images_for is not None:
        named = " ".join([mentioned, *(leaf.quote for leaf in failed), *(text for _, text in quoted)])
        images = images_for(named, f"refining {owner or 'the repository'} ({', '.join(leaf.id for leaf in failed)})")
        if images:
            message["images"] = images
    return [*prefix, message]


def by_owner(failed: list[Failed]) -> list[tuple[str, list[Failed]]]:
    """The failed requirements grouped by owning file (at most MAX_LEAVES a group), owners in order."""
    groups: dict[str, list[Failed]] = {}
    for leaf in failed:
        groups.setdefault(leaf.file, []).append(leaf)
    out = []
    for owner, leaves in sorted(groups.items(), key=lambda item: (item[0] == "", item[0])):
        out += [(owner, leaves[i : i + MAX_LEAVES]) for i in range(0, len(leaves), MAX_LEAVES)]
    return out


async def refine(
    llm: LLM, repo: Path, failed: list[Failed], prefix: list[Message], command: str | None, *, full_paper: str = "",
    images_for: ImagesFor | None = None,
) -> tuple[list[str], list[str], str]:
    """Edit ``repo`` towards the failed requirements, one request per owning file (the first alone,
    the rest concurrently); (applied, not applied, transcript). Each answer's edits are applied as
    it arrives."""
    groups = by_owner(failed)

    async def one(owner: str, leaves: list[Failed]) -> tuple[list[str], list[str], str]:
        messages = refine_messages(llm, repo, owner, leaves, prefix, command, full_paper=full_paper, images_for=images_for)
        return await edit_loop(llm, repo, messages, stage=STAGE)

    # the first request alone, then the others at once: providers cache a prefix only once a request
    # with it has been processed, so the others read the paper and the plan from the cache
    first = [await one(*groups[0])] if groups else []
    results = first + list(await asyncio.gather(*(one(owner, leaves) for owner, leaves in groups[1:])))
    applied: list[str] = []
    not_applied: list[str] = []
    transcript: list[str] = []
    for (owner, leaves), (done, missed, text) in zip(groups, results):
        applied += done
        not_applied += missed
        transcript.append(f"# {owner or 'No owning file'}: requirements {', '.join(leaf.id for leaf in leaves)}\n\n{text}")
    return applied, not_applied, "\n".join(transcript)
