"""The verify stage: a checklist from the paper, each requirement judged against the code, and
rounds of refinement for what fails.

1. The checklist (:mod:`papercoder.verify.checklist`), saved as ``verify/checklist.json``.
2. Every leaf judged 0/1 by the same judge as ``papercoder grade`` (the files relevant to it,
   the paper, its ancestors); the coverage is the tree's weighted mean.
3. Up to ``rounds`` refinement rounds: the failed leaves go to the SEARCH/REPLACE edit loop
   (:mod:`papercoder.verify.refine`); a round that breaks a smoke run that passed, or adds static
   errors, is undone; each kept round is a git commit; only the failed leaves are judged again.
   It stops when everything passes, a round fixes nothing, or the budget is spent.

``verify/report.json`` has the coverage before and after each round and the requirements still
failing, which the generated README lists too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from papercoder.evaluate.graded import LeafGrade

from papercoder.evaluate.lexical import grade_repo
from papercoder.rubric import RubricNode, score_tree
from papercoder.llm import LLM, BudgetExceededError, ContextLengthError
from papercoder.paper.markdown import parse_markdown
from papercoder.pipeline.artifacts import paper_title, read_addendum
from papercoder.rundir.context import StageContext
from papercoder.pipeline.repair import blocking_findings, planned_entry_point, smoke_command
from papercoder.pipeline.inventory import Item, load_inventory
from papercoder.repo import git
from papercoder.repo.checks import check_repository
from papercoder.repo.paths import write_inside
from papercoder.repo.sandbox import Limits, run_sandboxed
from papercoder.verify.checklist import build_checklist, tree_to_dict
from papercoder.verify.refine import failed_leaves, refine

STAGE = "verify"
ROUNDS = 2
README_HEADING = "## Requirements not yet met"


@dataclass
class VerifyRound:
    """What one refinement round did."""

    number: int
    asked: int  # failed requirements sent to the model
    applied: list[str] = field(default_factory=list)
    failed_edits: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)  # leaf ids that pass now
    undone: str = ""  # why the round's edits were undone, if they were
    coverage: float = 0.0  # after the round
    commit: str | None = None


@dataclass
class VerifyReport:
    """The outcome of the verify stage; written to ``verify/report.json``."""

    status: str  # done, no-checklist, budget, context-limit
    leaves: int = 0
    coverage_before: float = 0.0
    coverage_after: float = 0.0
    rounds: list[VerifyRound] = field(default_factory=list)
    failing: list[dict] = field(default_factory=list)  # {id, requirement, reason}
    problems: list[str] = field(default_factory=list)
    invalid_judgements: int = 0
    smoke_before: bool | None = None  # did the smoke run pass before refinement (None: no smoke command)
    smoke_after: bool | None = None

    def summary(self) -> str:
        if not self.leaves:
            return f"verify: {self.status}: no checklist to check against"
        met = self.leaves - len(self.failing)
        steps = " -> ".join(f"{c:.2f}" for c in [self.coverage_before, *(r.coverage for r in self.rounds)])
        if not self.rounds:
            steps += f" -> {self.coverage_after:.2f}"
        return f"verify: coverage {steps} after {len(self.rounds)} round(s); {met} of {self.leaves} requirements met"

    def to_dict(self) -> dict:
        return asdict(self)


async def run_verify(ctx: StageContext, *, rounds: int = ROUNDS) -> VerifyReport:
    """The ``verify`` stage of a run: check and refine ``ctx.paths.repo``; report in ``<run>/verify/``."""
    paper = ctx.paths.paper.read_text(encoding="utf-8")
    report = await verify_repository(
        ctx.paths.repo,
        ctx.llm,
        paper,
        addendum=read_addendum(ctx.paths),
        inventory=load_inventory(ctx.paths.inventory),
        rounds=rounds,
        out_dir=ctx.paths.verify,
        entry_point=planned_entry_point(ctx.paths.design),
        note=ctx.note,
        progress=lambda done, total: ctx.progress(STAGE, done, total),
    )
    for problem in report.problems:
        ctx.degrade(f"verify: {problem}")
    if report.invalid_judgements:
        ctx.degrade(f"verify: {report.invalid_judgements} requirement(s) got no usable judgement and count as not met")
    return report


async def verify_repository(
    repo: Path,
    llm: LLM,
    paper: str,
    *,
    addendum: str = "",
    inventory: list[Item] | tuple[Item, ...] = (),
    rounds: int = ROUNDS,
    out_dir: Path,
    entry_point: str | None = None,
    limits: Limits | None = None,
    note: Callable[[str], None] = lambda message: None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> VerifyReport:
    """Checklist, judge, refine ``repo`` (any folder) against ``paper`` (Markdown); see the module doc."""
    out_dir.mkdir(parents=True, exist_ok=True)
    title = paper_title(paper)
    tree, problems = await build_checklist(llm, paper, title, addendum=addendum, inventory=inventory, note=note)
    write_inside(out_dir, "checklist.json", json.dumps(tree_to_dict(tree), indent=2) + "\n")
    report = VerifyReport(status="done", leaves=len(tree.leaves()) if tree.sub_tasks else 0, problems=problems)
    if not report.leaves:
        report.status = "no-checklist"
        report.problems.append("the model gave no usable checklist, so nothing was checked")
        return _finish(report, out_dir, note)
    note(f"verify: a checklist of {report.leaves} requirements in {len(tree.sub_tasks)} groups")
    judged = parse_markdown(paper, source="paper.md")
    total_steps = rounds + 1
    progress(0, total_steps)

    grades, invalid = await _judge(repo, judged, tree, llm, {})
    report.invalid_judgements = invalid
    coverage = _coverage(tree, grades)
    report.coverage_before = report.coverage_after = coverage
    _save_grades(out_dir, 0, tree, grades)
    note(f"verify: coverage {coverage:.2f} before refinement ({_met(tree, grades)} of {report.leaves} met)")
    progress(1, total_steps)

    command = smoke_command(repo, None, entry_point)
    git.ensure_repository(repo, "papercoder: the code before verification")
    smoke_passed = run_sandboxed(repo, command, limits=limits).ok if command else False
    report.smoke_before = smoke_passed if command else None
    errors_before = len(blocking_findings(check_repository(repo)))
    try:
        for number in range(1, rounds + 1):
            failing = failed_leaves(tree, grades)
            if not failing:
                break
            current = VerifyRound(number=number, asked=len(failing))
            report.rounds.append(current)
            applied, not_applied, transcript = await refine(llm, repo, failing, paper, command)
            current.applied, current.failed_edits = applied, not_applied
            write_inside(out_dir, f"round-{number}-model.md", transcript)
            if not applied:
                current.coverage = coverage
                note(f"verify: round {number}: the model's edits changed nothing; stopping")
                break
            current.undone = _check_round(repo, command, smoke_passed, errors_before, limits)
            if current.undone:
                git.discard_changes(repo)
                current.coverage = coverage
                note(f"verify: round {number}: edits undone ({current.undone}); stopping")
                break
            current.commit = git.commit_all(repo, f"papercoder verify: round {number}: {len(applied)} edit(s) for {len(failing)} requirement(s)")
            again, invalid = await _judge(repo, judged, _only(tree, {f.id for f in failing}), llm, grades)
            report.invalid_judgements = invalid
            current.fixed = [f.id for f in failing if again[f.id].score == 1]
            grades = again
            coverage = current.coverage = _coverage(tree, grades)
            _save_grades(out_dir, number, tree, grades)
            note(f"verify: round {number}: {len(current.fixed)} of {len(failing)} requirement(s) fixed; coverage {coverage:.2f}")
            progress(number + 1, total_steps)
            if not current.fixed:
                break
    except BudgetExceededError as exc:
        report.status = "budget"
        report.problems.append(f"refinement stopped at the budget: {exc}")
    except ContextLengthError as exc:
        report.status = "context-limit"
        report.problems.append(f"a refinement request does not fit the model's context window: {exc}")
    report.coverage_after = coverage
    if command:
        report.smoke_after = smoke_passed if not any(r.commit for r in report.rounds) else run_sandboxed(repo, command, limits=limits).ok
    report.failing = [{"id": f.id, "requirement": f.requirement, "reason": f.reason} for f in failed_leaves(tree, grades)]
    _write_readme_section(repo, report)
    return _finish(report, out_dir, note)


async def _judge(
    repo: Path, paper, tree: RubricNode, llm: LLM, earlier: dict[str, LeafGrade]
) -> tuple[dict[str, LeafGrade], int]:
    """Judge every leaf of ``tree``; the grades merged over ``earlier``, and how many were unusable."""
    result = await grade_repo(repo, paper, tree, llm, code_dev=True, stage=STAGE)
    grades = {**earlier, **result.grades}
    return grades, sum(1 for g in grades.values() if not g.valid)


def _only(tree: RubricNode, keep: set[str]) -> RubricNode:
    """The tree with only the leaves in ``keep`` (and the parents that still have one)."""

    def visit(node: RubricNode) -> RubricNode | None:
        if node.is_leaf:
            return node if node.id in keep else None
        children = [c for c in (visit(child) for child in node.sub_tasks) if c is not None]
        if not children:
            return None
        return RubricNode(node.id, node.requirements, node.weight, node.task_category, node.finegrained_task_category, children)

    return visit(tree) or tree


def _coverage(tree: RubricNode, grades: dict[str, LeafGrade]) -> float:
    return score_tree(tree, {i: g.score for i, g in grades.items()})[tree.id]


def _met(tree: RubricNode, grades: dict[str, LeafGrade]) -> int:
    return sum(1 for leaf in tree.leaves() if grades.get(leaf.id) and grades[leaf.id].score == 1)


def _check_round(repo: Path, command: str | None, smoke_passed: bool, errors_before: int, limits: Limits | None) -> str:
    """Why the round's edits must be undone ("" when they may stay)."""
    if command and smoke_passed:
        run = run_sandboxed(repo, command, limits=limits)
        if not run.ok:
            return f"the smoke run passed before and fails after them: {run.summary()}"
    errors = len(blocking_findings(check_repository(repo)))
    if errors > errors_before:
        return f"they add static errors ({errors_before} before, {errors} after)"
    return ""


