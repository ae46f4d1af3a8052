"""The Paper2Code correctness judge: n samples of a 1-5 score with critiques, for one repository.

Reference-free, the judge reads the paper and the repository; reference-based, also the
authors' code. The prompt holds the paper first, then (if given) the authors' code, then the
repository, each cut to the judge's context with the most relevant files first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from papercoder.evaluate.calls import UsageTally, ask_all, parse_outcome, split_choices
from papercoder.evaluate.judgecontext import Budget, paper_for_judge, make_budget
from papercoder.evaluate.files import Packed, RepoFile, RepoFiles, Ranker, collect_files, kind_rank, pack, render_files
from papercoder.evaluate.verdicts import ScoreSummary, Verdict, aggregate, parse_verdict, top_critiques
from papercoder.llm import LLM
from papercoder.paper import Paper
from papercoder.tokens import estimate_tokens
from papercoder.prompts import render

ANSWER_TOKENS = 4096  # critiques of a whole repository need room
PAPER_SHARE = 0.5  # at most this share of the room goes to the paper; the code needs the rest
MAX_LISTED = 40  # files named in a note to the judge


@dataclass
class EvalResult:
    """What ``papercoder eval`` reports and writes."""

    mode: str  # "reference-free" or "reference-based"
    model: str
    samples: int
    summary: ScoreSummary
    verdicts: list[Verdict]
    critiques: list[dict[str, Any]]  # the top critiques, most severe first
    included: list[str]
    omitted: list[str]  # readable files left out because the context was full
    skipped: dict[str, str]  # files not read at all, with the reason
    reference_included: list[str] = field(default_factory=list)
    reference_omitted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what else the judge did not see
    usage: UsageTally = field(default_factory=UsageTally)
    budget: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        s = self.summary
        return {
            "kind": "eval", "mode": self.mode, "model": self.model, "samples": self.samples,
            "score": {"mean": s.mean, "std": s.std, "valid": s.valid, "invalid": s.invalid,
                      "scores": s.scores, "invalid_reasons": s.invalid_reasons},
            "critiques": self.critiques,
            "files": {"included": self.included, "omitted": self.omitted, "skipped": self.skipped,
                      "reference_included": self.reference_included,
                      "reference_omitted": self.reference_omitted},
            "notes": self.notes, "budget": self.budget, "usage": self.usage.to_dict(),
            "verdicts": [v.to_dict() for v in self.verdicts],
        }


def code_and_config(found: RepoFiles) -> RepoFiles:
    """The files the paper's protocol judges: code and configuration; prose and scripts are set
    aside and listed as skipped, with the reason."""
    kept, skipped = [], dict(found.skipped)
    for item in found.files:
        name = item.path.rsplit("/", 1)[-1].lower()
        if name.endswith((".md", ".sh", ".txt", ".rst")):
            skipped[item.path] = "not judged: documentation and scripts (eval --all-files judges them)"
        else:
            kept.append(item)
    return replace(found, files=kept, skipped=dict(sorted(skipped.items())))


def order_for_eval(files: RepoFiles, paper_text: str) -> list[RepoFile]:
    """Code before configuration before prose; within a kind, the files closest to the paper first."""
    ranker = Ranker(files.files)
    scored = zip(ranker.scores(paper_text), files.files)
    return [f for s, f in sorted(scored, key=lambda sf: (kind_rank(sf[1].path), -sf[0], sf[1].path))]


def pack_for_eval(
    repo: RepoFiles, paper: Paper, budget: Budget, reference: RepoFiles | None = None
) -> tuple[str, Packed, Packed | None, list[str]]:
    """Split the budget: the paper (up to its share), then the repository, then the reference."""
    room = budget.available
    paper_text, notes = paper_for_judge(paper, int(room * PAPER_SHARE))
    left = max(0, room - estimate_tokens(paper_text))
    repo_budget = left if reference is None else left // 2
    packed = pack(order_for_eval(repo, paper_text), repo_budget)
    packed_ref = None
    if reference is not None:
        packed_ref = pack(order_for_eval(reference, paper_text), left - packed.tokens)
    return paper_text, packed, packed_ref, notes


def _omission_notes(packed: Packed, what: str) -> list[str]:
    if not packed.omitted:
        return []
    names = packed.omitted_paths
    listed = ", ".join(names[:MAX_LISTED]) + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")
    return [f"{len(names)} files of {what} did not fit and were left out: {listed}"]


async def evaluate_repo(
    repo: Path,
    paper: Paper,
    llm: LLM,
    *,
    reference: Path | None = None,
    n: int = 8,
    temperature: float | None = None,
    all_files: bool = False,
) -> EvalResult:
    """Score ``repo`` against ``paper`` (and the authors' code at ``reference``) with n samples.

    As the paper's protocol does, the judge sees the repository's code and configuration, not its
    README, shell scripts or requirements list (``all_files`` shows those too); the authors' code
    is shown whole."""
    repo_files = collect_files(repo)
    if not all_files:
        repo_files = code_and_config(repo_files)
    ref_files = collect_files(reference) if reference is not None else None
    has_ref = ref_files is not None
    system = render("evaluate/judge_system", reference=has_ref)
    skeleton = render("evaluate/judge_user", paper="", reference="x" if has_ref else "", repository="", notes=["x" * 400])
    budget = make_budget(llm.context_window, answer_tokens=ANSWER_TOKENS, overhead_text=system + skeleton)
    paper_text, packed, packed_ref, notes = pack_for_eval(repo_files, paper, budget, ref_files)
    judge_notes = _omission_notes(packed, "the repository") + (
        _omission_notes(packed_ref, "the authors' code") if packed_ref else []
    )
    user = render(
        "evaluate/judge_user",
        paper=paper_text,
        reference=render_files(packed_ref.included) if packed_ref else "",
        repository=render_files(packed.included) or "(the repository has no readable files)",
        notes=notes + judge_notes,
    )
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    tally = UsageTally()
    if n > 1 and llm.supports_n:  # the paper's protocol: n samples drawn in one request, the prompt billed once
        outcomes = await ask_all(
            [llm.acomplete(messages, max_tokens=budget.output, temperature=temperature, stage="eval", n=n,
                           allow_truncated=True)],
            tally,
        )
        outcomes = split_choices(outcomes[0], n)
    else:
        outcomes = await ask_all(
            [
                llm.acomplete(messages, max_tokens=budget.output, temperature=temperature, stage="eval", sample=i)
                for i in range(n)
            ],
            tally,
        )
    verdicts = [parse_outcome(o, parse_verdict) for o in outcomes]
    return EvalResult(
        mode="reference-based" if has_ref else "reference-free",
        model=llm.model,
        samples=n,
        summary=aggregate(verdicts),
        verdicts=verdicts,
        critiques=top_critiques(verdicts, limit=20),
        included=[f.path for f in packed.included],
        omitted=packed.omitted_paths,
        skipped=repo_files.skipped,
        reference_included=[f.path for f in packed_ref.included] if packed_ref else [],
        reference_omitted=packed_ref.omitted_paths if packed_ref else [],
        notes=notes + judge_notes,
        usage=tally,
        budget={"window": budget.window, "answer": budget.output, "prompt_estimate": (len(system) + len(user) + 3) // 4},
    )
