"""The debugging stage: run the generated repository, show the model what broke, apply its edits.

One iteration: static checks, then the smoke run in the sandbox; if it fails, the model sees the
error (traceback trimmed to the repository's frames), the findings and the files, and answers
with SEARCH/REPLACE blocks. Blocks that do not apply go back to it with the reason and the
closest lines, at most three times per iteration. Each iteration is one git commit in the
repository. Missing third-party packages are added to ``requirements.txt`` by papercoder itself.
The loop stops when the smoke run passes, at the iteration limit, or at the budget.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from papercoder.errors import InputError
from papercoder.llm import LLM, BudgetExceededError, ContextLengthError, Message
from papercoder.rundir.context import StageContext
from papercoder.pipeline.turns import answer_room, message_tokens, min_answer, stage_default
from papercoder.prompts import render
from papercoder.repo import git
from papercoder.repo.checks import Finding, check_repository, python_files
from papercoder.repo.edits import apply_edits, count_changed_lines, parse_edits
from papercoder.repo.importmap import add_requirement, distribution_for, is_stdlib
from papercoder.repo.paths import write_inside
from papercoder.repo.sandbox import Limits, RunResult, run_sandboxed
from papercoder.repo.venv import ensure_venv

STAGE = "debug"
FEEDBACK_TURNS = 3  # blocks that did not apply go back to the model at most this often per round
EDIT_TOKENS = 8192  # an answer of edit blocks, before capping to a small window
TEXT_SUFFIXES = (".py", ".sh", ".yaml", ".yml", ".txt", ".toml", ".cfg", ".json", ".ini")
ENTRY_CANDIDATES = ("main.py", "train.py", "run.py", "run_experiment.py", "experiment.py")
_SANDBOX_PATH = re.compile(r"(/[^\s\"']*?)?/papercoder-sandbox-[^/\s\"']+/repo/")
_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+)(, in .*)?$')
_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")


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

    status: str  # passed, empty-files, iteration-limit, no-progress, budget, context-limit, no-smoke-entry, missing-dependency
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
        return (
            f"debugging: {self.status} after {self.iterations} repair round(s); "
            f"{self.lines_changed} of {self.lines_total} lines changed ({self.share_changed:.2%})"
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
    paper = ctx.paths.paper.read_text(encoding="utf-8") if ctx.paths.paper.is_file() else None
    return await debug_repository(
        ctx.paths.repo,
        ctx.llm,
        paper_markdown=paper,
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


async def debug_repository(
    repo_dir: Path,
    llm: LLM,
    *,
    paper_markdown: str | None = None,
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
    """Check, run and repair the repository in ``repo_dir`` (any folder); see the module doc."""
    repo = Path(repo_dir).resolve()
    if not repo.is_dir():
        raise InputError(f"{repo_dir} is not a folder; give a run directory or a repository folder")
    note = note or (lambda message: None)
    progress = progress or (lambda done, total: None)
    report_dir = Path(report_dir) if report_dir else repo / ".papercoder" / "debug"
    report_dir.mkdir(parents=True, exist_ok=True)
    git.ensure_repository(repo)
    baseline = _text_files(repo)
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
    job = _Job(repo, llm, command, limits, venv, venv_system_packages, max_iterations, paper_markdown, report_dir, note, progress)
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
    paper: str | None
    report_dir: Path
    note: Callable[[str], None]
    progress: Callable[[int, int], None]


async def _loop(job: _Job, report: DebugReport, findings: list[Finding]) -> None:
    """Run, repair, commit, until the run passes or a bound is reached; fills in ``report``."""
    repo, command, venv, note = job.repo, job.command, job.venv, job.note
    attempted_modules: set[str] = set()
    iteration = 0
    while True:
        added = _add_missing_requirements(repo, findings)
        if added:
            _commit(repo, report, f"papercoder debug: add {', '.join(added)} to requirements.txt")
            report.requirements_added += added
            findings = check_repository(repo)
        if venv is not None:
            installed = ensure_venv(venv, repo / "requirements.txt", system_site_packages=job.venv_system_packages)
            if not installed.ok:
                report.warnings.append(installed.message)
        run = run_sandboxed(repo, command, limits=job.limits, venv=venv)
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
            report.status = "iteration-limit"
            return
        iteration += 1
        report.iterations = iteration
        job.progress(iteration, job.max_iterations)
        shown = blocking_findings(findings) if run.ok else findings
        try:
            applied, failed, transcript = await _repair_round(job.llm, repo, run, shown, job.paper, command, report.requirements_added)
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


def _commit(repo: Path, report: DebugReport, message: str) -> str | None:
    commit = git.commit_all(repo, message)
    if commit:
        report.commits.append(commit)
    return commit


def _finish(report: DebugReport, repo: Path, baseline: dict[str, str], findings: list[Finding], report_dir: Path, note) -> DebugReport:
    final = _text_files(repo)
    report.lines_total = sum(len(text.splitlines()) for text in baseline.values())
    report.lines_changed = sum(count_changed_lines(baseline.get(name, ""), final.get(name, "")) for name in set(baseline) | set(final))
    report.findings_after = len(findings)
    report.remaining_findings = [f.to_dict() for f in findings]
    (report_dir / "report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    note(report.summary())
    return report


# --- what to run --------------------------------------------------------------------------


def smoke_command(repo: Path, cmd: str | None = None, entry_point: str | None = None) -> str | None:
    """The smoke run: ``cmd``, else ``bash smoke.sh``, else ``reproduce.sh --smoke`` when it takes
    that flag, else the entry point (with ``--smoke`` when it takes it); None when nothing fits."""
    if cmd:
        return cmd
    if (repo / "smoke.sh").is_file():
        return "bash smoke.sh"
    reproduce = repo / "reproduce.sh"
    if reproduce.is_file() and "--smoke" in reproduce.read_text(encoding="utf-8", errors="replace"):
        return "bash reproduce.sh --smoke"
    candidates = ([entry_point] if entry_point else []) + list(ENTRY_CANDIDATES)
    for name in candidates:
        path = repo / name
        if name and path.is_file() and path.suffix == ".py":
            text = path.read_text(encoding="utf-8", errors="replace")
            args = []
            if "--config" in text and (repo / "config.yaml").is_file():
                args.append("--config config.yaml")
            if "--smoke" in text:
                args.append("--smoke")
            return " ".join(["python", name, *args])
    return None


def planned_entry_point(design: Path) -> str | None:
    try:
        return json.loads(design.read_text(encoding="utf-8")).get("entry_point") or None
    except (OSError, ValueError, AttributeError):
        return None


# --- reading a failure -----------------------------------------------------------------------


def trim_error(stderr: str, stdout: str = "", max_chars: int = 6000) -> str:
    """The end of stderr with traceback frames outside the repository left out.

    Paths of the sandbox copy become paths relative to the repository, as the model knows them.
    """
    text = _SANDBOX_PATH.sub("", stderr)
    lines = text.splitlines()
    kept: list[str] = []
    skipped = 0
    i = 0
    while i < len(lines):
        match = _FRAME.match(lines[i])
        if match and match.group(1).startswith("/"):
            skipped += 1
            i += 1
            while i < len(lines) and lines[i].startswith("    ") and not _FRAME.match(lines[i]):
                i += 1  # the frame's source line and its ^^^^ markers
            continue
        if skipped:
            kept.append(f"  [{skipped} frame(s) in libraries left out]")
            skipped = 0
        kept.append(lines[i])
        i += 1
    if skipped:
        kept.append(f"  [{skipped} frame(s) in libraries left out]")
    result = "\n".join(kept).strip()
    if not result and stdout.strip():
        result = "\n".join(_SANDBOX_PATH.sub("", stdout).strip().splitlines()[-40:])
    if len(result) > max_chars:
        result = "[... start cut ...]\n" + result[-max_chars:]
    return result


def missing_module(run: RunResult, repo: Path) -> str | None:
    """The third-party module a failed run could not import, or None (local typos are code bugs)."""
    found = _MISSING_MODULE.findall(run.stderr)
    if not found:
        return None
    name = found[-1]
    top = name.split(".")[0]
    local = {p.relative_to(repo).parts[0].removesuffix(".py") for p in python_files(repo)}
    local |= {p.name for p in repo.iterdir() if p.is_dir()}
    if top in local or is_stdlib(top) or difflib.get_close_matches(top, sorted(local), n=1, cutoff=0.8):
        return None
    return top


BLOCKING_KINDS = ("syntax", "local-import", "interface", "undefined-name", "missing-file", "config-key", "empty-file")


def blocking_findings(findings: list[Finding]) -> list[Finding]:
    """Findings that are errors whatever the run shows (a config key read with a default is not)."""
    return [f for f in findings if f.kind in BLOCKING_KINDS and "with .get and a default" not in f.message]


def _add_missing_requirements(repo: Path, findings: list[Finding]) -> list[str]:
    added = []
    for finding in findings:
        if finding.kind != "requirement":
            continue
        match = re.search(r"distribution '([^']+)'", finding.message)
        if match and add_requirement(repo, match.group(1)):
            added.append(match.group(1))
    return added


# --- one repair round ---------------------------------------------------------------------------


async def repair_findings(
    llm: LLM, repo: Path, findings: list[Finding], paper: str | None, *, reference: str = "", stage: str = STAGE
) -> tuple[list[str], list[str], str]:
    """One repair round for static ``findings`` of code not yet run (e.g. files written at once that
    disagree); ``reference`` is shown as the contract (the interface skeleton). Same result as a
    debugging round: (applied, failed, transcript)."""
    return await _repair_round(llm, repo, None, findings, paper, "", [], reference=reference, stage=stage)


async def _repair_round(
    llm: LLM,
    repo: Path,
    run: RunResult | None,
    findings: list[Finding],
    paper: str | None,
    command: str,
    requirements_added: list[str],
    *,
    reference: str = "",
    stage: str = STAGE,
) -> tuple[list[str], list[str], str]:
    """Ask for edits, apply them, send back what did not apply; (applied, failed, transcript).

    ``run`` is the smoke run that failed (or passed with findings), or None for code not yet run.
    """
    error = trim_error(run.stderr, run.stdout) if run is not None else ""
    files, omitted, paper_text = fit_context(llm, repo, error + reference, findings, paper)
    notes = [f"added {name} to requirements.txt" for name in requirements_added]
    result_line = ""
    stdout_tail = ""
    if run is not None:
        result_line = run.summary() + (f"; the {run.limit} limit stopped it" if run.limit and run.limit not in run.summary() else "")
        stdout_tail = "\n".join(_SANDBOX_PATH.sub("", run.stdout).strip().splitlines()[-15:])
    messages: list[Message] = [
        {"role": "system", "content": render("debug/system")},
        {
            "role": "user",
            "content": render(
                "debug/repair",
                ran=run is not None,
                reference=reference,
                passed=run.ok if run is not None else False,
                command=command,
                result=result_line,
                error=error,
                stdout_tail=stdout_tail,
                findings=[str(f) for f in findings],
                notes=notes,
                paper=paper_text,
                files=files,
                omitted=omitted,
            ),
        },
    ]
    return await edit_loop(llm, repo, messages, stage=stage)


async def edit_loop(llm: LLM, repo: Path, messages: list[Message], *, stage: str = STAGE) -> tuple[list[str], list[str], str]:
    """Ask ``messages`` for SEARCH/REPLACE blocks, apply them to ``repo``, and send back the blocks
    that did not apply (with the reason and the closest lines), at most ``FEEDBACK_TURNS`` times.

    Returns (applied, failed, transcript). Shared by debugging, the consistency repair and the
    verify stage's refinement: each builds its own request, the edits work the same way.
    """
    messages = list(messages)
    applied: list[str] = []
    failed: list[str] = []
    transcript: list[str] = []
    window = llm.context_window
    default = stage_default(window, EDIT_TOKENS)
    for attempt in range(1, FEEDBACK_TURNS + 2):
        room = answer_room(window, messages, default)
        if room < min_answer(window, default) // 2:
            if attempt == 1:
                raise ContextLengthError(
                    f"a prompt of about {message_tokens(messages)} tokens leaves no room for an answer in {window}",
                    window,
                )
            transcript.append("## Feedback stopped\n\nThe conversation no longer fits the context window.\n")
            break
        try:
            completion = await llm.acomplete(messages, max_tokens=room, stage=stage, allow_truncated=True)
        except ContextLengthError:
            if attempt == 1:
                raise
            transcript.append("## Feedback stopped\n\nThe model said the conversation no longer fits its context.\n")
            break
        transcript.append(f"## Answer {attempt}\n\n{completion.text}\n")
        parsed = parse_edits(completion.text)
        outcome = apply_edits(repo, parsed.blocks)
        applied += [f"{b.path} (block {b.index})" for b in outcome.applied]
        failed = [f"{f.block.path} (block {f.block.index}): {f.reason.splitlines()[0]}" for f in outcome.failed] + parsed.problems
        if not outcome.failed and not parsed.problems and (parsed.blocks or applied):
            break
        if attempt == FEEDBACK_TURNS + 1:
            break
        feedback = render(
            "debug/retry",
            failed=[{"index": f.block.index, "path": f.block.path, "reason": f.reason} for f in outcome.failed],
            applied=[f"block {b.index} ({b.path})" for b in outcome.applied],
            problems=parsed.problems,
        )
        transcript.append(f"## Feedback {attempt}\n\n{feedback}\n")
        messages += [{"role": "assistant", "content": completion.text}, {"role": "user", "content": feedback}]
    return applied, failed, "\n".join(transcript)


def fit_context(
    llm: LLM, repo: Path, error: str, findings: list[Finding], paper: str | None
) -> tuple[list[tuple[str, str]], list[str], str]:
    """The files to show (those in the error and findings first) and the paper, within the window."""
    budget = int(llm.context_window * 4 * 0.6)  # characters; leave room for the answer
    texts = _text_files(repo)
    mentioned = {f.file for f in findings} | {p for p in texts if p in error}
    order = sorted(texts, key=lambda p: (p not in mentioned, not p.endswith(".py"), p))
    files, omitted = [], []
    used = len(error) + sum(len(str(f)) for f in findings) + 4000
    for path in order:
        text = texts[path]
        if used + len(text) > budget:
            omitted.append(path)
            continue
        files.append((path, text.rstrip("\n")))
        used += len(text) + len(path) + 10
    paper_text = ""
    if paper:
        room = min(budget - used, 24_000)
        if room > 2000:
            paper_text = paper if len(paper) <= room else paper[:room] + "\n[... the rest of the paper is left out ...]"
    return files, omitted, paper_text


def _text_files(repo: Path) -> dict[str, str]:
    """The repository's text files (code, config, scripts) by relative path."""
    texts = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo)
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES or path.is_symlink():
            continue
        if any(part.startswith(".") or part in ("__pycache__", "venv", "node_modules") for part in rel.parts):
            continue
        if path.stat().st_size > 200_000:
            continue
        texts[rel.as_posix()] = path.read_text(encoding="utf-8", errors="replace")
    return texts


def _write_run_note(report_dir: Path, iteration: int, command: str, run: RunResult, findings: list[Finding]) -> None:
    lines = [f"# Smoke run before repair round {iteration + 1}" if not run.ok else f"# Smoke run {iteration}", ""]
    lines += [f"Command: `{command}`", f"Result: {run.summary()}", ""]
    if findings:
        lines += ["## Static findings", "", *(f"- {f}" for f in findings), ""]
    if not run.ok:
        lines += ["## Error", "", "```", trim_error(run.stderr, run.stdout), "```", ""]
    write_inside(report_dir, f"iteration-{iteration}-run.md", "\n".join(lines))
