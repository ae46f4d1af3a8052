"""PaperBench-style grading: each rubric leaf judged 0 or 1, then the tree's weighted score.

Every leaf gets its own call with the paper and the repository files most relevant to that
leaf's requirement (lexical relevance, within the judge's context). All leaves are asked at
once under the LLM's concurrency limit; with a call log, a rerun is answered from the log.
"""

from __future__ import annotations

from pathlib import Path

from papercoder.evaluate.calls import UsageTally, ask_all, parse_outcome
from papercoder.evaluate.judgecontext import paper_for_judge, make_budget
from papercoder.evaluate.files import LOG_SUFFIXES, RepoFile, Ranker, collect_files, pack, render_files
from papercoder.evaluate.verdicts import Verdict, parse_leaf_verdict
from papercoder.evaluate.graded import GradeResult, LeafGrade
from papercoder.rubric import CODE_DEV, RubricNode, code_dev_only, score_tree
from papercoder.errors import InputError
from papercoder.llm import LLM
from papercoder.paper import Paper
from papercoder.tokens import estimate_tokens
from papercoder.prompts import render

ANSWER_TOKENS = 1024
PAPER_SHARE = 0.6  # a leaf needs the paper more than the whole repository
FILES_TOKENS = 24_000  # repository text per leaf, at most (see grade_repo)


def leaf_query(leaf: RubricNode, ancestors: tuple[RubricNode, ...]) -> str:
    """The text that decides which files a leaf sees: its requirement, plus its parent's."""
    parent = ancestors[-1].requirements if len(ancestors) > 1 else ""  # the root says only "replicate the paper"
    return f"{leaf.requirements}\n{leaf.requirements}\n{parent}"


def _ancestry_text(ancestors: tuple[RubricNode, ...]) -> str:
    return "".join(a.requirements for a in ancestors)


def _leaf_prompt(
    node: RubricNode,
    ancestors: tuple[RubricNode, ...],
    ranker: Ranker,
    paper_text: str,
    file_budget: int,
    systems: dict[str | None, str],
    owners: list[str] | tuple[str, ...] = (),
) -> tuple[RubricNode, list[dict[str, str]], list[RepoFile], int]:
    """The messages for one leaf, the files they show, and how many files they leave out."""
    ranked = [(s, f) for s, f in ranker.ranked(leaf_query(node, ancestors))
              if node.task_category != CODE_DEV or not _is_output(f.path)]
    # The files that own the requirement first; then only files sharing a term with it; when
    # none does, every file in rank order, so the judge can at least say what is missing.
    owned = [f for owner in owners for _, f in ranked if f.path == owner]
    candidates = owned + [f for s, f in ranked if s > 0 and f not in owned] or [f for _, f in ranked]
    packed = pack(candidates, file_budget)
    shown = {f.path for f in packed.included}
    not_shown = [f.path for _, f in ranked if f.path not in shown]
    user = render(
        "evaluate/leaf_user",
        paper=paper_text,
        repository=render_files(packed.included) or "(no readable files in the repository)",
        omitted=", ".join(not_shown[:30]) + (f" and {len(not_shown) - 30} more" if len(not_shown) > 30 else ""),
        ancestors=[a.requirements for a in ancestors],
        requirement=node.requirements,
    )
    messages = [{"role": "system", "content": systems[node.task_category]}, {"role": "user", "content": user}]
    return node, messages, packed.included, len(not_shown)


def _is_output(path: str) -> bool:
    name = Path(path).name
    return Path(path).suffix.lower() in LOG_SUFFIXES and not name.startswith("requirements")


