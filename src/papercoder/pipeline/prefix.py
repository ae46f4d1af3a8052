"""One shared prefix for every request of a run, so the provider's prefix cache serves it.

Providers cache a request's leading tokens once an earlier request with the same start has been
processed. So every request of every stage starts with the same bytes: one system message
holding the role, the paper and the addendum; analyses and code files then get one message with
the planning artifacts in a fixed order (the same bytes for every file), then one with the
interface skeleton; the file's own part (its analysis, the instruction) comes last. The planning
conversation warms the first level; the skeleton request, which is [system, artifacts, own], the
second; the analysis wave the third, which the coding wave then reads.
"""

from __future__ import annotations

from collections.abc import Callable

from papercoder.llm import Message
from papercoder.pipeline.window import Part
from papercoder.prompts import render

ARTIFACTS = ("plan", "design", "logic", "config")  # the planning artifacts, in prefix order


def system_message(paper: str, addendum: str = "") -> Message:
    """The first message of every request: the role, the paper, the addendum."""
    return {"role": "system", "content": render("shared/system", paper=paper.strip(), addendum=addendum.strip())}


def paper_prefix(paper: str | None, addendum: str = "") -> list[Message]:
    """The prefix of a request outside a run: the system message with the paper, or nothing."""
    return [system_message(paper, addendum)] if paper and paper.strip() else []


def layered_messages(parts: list[Part], own: Callable[[list[Part]], str]) -> list[Message]:
    """System (paper, addendum), the planning artifacts, the skeleton, then ``own(the other parts)``.

    ``parts`` may lack some (fitting drops or shortens them); what is there keeps its place.
    """
    by_key = {part.key: part for part in parts}
    paper = by_key["paper"].text if "paper" in by_key else ""
    addendum = by_key["addendum"].text if "addendum" in by_key else ""
    messages = [system_message(paper, addendum)]
    artifacts = [by_key[key] for key in ARTIFACTS if key in by_key]
    if artifacts:
        messages.append({"role": "user", "content": render("shared/artifacts", parts=artifacts, skeleton=False)})
    if "interfaces" in by_key:
        messages.append({"role": "user", "content": render("shared/artifacts", parts=[by_key["interfaces"]], skeleton=True)})
    rest = [part for part in parts if part.key not in ARTIFACTS and part.key not in ("paper", "addendum", "interfaces")]
    messages.append({"role": "user", "content": own(rest)})
    return messages
