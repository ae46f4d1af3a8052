"""The verify stage: every requirement of the checklist judged against the code, and rounds of
refinement for what fails, every requirement judged again after each round.

1. The checklist is planning's (``planning/checklist.json``, made before the code); a folder
   outside a run, or a run planned before checklists came first, gets one made here.
2. Every leaf judged 0/1 by the lexical judge of ``papercoder grade`` (the owning files first,
   then the relevant ones, as much code as the window leaves), by the run's model or by
   ``--judge-model``; the coverage is the tree's weighted mean.
3. Up to ``rounds`` refinement rounds (:mod:`papercoder.verify.refine`): one request per owning
   file, at once, each with the run's shared prefix. Then, per file: a file whose edits break a
   smoke run that passed, or add static errors, has its edits undone, the other files keep theirs.
   Every requirement is judged again; a requirement that passed and now fails is a regression,
   and the edits of the files behind it are undone too. Each round is a git commit. It stops
   when everything passes, a round fixes nothing, or the budget is spent.

``verify/report.json`` has the coverage before and after each round, the regressions and the
undone files, and the requirements still failing, which the generated README lists too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from papercoder.evaluate.graded import LeafGrade
from papercoder.evaluate.lexical import grade_repo
from papercoder.llm import LLM, BudgetExceededError, ContextLengthError, Message
from papercoder.paper.markdown import parse_markdown
from papercoder.pipeline.artifacts import paper_title, read_addendum
from papercoder.pipeline.figures import file_images
from papercoder.pipeline.inventory import Item, load_inventory
from papercoder.pipeline.prefix import paper_prefix
from papercoder.pipeline.repair import blocking_findings, planned_entry_point, repair_prefix, smoke_command
from papercoder.pipeline.requirements import Requirement, build_checklist, load_checklist, save_checklist
from papercoder.repo import git
from papercoder.repo.checks import check_repository
from papercoder.repo.paths import write_inside
from papercoder.repo.sandbox import Limits, run_sandboxed
from papercoder.rubric import RubricNode, score_tree
from papercoder.rundir.context import StageContext
from papercoder.verify.refine import ImagesFor, failed_leaves, refine

STAGE = "verify"
ROUNDS = 2
README_HEADING = "## Requirements not yet met"


@dataclass
class VerifyRound:
    """What one refinement round did."""

    number: int
    asked: int  # failed requirements sent to the model
    applied: list[str] = field(default_factory=list)
    failed_edits: list[str] = field(default_factory=list)  # blocks that did not apply, and refused paths
    fixed: list[str] = field(default_factory=list)  # leaf ids that pass now
    regressions: list[str] = field(default_factory=list)  # leaf ids that passed before the round and failed after it
    undone_files: dict[str, str] = field(default_factory=dict)  # file -> why its edits were undone
    undone: str = ""  # the undone files in one line ("" when every edit stayed)
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
    judge: str = ""  # the model that judged
    checklist: str = ""  # "planning" (made before the code) or "verify" (made here)

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


async def run_verify(ctx: StageContext, *, rounds: int = ROUNDS, judge_model: str | None = None) -> VerifyReport:
    """The ``verify`` stage of a run: check and refine ``ctx.paths.repo``; report in ``<run>/verify/``."""
    paths = ctx.paths
    paper = paths.paper.read_text(encoding="utf-8")
    checklist = None
    if paths.checklist.is_file():
        try:
            checklist = load_checklist(paths.checklist)
        except (OSError, ValueError) as exc:
            ctx.note(f"verify: planning's checklist is unreadable ({exc}); making one here")
        except Exception as exc:  # an InputError naming what is wrong with the rubric
            ctx.note(f"verify: planning's checklist cannot be used ({exc}); making one here")
    judge_model = judge_model or _configured_judge()
    judge = _open_judge(ctx, judge_model) if judge_model else None
    try:
        report = await verify_repository(
            paths.repo,
            ctx.llm,
            paper,
            addendum=read_addendum(paths),
            inventory=load_inventory(paths.inventory),
            rounds=rounds,
            out_dir=paths.verify,
            entry_point=planned_entry_point(paths.design),
            note=ctx.note,
            progress=lambda done, total: ctx.progress(STAGE, done, total),
            checklist=checklist,
            prefix=repair_prefix(paths, ctx.llm, paths.repo, what="verify", note=ctx.note),
            full_paper=paths.paper_full.read_text(encoding="utf-8") if paths.paper_full.is_file() else "",
            judge=judge,
            images_for=lambda text, what: file_images(ctx, text, what),
        )
    finally:
        if judge is not None:
            await judge.aclose()
    for problem in report.problems:
        ctx.degrade(f"verify: {problem}")
    if report.invalid_judgements:
        ctx.degrade(f"verify: {report.invalid_judgements} requirement(s) got no usable judgement and count as not met")
    return report


def _configured_judge() -> str | None:
    from papercoder.config import load_config

    return load_config().verify_judge_model


def _open_judge(ctx: StageContext, spec: str) -> LLM:
    """The judge model of ``--judge-model``, on the run's call log and budget."""
    from papercoder.llm.models import open_model

    return open_model(spec, log_path=ctx.paths.calls, max_cost=ctx.llm.max_cost, concurrency=ctx.llm.concurrency, quiet=True)


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
    checklist: tuple[RubricNode, dict[str, Requirement]] | None = None,
    prefix: list[Message] | None = None,
    full_paper: str = "",
    judge: LLM | None = None,
    images_for: ImagesFor | None = None,
) -> VerifyReport:
    """Judge and refine ``repo`` (any folder) against ``paper`` (Markdown); see the module doc.

    ``checklist`` is planning's (made here when None); ``prefix`` the run's shared prefix (the
    paper alone when None); ``full_paper`` the paper before it was condensed, when it was;
    ``judge`` the model that judges (``llm`` when None); ``images_for`` gives a refine request the
    figures its requirements name (none when None).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    judge = judge or llm
    report = VerifyReport(status="done", judge=judge.model, checklist="planning" if checklist else "verify")
    if checklist is None:
        outcome = await build_checklist(llm, paper, paper_title(paper), addendum=addendum, inventory=inventory,
                                        full_paper=full_paper, stage=STAGE, note=note)
        checklist = (outcome.tree, outcome.requirements)
        report.problems += outcome.problems
    tree, meta = checklist
    save_checklist(out_dir / "checklist.json", tree, meta)
    report.leaves = len(tree.leaves()) if tree.sub_tasks else 0
    if not report.leaves:
        report.status = "no-checklist"
        report.problems.append("the model gave no usable checklist, so nothing was checked")
        return _finish(report, out_dir, note)
    note(f"verify: judging {report.leaves} requirements in {len(tree.sub_tasks)} groups with {judge.model}")
    prefix = prefix if prefix is not None else paper_prefix(paper, addendum)
    owners = {leaf_id: list(req.files) for leaf_id, req in meta.items() if req.files}
    judged = parse_markdown(paper, source="paper.md")

    async def judge_all(leaves: set[str] | None = None, earlier: dict[str, LeafGrade] | None = None) -> dict[str, LeafGrade]:
        subtree = tree if leaves is None else _only(tree, leaves)
        result = await grade_repo(repo, judged, subtree, judge, code_dev=True, stage=STAGE, files_tokens=None, owners=owners)
        grades = {**(earlier or {}), **result.grades}
        report.invalid_judgements = sum(1 for g in grades.values() if not g.valid)
        return grades

    total_steps = rounds + 1
    progress(0, total_steps)
    grades = await judge_all()
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
            failing = failed_leaves(tree, grades, meta)
            if not failing:
                break
            current = VerifyRound(number=number, asked=len(failing))
            report.rounds.append(current)
            base = git.head(repo) or ""
            applied, not_applied, transcript = await refine(llm, repo, failing, prefix, command, full_paper=full_paper,
                                                           images_for=images_for)
            current.applied, current.failed_edits = applied, not_applied
            write_inside(out_dir, f"round-{number}-model.md", transcript)
            changed = git.changed_files(repo)
            if not changed:
                current.coverage = coverage
                note(f"verify: round {number}: the model's edits changed nothing; stopping")
                break
            current.undone_files = _keep_good_files(repo, base, changed, command, smoke_passed, errors_before, limits)
            kept = [path for path in changed if path not in current.undone_files]
            if not kept:
                current.undone = _undone_line(current.undone_files)
                current.coverage = coverage
                note(f"verify: round {number}: every edit undone ({current.undone}); stopping")
                break
            current.commit = git.commit_all(repo, f"papercoder verify: round {number}: edits to {', '.join(kept)} "
                                                  f"for {len(failing)} requirement(s)")
            before = grades
            grades = await judge_all()  # every requirement, not only the failed ones: edits can break others
            current.regressions = [leaf.id for leaf in tree.leaves() if _passed(before, leaf.id) and not _passed(grades, leaf.id)]
            if current.regressions:
                culprits = _culprits(current.regressions, grades, meta, kept)
                for path in culprits:
                    _restore(repo, base, path)
                    current.undone_files[path] = "it broke requirement(s) " + ", ".join(current.regressions) + " that had passed"
                if culprits:
                    current.commit = git.commit_all(repo, f"papercoder verify: round {number}: undo {', '.join(culprits)} "
                                                          f"(regressions {', '.join(current.regressions)})") or current.commit
                    again = {leaf.id for leaf in tree.leaves()
                             if leaf.id in current.regressions or set(grades[leaf.id].files) & set(culprits)}
                    grades = await judge_all(again, grades)
                note(f"verify: round {number}: requirement(s) {', '.join(current.regressions)} passed before and failed "
                     f"after it; " + (f"undid {', '.join(culprits)}" if culprits else "no edited file was shown to their judge"))
            current.undone = _undone_line(current.undone_files)
            current.fixed = [f.id for f in failing if _passed(grades, f.id)]
            coverage = current.coverage = _coverage(tree, grades)
            _save_grades(out_dir, number, tree, grades)
            note(f"verify: round {number}: {len(current.fixed)} of {len(failing)} requirement(s) fixed; coverage {coverage:.2f}")
            progress(number + 1, total_steps)
            if not current.fixed:
                break
    except BudgetExceededError as exc:
        git.discard_changes(repo)  # a round cut short by the budget: its edits were never checked
        report.status = "budget"
        report.problems.append(f"refinement stopped at the budget: {exc}")
    except ContextLengthError as exc:
        git.discard_changes(repo)
        report.status = "context-limit"
        report.problems.append(f"a refinement request does not fit the model's context window: {exc}")
    report.coverage_after = coverage
    if command:
        report.smoke_after = smoke_passed if not any(r.commit for r in report.rounds) else run_sandboxed(repo, command, limits=limits).ok
    report.failing = [{"id": f.id, "requirement": f.requirement, "reason": f.reason} for f in failed_leaves(tree, grades, meta)]
    _write_readme_section(repo, report)
    return _finish(report, out_dir, note)


def _passed(grades: dict[str, LeafGrade], leaf_id: str) -> bool:
    grade = grades.get(leaf_id)
    return grade is not None and grade.score == 1


def _culprits(regressions: list[str], grades: dict[str, LeafGrade], meta: dict[str, Requirement], kept: list[str]) -> list[str]:
    """The files edited this round behind the regressions: for each regressed requirement, the
    edited files that own it; when it owns none of them, the edited files its judge read."""
    suspects: set[str] = set()
    for leaf_id in regressions:
        owned = [path for path in (meta[leaf_id].files if leaf_id in meta else []) if path in kept]
        seen = [path for path in (grades[leaf_id].files if leaf_id in grades else []) if path in kept]
        suspects |= set(owned or seen)
    return [path for path in kept if path in suspects]


def _restore(repo: Path, commit: str, path: str) -> None:
    """``path`` as it was at ``commit`` (removed when it did not exist then)."""
    _put(repo, path, git.file_at(repo, commit, path) if commit else None)


def _put(repo: Path, path: str, data: bytes | None) -> None:
    """Write ``data`` at ``path``, or remove the file when ``data`` is None."""
    target = repo / path
    if data is None:
        target.unlink(missing_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _keep_good_files(
    repo: Path, base: str, changed: list[str], command: str | None, smoke_passed: bool, errors_before: int, limits: Limits | None
) -> dict[str, str]:
    """Undo the edits of each file that breaks the smoke run or adds static errors; keep the others.

    When everything together is fine, nothing is undone. Otherwise each file's edits are tried
    alone on top of the code before the round; the ones that fail alone are undone; when the
    remaining ones still fail together, they are undone too. Returns {file: why it was undone}.
    """
    problem = _round_problem(repo, command, smoke_passed, errors_before, limits)
    if not problem:
        return {}
    edited = {path: ((repo / path).read_bytes() if (repo / path).is_file() else None) for path in changed}

    def put(paths: set[str]) -> None:
        for path in changed:
            if path in paths:
                _put(repo, path, edited[path])
            else:
                _restore(repo, base, path)

    undone: dict[str, str] = {}
    for path in changed:
        put({path})
        alone = _round_problem(repo, command, smoke_passed, errors_before, limits)
        if alone:
            undone[path] = alone
    good = {path for path in changed if path not in undone}
    put(good)
    together = _round_problem(repo, command, smoke_passed, errors_before, limits) if good else ""
    if together:
        for path in good:
            undone[path] = f"with the other files' edits: {together}"
        put(set())
    return undone


def _round_problem(repo: Path, command: str | None, smoke_passed: bool, errors_before: int, limits: Limits | None) -> str:
    """Why the repository as it is now must not be kept ("" when it may)."""
    if command and smoke_passed:
        run = run_sandboxed(repo, command, limits=limits)
        if not run.ok:
            return f"the smoke run passed before and fails after them: {run.summary()}"
    errors = len(blocking_findings(check_repository(repo)))
    if errors > errors_before:
        return f"they add static errors ({errors_before} before, {errors} after)"
    return ""


def _undone_line(undone: dict[str, str]) -> str:
    return "; ".join(f"{path}: {why}" for path, why in undone.items())


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