def _save_grades(out_dir: Path, number: int, tree: RubricNode, grades: dict[str, LeafGrade]) -> None:
    data = {leaf.id: {"requirement": leaf.requirements, **grades[leaf.id].to_dict()} for leaf in tree.leaves() if leaf.id in grades}
    write_inside(out_dir, f"grades-{number}.json", json.dumps(data, indent=2) + "\n")


def _write_readme_section(repo: Path, report: VerifyReport) -> None:
    """List the requirements still failing in the generated README (replacing an earlier list)."""
    readme = repo / "README.md"
    if not readme.is_file():
        return
    text = readme.read_text(encoding="utf-8")
    text = text.split("\n" + README_HEADING)[0].rstrip() + "\n"
    if report.failing:
        lines = [
            "", README_HEADING, "",
            f"papercoder's verify stage checked the code against {report.leaves} requirements it read in the paper; "
            f"these {len(report.failing)} were still not met (coverage {report.coverage_after:.2f}):", "",
        ]
        lines += [f"- [{f['id']}] {f['requirement']}" for f in report.failing]
        text += "\n".join(lines) + "\n"
    readme.write_text(text, encoding="utf-8")
    git.commit_all(repo, "papercoder verify: list the requirements not yet met in README.md")


def _finish(report: VerifyReport, out_dir: Path, note: Callable[[str], None]) -> VerifyReport:
    write_inside(out_dir, "report.json", json.dumps(report.to_dict(), indent=2) + "\n")
    note(report.summary())
    return report

