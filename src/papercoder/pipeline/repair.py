"""The repair tool shared by debugging, the consistency repair and the verify stage.

What to run (the smoke command, the planned entry point), reading a failure (the traceback
trimmed to the repository's frames, a missing module), which static findings block, what the
model is shown (the files that matter first, within the window), and the edit loop: ask for
SEARCH/REPLACE blocks, apply them, send back what did not apply, at most ``FEEDBACK_TURNS`` times.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from pathlib import Path

from papercoder.errors import InputError
from papercoder.llm import LLM, ContextLengthError, Message
from papercoder.pipeline.artifacts import load_artifacts, read_addendum, shared_prefix
from papercoder.pipeline.prefix import paper_prefix
from papercoder.pipeline.window import answer_room, margin, message_tokens, min_answer, stage_default
from papercoder.prompts import render
from papercoder.repo.checks import Finding, python_files
from papercoder.repo.edits import apply_edits, parse_edits
from papercoder.repo.importmap import add_requirement, is_stdlib
from papercoder.repo.sandbox import SandboxResult
from papercoder.rundir.paths import RunPaths
from papercoder.tokens import CHARS_PER_TOKEN

STAGE = "debug"  # the call-log label of repairs unless the caller names its own
FEEDBACK_TURNS = 3  # blocks that did not apply go back to the model at most this often per round
EDIT_TOKENS = 8192  # an answer of edit blocks, before capping to a small window
REQUEST_TOKENS = 1500  # a repair request's own words (what broke, the rules), without the files
TEXT_SUFFIXES = (".py", ".sh", ".yaml", ".yml", ".txt", ".toml", ".cfg", ".json", ".ini")
ENTRY_CANDIDATES = ("main.py", "train.py", "run.py", "run_experiment.py", "experiment.py")
_SANDBOX_PATH = re.compile(r"(/[^\s\"']*?)?/papercoder-sandbox-[^/\s\"']+/repo/")
_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+)(, in .*)?$')
_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")


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


def missing_module(run: SandboxResult, repo: Path) -> str | None:
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


def add_missing_requirements(repo: Path, findings: list[Finding]) -> list[str]:
    added = []
    for finding in findings:
        if finding.kind != "requirement":
            continue
        match = re.search(r"distribution '([^']+)'", finding.message)
        if match and add_requirement(repo, match.group(1)):
            added.append(match.group(1))
    return added


async def repair_findings(
    llm: LLM, repo: Path, findings: list[Finding], prefix: list[Message], *, reference: str = "", stage: str = STAGE
) -> tuple[list[str], list[str], str]:
    """One repair round for static ``findings`` of code not yet run (e.g. files written at once that
    disagree). ``prefix`` is the run's shared prefix; ``reference`` (the interface skeleton) is
    shown only when the prefix lacks it. Same result as a debugging round: (applied, failed, transcript)."""
    return await repair_round(llm, repo, None, findings, prefix, "", [], reference=reference, stage=stage)


async def repair_round(
    llm: LLM,
    repo: Path,
    run: SandboxResult | None,
    findings: list[Finding],
    prefix: list[Message],
    command: str,
    requirements_added: list[str],
    *,
    reference: str = "",
    stage: str = STAGE,
) -> tuple[list[str], list[str], str]:
    """Ask for edits, apply them, send back what did not apply; (applied, failed, transcript).

    ``run`` is the smoke run that failed (or passed with findings), or None for code not yet run.
    The request is ``prefix`` (the run's shared prefix: the paper whole, the plan, the skeleton)
    and one message of its own: what broke, the files, the minimal-change rules.
    """
    error = trim_error(run.stderr, run.stdout) if run is not None else ""
    if reference and any(reference.strip()[:200] in m["content"] for m in prefix):
        reference = ""  # the skeleton is in the prefix already
    files, omitted = fit_context(llm, repo, error + reference, findings, prefix)
    notes = [f"added {name} to requirements.txt" for name in requirements_added]
    result_line = ""
    stdout_tail = ""
    if run is not None:
        result_line = run.summary() + (f"; the {run.limit} limit stopped it" if run.limit and run.limit not in run.summary() else "")
        stdout_tail = "\n".join(_SANDBOX_PATH.sub("", run.stdout).strip().splitlines()[-15:])
    request = render(
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
        files=files,
        omitted=omitted,
    )
    return await edit_loop(llm, repo, [*prefix, {"role": "user", "content": request}], stage=stage)


async def edit_loop(llm: LLM, repo: Path, messages: list[Message], *, stage: str = STAGE) -> tuple[list[str], list[str], str]:
    """Ask ``messages`` for SEARCH/REPLACE blocks, apply them to ``repo``, and send back the blocks
    that did not apply (with the reason and the closest lines), at most ``FEEDBACK_TURNS`` times.

    Returns (applied, failed, transcript). Shared by debugging, the consistency repair and the
    verify stage's refinement: each builds its own request, the edits work the same way.
    """
    messages = list(messages)
    refused: list[str] = []  # edits aimed outside the repository, over every attempt: always reported
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
        refused += [f"{f.block.path}: refused: {f.reason.splitlines()[0]}" for f in outcome.failed
                    if f.refused and f"{f.block.path}: refused: {f.reason.splitlines()[0]}" not in refused]
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
    failed += [r for r in refused if r not in failed]
    return applied, failed, "\n".join(transcript)


def reserve_for(repo: Path, window: int) -> int:
    """Tokens a repair request's own part may need: the repository's text, the request's words and
    the answer, but at most half the window (the shared prefix keeps the rest)."""
    repository = sum(len(text) for text in text_files(repo).values()) // CHARS_PER_TOKEN
    return min(window // 2, repository + REQUEST_TOKENS + stage_default(window, EDIT_TOKENS))


def repair_prefix(paths: RunPaths, llm: LLM, repo: Path, *, what: str, note: Callable[[str], None] = lambda m: None) -> list[Message]:
    """The run's shared prefix for the repair requests of ``repo``: the paper whole, the plan and the
    skeleton, as analysis and coding sent them; the paper alone when the run has no plan yet."""
    try:
        artifacts = load_artifacts(paths)
    except InputError:
        paper = paths.paper.read_text(encoding="utf-8") if paths.paper.is_file() else None
        return paper_prefix(paper, read_addendum(paths))
    window = llm.context_window
    return shared_prefix(artifacts, window=window, reserve=reserve_for(repo, window), what=what, note=note)


def fit_context(
    llm: LLM, repo: Path, error: str, findings: list[Finding], prefix: list[Message], *, first: tuple[str, ...] = ()
) -> tuple[list[tuple[str, str]], list[str]]:
    """The repository's files to show after ``prefix`` (``first``, then those in the error and the
    findings, then code, then the rest) within what the window leaves, and the ones left out."""
    window = llm.context_window
    answer = stage_default(window, EDIT_TOKENS)
    room = window - margin(window) - message_tokens(prefix) - answer - REQUEST_TOKENS
    budget = max(0, room) * CHARS_PER_TOKEN  # characters
    texts = text_files(repo)
    mentioned = {f.file for f in findings} | {p for p in texts if p in error}
    order = sorted(texts, key=lambda p: (p not in first, p not in mentioned, not p.endswith(".py"), p))
    files, omitted = [], []
    used = len(error) + sum(len(str(f)) for f in findings)
    for path in order:
        text = texts[path]
        if used + len(text) > budget:
            omitted.append(path)
            continue
        files.append((path, text.rstrip("\n")))
        used += len(text) + len(path) + 10
    return files, omitted


def text_files(repo: Path) -> dict[str, str]:
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
