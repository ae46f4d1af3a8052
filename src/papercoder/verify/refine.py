"""One refinement round: the failed requirements, grouped by the file the judge looked at, go to
the SEARCH/REPLACE edit loop shared with debugging."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from papercoder.evaluate.graded import LeafGrade
from papercoder.rubric import RubricNode
from papercoder.llm import LLM, Message
from papercoder.pipeline.repair import edit_loop, fit_context
from papercoder.prompts import render

STAGE = "verify"
MAX_LEAVES = 12  # failed requirements per request: more makes one answer too long to apply well


@dataclass(frozen=True)
class Failed:
    """A requirement the judge found unmet, and why."""

    id: str
    requirement: str
    reason: str
    file: str  # the file most relevant to it, as the judge was shown, or ""


def failed_leaves(tree: RubricNode, grades: dict[str, LeafGrade]) -> list[Failed]:
    """The leaves scored 0, in tree order, each with the first file its judge saw."""
    out = []
    for leaf in tree.leaves():
        grade = grades.get(leaf.id)
        if grade is not None and grade.score == 0:
            out.append(Failed(leaf.id, leaf.requirements, grade.explanation or grade.error or "not found", (grade.files or [""])[0]))
    return out


def refine_messages(llm: LLM, repo: Path, failed: list[Failed], paper: str, command: str | None) -> list[Message]:
    """The request for ``failed`` (at most MAX_LEAVES), grouped by file, with the repository's files."""
    by_file: dict[str, list[dict[str, str]]] = {}
    for leaf in failed:
        by_file.setdefault(leaf.file, []).append({"id": leaf.id, "requirement": leaf.requirement, "reason": leaf.reason})
    mentioned = " ".join(leaf.file for leaf in failed if leaf.file)
    files, omitted, paper_text = fit_context(llm, repo, mentioned, [], paper)
    request = render(
        "verify/refine",
        groups=sorted(by_file.items(), key=lambda item: (item[0] == "", item[0])),
        command=command or "",
        paper=paper_text,
        files=files,
        omitted=omitted,
    )
    return [{"role": "system", "content": render("debug/system")}, {"role": "user", "content": request}]


async def refine(llm: LLM, repo: Path, failed: list[Failed], paper: str, command: str | None) -> tuple[list[str], list[str], str]:
    """Edit ``repo`` towards the failed requirements, MAX_LEAVES at a time; (applied, failed, transcript)."""
    applied: list[str] = []
    not_applied: list[str] = []
    transcript: list[str] = []
    for start in range(0, len(failed), MAX_LEAVES):
        chunk = failed[start : start + MAX_LEAVES]
        done, missed, text = await edit_loop(llm, repo, refine_messages(llm, repo, chunk, paper, command), stage=STAGE)
        applied += done
        not_applied += missed
        transcript.append(f"# Requirements {', '.join(leaf.id for leaf in chunk)}\n\n{text}")
    return applied, not_applied, "\n".join(transcript)
