"""The debugging stage: run the generated repository, show the model what broke, apply its edits.

One iteration: static checks, then the smoke run in the sandbox; if it fails, the model sees the
error (traceback trimmed to the repository's frames), the findings and the files, and answers
with SEARCH/REPLACE blocks. Blocks that do not apply go back to it with the reason and the
closest lines, at most three times per iteration. Each iteration is one git commit in the
repository. Missing third-party packages are added to ``requirements.txt`` by papercoder itself.
The loop stops when the smoke run passes, at the iteration limit, or at the budget.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from papercoder.errors import InputError
from papercoder.llm import LLM, BudgetExceededError, ContextLengthError, Message
from papercoder.pipeline.prefix import paper_prefix
from papercoder.pipeline.repair import (
    STAGE,
    add_missing_requirements,
    blocking_findings,
    missing_module,
    planned_entry_point,
    repair_prefix,
    repair_round,
    smoke_command,
    text_files,
    trim_error,
)
from papercoder.rundir.context import StageContext
from papercoder.rundir.paths import RunPaths
from papercoder.repo import git
from papercoder.repo.checks import Finding, check_repository
from papercoder.repo.edits import count_changed_lines
from papercoder.repo.importmap import add_requirement, distribution_for
from papercoder.repo.paths import write_inside
from papercoder.repo.sandbox import Limits, SandboxResult, run_sandboxed
from papercoder.repo.venv import ensure_venv


NO_OP_EXIT = 97  # the exit status a no-op smoke run is given, to be repaired like a failure


@dataclass
class IterationNote:
    """What one iteration saw and did."""

    number: int
    command: str
    run: str  # the run's one-line summary
    returncode: int | None
    limit: str | None
    findings: int
    applied: list[str] = field(default_factory=list)  # "path (block N)"
    failed: list[str] = field(default_factory=list)
    requirements_added: list[str] = field(default_factory=list)
    commit: str | None = None


@dataclass
class DebugReport:
    """The outcome of the debugging stage; written to ``debug/report.json``."""

    status: str  # passed, no-op, empty-files, iteration-limit, no-progress, budget, context-limit, no-smoke-entry, missing-dependency
    iterations: int = 0  # repair rounds that asked the model
    command: str = ""
    lines_changed: int = 0
    lines_total: int = 0
    findings_before: int = 0
    findings_after: int = 0
    remaining_findings: list[dict] = field(default_factory=list)
    requirements_added: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    last_error: str = ""
    warnings: list[str] = field(default_factory=list)
    notes: list[IterationNote] = field(default_factory=list)
    planned_total: int = 0  # planned Python files
    planned_ran: list[str] | None = None  # those that ran a function in the last smoke run (None: unknown)

    @property
    def share_changed(self) -> float:
        return self.lines_changed / self.lines_total if self.lines_total else 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["share_changed"] = round(self.share_changed, 6)
        return data

    def summary(self) -> str:
        ran = f"; {len(self.planned_ran)} of {self.planned_total} planned files ran" if self.planned_ran is not None else ""
        return (
            f"debugging: {self.status} after {self.iterations} repair round(s); "
            f"{self.lines_changed} of {self.lines_total} lines changed ({self.share_changed:.2%}){ran}"
        )


async def run_debugging(
    ctx: StageContext,
    *,
    max_iterations: int = 3,
    cmd: str | None = None,
    use_venv: bool = False,
    limits: Limits | None = None,
) -> DebugReport:
    """The ``debug`` stage of a run: repair ``ctx.paths.repo``; report in ``<run>/debug/``."""
    return await debug_repository(
        ctx.paths.repo,
        ctx.llm,
        prefix=repair_prefix(ctx.paths, ctx.llm, ctx.paths.repo, what="debugging", note=ctx.note),
        planned_files=_planned(ctx.paths),
        max_iterations=max_iterations,
        cmd=cmd,
        use_venv=use_venv,
        limits=limits,
        report_dir=ctx.paths.debug,
        venv_dir=ctx.paths.venv,
        entry_point=planned_entry_point(ctx.paths.design),
        note=ctx.note,
        progress=lambda done, total: ctx.progress(STAGE, done, total),
    )


def _planned(paths: RunPaths) -> list[str] | None:
    """The run's planned Python files (tasks.json), or None outside a planned run."""
    try:
        return [p for p in json.loads(paths.tasks.read_text(encoding="utf-8")).get("task_list") or [] if str(p).endswith(".py")]
    except (OSError, ValueError, AttributeError):
        return None