async def grade_repo(
    repo: Path,
    paper: Paper,
    rubric: RubricNode,
    llm: LLM,
    *,
    code_dev: bool = False,
    temperature: float | None = None,
    files_tokens: int | None = FILES_TOKENS,
    retries: int = 1,
    stage: str = "grade",
    owners: dict[str, list[str]] | None = None,
) -> GradeResult:
    """Grade every leaf of ``rubric`` (only Code Development leaves with ``code_dev``).

    ``files_tokens`` caps the repository text shown per leaf (None: whatever the context
    holds). Every leaf also carries the paper, so on a large context the cap is what keeps
    grading a 70-leaf rubric from costing 70 full windows. A leaf whose answer is unusable
    is asked again up to ``retries`` times; if none is usable it scores 0, counted invalid.
    ``stage`` labels the calls in the call log (the verify stage grades its own checklist).
    ``owners`` names, per leaf id, the files that implement it: they are shown first, then the
    files most relevant to the requirement.

    The first leaf is asked alone, then the others together: every leaf's prompt starts with
    the same system message and paper, and providers cache that prefix only once a request with
    it has been processed, so the others read the paper from the cache.
    """
    tree = code_dev_only(rubric) if code_dev else rubric
    if tree is None:
        raise InputError("the rubric has no Code Development leaves; grade it without --code-dev")
    found = collect_files(repo, include_logs=not code_dev)
    ranker = Ranker(found.files)
    systems = {c: render("evaluate/leaf_system", category=c) for c in {leaf.task_category for leaf in tree.leaves()}}
    skeleton = render("evaluate/leaf_user", paper="", repository="", omitted="x" * 1200, ancestors=[], requirement="")
    walked = [(node, ancestors) for node, _, ancestors in tree.walk() if node.is_leaf]
    # One budget for all leaves (the largest prompt frame), so every leaf gets the same paper
    # text: an identical prefix is what providers' prompt caches reuse.
    longest = max(len(_ancestry_text(ancestors)) + len(node.requirements) for node, ancestors in walked)
    budget = make_budget(llm.context_window, answer_tokens=ANSWER_TOKENS,
                         overhead_text=max(systems.values(), key=len) + skeleton + "x" * longest)
    paper_text, notes = paper_for_judge(paper, int(budget.available * PAPER_SHARE))
    room = max(0, budget.available - estimate_tokens(paper_text))
    file_budget = min(room, files_tokens) if files_tokens else room
    if found.skipped:
        notes.append(f"{len(found.skipped)} files were not read: " +
                     ", ".join(f"{p} ({r})" for p, r in list(found.skipped.items())[:20]))
    leaves = [_leaf_prompt(node, ancestors, ranker, paper_text, file_budget, systems, (owners or {}).get(node.id, []))
              for node, ancestors in walked]

    tally = UsageTally()
    answer_tokens = budget.output

    async def ask(indices: list[int], attempt: int) -> list[Verdict]:
        outcomes = await ask_all(
            [llm.acomplete(leaves[i][1], max_tokens=answer_tokens, temperature=temperature, stage=stage,
                           sample=attempt) for i in indices],
            tally,
            warm_first=attempt == 0,  # see above; a retry's prefix is warm already
        )
        return [parse_outcome(o, parse_leaf_verdict) for o in outcomes]

    verdicts = await ask(list(range(len(leaves))), 0)
    attempts = [1] * len(leaves)
    for attempt in range(1, retries + 1):
        # An unusable answer is asked again as a new sample (a distinct call, also logged).
        again = [i for i, v in enumerate(verdicts) if not v.valid]
        if not again:
            break
        for i, verdict in zip(again, await ask(again, attempt)):
            attempts[i] += 1
            if verdict.valid:
                verdicts[i] = verdict
    grades: dict[str, LeafGrade] = {}
    for (node, _, shown, omitted), verdict, tries in zip(leaves, verdicts, attempts):
        explanation = verdict.critiques[0].critique if verdict.critiques else ""
        grades[node.id] = LeafGrade(
            id=node.id, score=int(verdict.score or 0), explanation=explanation, valid=verdict.valid,
            error=verdict.error, files=[f.path for f in shown], omitted=omitted, attempts=tries,
        )
    scores = score_tree(tree, {i: g.score for i, g in grades.items()})
    return GradeResult(tree=tree, grades=grades, scores=scores, code_dev=code_dev,
                       model=llm.model, usage=tally, notes=notes)