async def debug_repository(
    repo_dir: Path,
    llm: LLM,
    *,
    paper_markdown: str | None = None,
    prefix: list[Message] | None = None,
    planned_files: list[str] | None = None,
    max_iterations: int = 3,
    cmd: str | None = None,
    use_venv: bool = False,
    limits: Limits | None = None,
    report_dir: Path | None = None,
    entry_point: str | None = None,
    venv_dir: Path | None = None,
    venv_system_packages: bool = True,
    note: Callable[[str], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DebugReport:
    """Check, run and repair the repository in ``repo_dir`` (any folder); see the module doc.

    Repair requests start with ``prefix`` (a run's shared prefix, see :func:`repair_prefix`), else
    with ``paper_markdown`` as their system message, else with their own part alone."""
    repo = Path(repo_dir).resolve()
    if not repo.is_dir():
        raise InputError(f"{repo_dir} is not a folder; give a run directory or a repository folder")
    note = note or (lambda message: None)
    progress = progress or (lambda done, total: None)
    report_dir = Path(report_dir) if report_dir else repo / ".papercoder" / "debug"
    report_dir.mkdir(parents=True, exist_ok=True)
    git.ensure_repository(repo)
    baseline = text_files(repo)
    command = smoke_command(repo, cmd, entry_point)
    report = DebugReport(status="running", command=command or "")
    initial = check_repository(repo)
    report.findings_before = len(initial)
    if command is None:
        report.status = "no-smoke-entry"
        report.warnings.append("no smoke.sh, reproduce.sh or evident entry point; pass --cmd to say what to run")
        return _finish(report, repo, baseline, initial, report_dir, note)
    venv = None
    if use_venv:
        venv = Path(venv_dir) if venv_dir else report_dir / "venv"
    limits = limits or Limits()
    planned = sorted(p for p in (planned_files or [p.relative_to(repo).as_posix() for p in repo.rglob("*.py")
                                                    if ".papercoder" not in p.parts and "tests" not in p.parts]) if p.endswith(".py"))
    job = _Job(repo, llm, command, limits, venv, venv_system_packages, max_iterations,
               prefix if prefix is not None else paper_prefix(paper_markdown), planned, entry_point, report_dir, note, progress)
    try:
        await _loop(job, report, initial)
    except BaseException:
        report.status = "error" if report.status == "running" else report.status
        _finish(report, repo, baseline, check_repository(repo), report_dir, note)
        raise
    return _finish(report, repo, baseline, check_repository(repo), report_dir, note)


@dataclass
class _Job:
    """The fixed settings of one debugging run."""

    repo: Path
    llm: LLM
    command: str
    limits: Limits
    venv: Path | None
    venv_system_packages: bool
    max_iterations: int
    prefix: list[Message]  # the leading messages of every repair request
    planned: list[str]  # the planned Python files: the smoke run must run code of some of them
    entry: str | None
    report_dir: Path
    note: Callable[[str], None]
    progress: Callable[[int, int], None]


async def _loop(job: _Job, report: DebugReport, findings: list[Finding]) -> None:
    """Run, repair, commit, until the run passes or a bound is reached; fills in ``report``."""
    repo, command, venv, note = job.repo, job.command, job.venv, job.note
    attempted_modules: set[str] = set()
    iteration = 0
    while True:
        added = add_missing_requirements(repo, findings)
        if added:
            _commit(repo, report, f"papercoder debug: add {', '.join(added)} to requirements.txt")
            report.requirements_added += added
            findings = check_repository(repo)
        if venv is not None:
            installed = ensure_venv(venv, repo / "requirements.txt", system_site_packages=job.venv_system_packages)
            if not installed.ok:
                report.warnings.append(installed.message)
        run = run_sandboxed(repo, command, limits=job.limits, venv=venv, trace=True)
        run = _no_op_is_a_failure(run, job, report, findings)
        report.warnings += [w for w in run.warnings if w not in report.warnings]
        current = IterationNote(iteration, command, run.summary(), run.returncode, run.limit, len(findings), requirements_added=added)
        report.notes.append(current)
        note(f"debug: smoke run {run.summary()}")
        _write_run_note(job.report_dir, iteration, command, run, findings)
        if run.ok:
            # a passing run may skip code paths: definite static errors still get a round
            empty = [f for f in findings if f.kind == "empty-file"]
            if not blocking_findings(findings) or iteration >= job.max_iterations:
                if empty:  # an empty module exits 0, but nothing was implemented: never "passed"
                    report.status = "empty-files"
                    report.last_error = "; ".join(f.message for f in empty)
                    return
                report.status, report.last_error = "passed", ""
                return
        else:
            report.last_error = trim_error(run.stderr, run.stdout)
        missing = None if run.ok else missing_module(run, repo)
        if missing and missing not in attempted_modules:
            # a package is missing: declare it (and install it in the venv), never code around it
            attempted_modules.add(missing)
            dist = distribution_for(missing)
            if add_requirement(repo, dist):
                report.requirements_added.append(dist)
                _commit(repo, report, f"papercoder debug: add {dist} to requirements.txt (No module named '{missing}')")
            if venv is None:
                report.status = "missing-dependency"
                report.warnings.append(f"'{missing}' is not installed here; it is in requirements.txt now: install it, or rerun with --venv")
                return
            continue
        if iteration >= job.max_iterations:
            report.status = "no-op" if run.returncode == NO_OP_EXIT else "iteration-limit"
            return
        iteration += 1
        report.iterations = iteration
        job.progress(iteration, job.max_iterations)
        shown = blocking_findings(findings) if run.ok else findings
        try:
            applied, failed, transcript = await repair_round(job.llm, repo, run, shown, job.prefix, command, report.requirements_added)
        except BudgetExceededError as exc:
            report.status = "budget"
            report.warnings.append(str(exc))
            return
        except ContextLengthError as exc:
            report.status = "context-limit"
            report.warnings.append(f"the repair request does not fit the model's context window: {exc}")
            return
        current.applied, current.failed = applied, failed
        write_inside(job.report_dir, f"iteration-{iteration}-model.md", transcript)
        summary = f"{len(applied)} edit(s) to {', '.join(sorted({a.split(' (')[0] for a in applied})) or 'nothing'}"
        why = report.last_error[-1500:] if not run.ok else "\n".join(str(f) for f in shown)
        current.commit = _commit(repo, report, f"papercoder debug: iteration {iteration}: {summary}\n\nSmoke run before: {run.summary()}\n{why}")
        note(f"debug: iteration {iteration}: {summary}" + (f", {len(failed)} block(s) did not apply" if failed else ""))
        if not applied:
            # Nothing changed, so the next round would send the very same request and get the
            # same answer (from the call log, or from a deterministic model): stop here.
            report.status = "no-progress"
            report.warnings.append(
                "the model's edits changed nothing; another round would ask the same question "
                "(try a stronger model, or fix the error by hand and run papercoder debug again)"
            )
            return
        findings = check_repository(repo)


def _no_op_is_a_failure(run: SandboxResult, job: _Job, report: DebugReport, findings: list[Finding]) -> SandboxResult:
    """A smoke run that exits 0 without running a function of the planned files (besides the entry
    point) proves nothing: it becomes a failed run, so it is repaired and never called passed."""
    if run.ran is None:
        report.planned_ran = None
        return run
    planned = set(job.planned) or {p for p in run.ran if p.endswith(".py")}
    report.planned_total = len(planned)
    report.planned_ran = sorted(p for p in planned if p in run.ran)
    others = planned - {job.entry}
    proof = set(report.planned_ran) - {job.entry} if others else set(report.planned_ran)
    if not run.ok or proof or not planned or any(f.kind == "empty-file" for f in findings):
        return run  # (an empty planned file is said more precisely: empty-files)
    what = ", ".join(sorted(others)[:8]) or (job.entry or "the entry point")
    return dataclasses.replace(run, returncode=NO_OP_EXIT, stderr=(
        f"papercoder: the smoke run exited 0 but ran no function of the planned code ({what}): "
        "the --smoke path must run the whole method (data, model, training, evaluation) for a few steps"))


def _commit(repo: Path, report: DebugReport, message: str) -> str | None:
    commit = git.commit_all(repo, message)
    if commit:
        report.commits.append(commit)
    return commit


def _finish(report: DebugReport, repo: Path, baseline: dict[str, str], findings: list[Finding], report_dir: Path, note) -> DebugReport:
    final = text_files(repo)
    report.lines_total = sum(len(text.splitlines()) for text in baseline.values())
    report.lines_changed = sum(count_changed_lines(baseline.get(name, ""), final.get(name, "")) for name in set(baseline) | set(final))
    report.findings_after = len(findings)
    report.remaining_findings = [f.to_dict() for f in findings]
    (report_dir / "report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    note(report.summary())
    return report


def _write_run_note(report_dir: Path, iteration: int, command: str, run: SandboxResult, findings: list[Finding]) -> None:
    lines = [f"# Smoke run before repair round {iteration + 1}" if not run.ok else f"# Smoke run {iteration}", ""]
    lines += [f"Command: `{command}`", f"Result: {run.summary()}", ""]
    if findings:
        lines += ["## Static findings", "", *(f"- {f}" for f in findings), ""]
    if not run.ok:
        lines += ["## Error", "", "```", trim_error(run.stderr, run.stdout), "```", ""]
    write_inside(report_dir, f"iteration-{iteration}-run.md", "\n".join(lines))
