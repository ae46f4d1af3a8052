"""Stage 3, coding: every planned file, then the repository's extras, then a cross-file check.

By default (``wave``) every file is written at the same time: its request holds the paper, plan,
design, logic, config and the interface skeleton (the same bytes for every file, so the prefix
cache serves them) and then its own analysis. The files agree because they share the skeleton;
the consistency check (:mod:`papercoder.pipeline.consistency`) then compares every cross-file use
with the code actually written and repairs what disagrees. ``sequential`` is the original
method's order: one file after another, each seeing the full code of all files before it. A run
without a skeleton (planned by an older version) writes files in dependency layers, each seeing
the code of the files it depends on. A request never depends on which concurrent call finished
first, so a resumed run asks the same questions. Python must parse (one repair turn); an answer
cut at the output limit is continued once.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import PurePosixPath

from papercoder import pysource
from papercoder.errors import InputError
from papercoder.llm import ContextLengthError, Message, TruncatedError
from papercoder.pipeline.analysis import analysis_name
from papercoder.pipeline.artifacts import PlanningArtifacts, load_artifacts, paper_title
from papercoder.pipeline.codeblocks import dependency_layers, extract_code, extract_interface
from papercoder.pipeline.consistency import reconcile
from papercoder.rundir.context import StageContext
from papercoder.pipeline.figures import file_images, with_images
from papercoder.pipeline.prefix import layered_messages
from papercoder.pipeline.extras import readme_text, reproduce_script, requirements_text, smoke_script
from papercoder.pipeline.window import (
    Part,
    answer_room,
    complete_text,
    cut,
    drop,
    fit_parts,
    min_answer,
    reduce,
    stage_default,
    with_window_retries,
)
from papercoder.prompts import render
from papercoder.repo.paths import resolve_inside, write_inside


# How the code stage writes the planned files: "wave", all at once against the interface
# skeleton (the default); "sequential", one after another, each seeing the full code of the
# files before it (the original method's order, slower and dearer).
CODING_MODES = ("wave", "sequential")

STAGE = "coding"
CODE_TOKENS = 16384  # a safety bound, not a style: a 1,000-line file fits

# What gives way, in order, when a file's prompt would not fit the context window.
FIT_STEPS = [
    ("left out the interfaces of files it does not depend on", drop("interface:")),
    ("reduced the code of its dependencies to their interfaces", reduce("dependency:")),
    ("shortened the logic design", cut("logic")),
    ("shortened the overall plan", cut("plan")),
    ("shortened its analysis", cut("analysis", keep_chars=1500)),
    ("shortened the design", cut("design")),
    ("left out its dependencies' interfaces", drop("dependency:")),
    ("shortened the interface skeleton", cut("interfaces")),
    ("shortened the paper", cut("paper", keep_chars=2000)),
]

_LANGUAGE = {".py": "python", ".sh": "bash", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".md": "markdown"}


async def run_coding(ctx: StageContext) -> None:
    """Write every planned file into ``ctx.paths.repo``, then requirements, config, scripts, README."""
    artifacts = load_artifacts(ctx.paths)
    tasks = artifacts.tasks
    analyses = _read_analyses(ctx, artifacts)
    layers, full = _schedule(ctx, artifacts)
    total = len(tasks.task_list)
    limit = asyncio.Semaphore(max(1, ctx.concurrency))
    written: dict[str, str] = {}
    done = 0
    ctx.progress(STAGE, 0, total)

    async def code(path: str, earlier: dict[str, str]) -> str:
        nonlocal done
        async with limit:
            text = await code_file(ctx, artifacts, analyses[path], earlier, path, full=full)
        write_inside(ctx.paths.repo, path, text)
        done += 1
        ctx.progress(STAGE, done, total)
        return text

    for layer in layers:
        earlier = dict(written)  # the context of this layer: earlier layers only
        results = await asyncio.gather(*(code(path, earlier) for path in layer), return_exceptions=True)
        for path, result in zip(layer, results):
            if isinstance(result, BaseException):
                raise result  # the files that succeeded are on disk; the call log keeps every answer
            written[path] = result

    write_extras(ctx, artifacts, written)
    await reconcile(ctx, artifacts)


def _schedule(ctx: StageContext, artifacts: PlanningArtifacts) -> tuple[list[list[str]], bool]:
    """The files in groups written one group after another, and whether each sees the full code of
    every earlier file (``sequential``) or only its dependencies' code and the others' interfaces."""
    tasks = artifacts.tasks
    if ctx.coding == "sequential":
        return [[path] for path in tasks.task_list], True
    if artifacts.interfaces.strip():
        return ([list(tasks.task_list)] if tasks.task_list else []), False
    ctx.note("coding: this run has no interface skeleton (planning/interfaces.md); files are written in dependency layers")
    try:
        return dependency_layers(tasks.task_list, tasks.dependencies()), False
    except ValueError as exc:
        raise InputError(f"{ctx.paths.tasks} has a {exc}; run the planning stage again") from None


def _read_analyses(ctx: StageContext, artifacts: PlanningArtifacts) -> dict[str, str]:
    analyses: dict[str, str] = {}
    missing: list[str] = []
    for path in artifacts.tasks.task_list:
        target = ctx.paths.analysis / analysis_name(path)
        if target.is_file():
            analyses[path] = target.read_text(encoding="utf-8").strip()
        else:
            missing.append(path)
            analyses[path] = artifacts.tasks.logic_of(path).analysis.strip()
    if missing and len(missing) == len(artifacts.tasks.task_list) and artifacts.tasks.task_list:
        raise InputError(f"{ctx.paths.analysis} holds no analyses; run the analysis stage first")
    if missing:
        ctx.note("coding: no analysis for " + ", ".join(missing) + "; used their logic design instead")
    return analyses


def file_messages(
    ctx: StageContext,
    artifacts: PlanningArtifacts,
    analysis: str,
    earlier: dict[str, str],
    path: str,
    window: int | None = None,
    *,
    full: bool = False,
) -> tuple[list[Message], int]:
    """The request for ``path`` (fitted to ``window``) and its ``max_tokens``.

    Depends only on the planning artifacts (the skeleton among them), the file's analysis and
    ``earlier`` (the code of files written before it), listed in task order: with ``full``, every
    earlier file's code; else the code of its dependencies and the interfaces of the others.
    """
    tasks = artifacts.tasks
    deps = [d for d in tasks.task_list if d in earlier] if full else [d for d in tasks.logic_of(path).depends_on if d in earlier]
    parts = artifacts.context_parts()
    # code of earlier files before the file's own analysis: request k then starts with request
    # k-1's bytes up to the code file k-1 wrote, so the prefix cache serves the files before it
    for dep in deps:
        code = earlier[dep]
        reduced = extract_interface(code) if dep.endswith(".py") else None
        title = f"Code of {dep} (written earlier)" if full else f"Code of {dep} (a dependency of {path})"
        parts.append(Part(f"dependency:{dep}", title, _fenced(dep, code), _fenced(dep, reduced) if reduced else None))
    for other in tasks.task_list:
        if other in earlier and other not in deps and other.endswith(".py"):
            interface = extract_interface(earlier[other])
            if interface.strip():
                parts.append(Part(f"interface:{other}", f"Interface of {other}", _fenced(other, interface)))
    parts.append(Part("analysis", f"Analysis of {path}", analysis or "(none)"))
    parts += artifacts.requirements_part(path)
    entry = tasks.entry_point
    language = _LANGUAGE.get(PurePosixPath(path).suffix.lower(), "")

    named = "\n".join([tasks.logic_of(path).analysis, analysis, *(p.text for p in parts if p.key == "requirements")])
    images = file_images(ctx, named, f"coding {path}")

    def build(chosen: list[Part]) -> list[Message]:
        return with_images(layered_messages(
            chosen,
            lambda own: render(
                "coding/file", parts=own, path=path, language=language, is_entry=path == entry, entry_point=entry,
                requirements=any(part.key == "requirements" for part in own),
            ),
        ), images)

    window = window or ctx.llm.context_window
    default = stage_default(window, CODE_TOKENS)
    messages, taken = fit_parts(
        parts, build, window=window, min_output=min_answer(window, default), steps=FIT_STEPS,
        what=f"coding {path}",
    )
    if taken:
        ctx.note(f"coding {path}: to fit the context window, " + "; ".join(taken))
    if deps and "left out its dependencies' interfaces" in taken:
        ctx.degrade(f"coding {path}: written without the interfaces of {', '.join(deps)}, which did not fit the window")
    return messages, answer_room(window, messages, default)


def _fenced(path: str, code: str) -> str:
    language = _LANGUAGE.get(PurePosixPath(path).suffix.lower(), "")
    return f"```{language}\n{code.rstrip()}\n```"


async def code_file(
    ctx: StageContext, artifacts: PlanningArtifacts, analysis: str, earlier: dict[str, str], path: str, *, full: bool = False
) -> str:
    """Write one file: ask, take the fenced code, and give a syntax error one repair turn."""

    async def attempt(window: int) -> tuple[list[Message], str, bool, int]:
        messages, max_tokens = file_messages(ctx, artifacts, analysis, earlier, path, window, full=full)
        try:
            answer, continued = await complete_text(
                ctx.llm, messages, max_tokens=max_tokens, stage=STAGE, what=path, window=window
            )
        except TruncatedError as cut:
            # Keep what was written rather than lose it: the run is degraded, the static checks
            # flag the file, and the debugging stage gets to finish it.
            ctx.degrade(
                f"coding {path}: INCOMPLETE: the answer was cut at the output limit even with more room and a "
                "continuation; the partial file was kept for the debugging stage (use a model with a larger output limit)"
            )
            return messages, cut.completion.text, False, window
        return messages, answer, continued, window

    messages, answer, continued, window = await with_window_retries(ctx.llm, attempt, ctx.note, f"coding {path}")
    if continued:
        ctx.note(f"coding {path}: the answer was cut at the output limit and continued once")
    code = extract_code(answer, path)
    if not code.strip():
        answer, code = await _ask_again_for_empty(ctx, messages, answer, path, window)
    if not code.strip():
        ctx.degrade(f"coding {path}: the model wrote no code, twice; an empty file was kept for the debugging stage")
        return code
    if not path.endswith(".py"):
        return code
    error = syntax_error(code)
    if error is None:
        return code
    fixed_answer, why = await _follow_up(
        ctx, messages, answer, render("coding/syntax_repair", path=path, error=error), window, f"{path} (syntax repair)"
    )
    if why:
        ctx.degrade(f"coding {path}: {error}; {why}, kept for debugging")
        return code
    fixed = extract_code(fixed_answer or "", path)
    still = syntax_error(fixed)
    if still is None:
        ctx.note(f"coding {path}: repaired a syntax error ({error})")
        return fixed
    ctx.degrade(f"coding {path}: still does not parse after a repair turn ({still}); kept for the debugging stage")
    return fixed


async def _follow_up(
    ctx: StageContext, messages: list[Message], answer: str, request: str, window: int, what: str
) -> tuple[str | None, str]:
    """Ask ``request`` after the model's ``answer`` to ``messages``: ``(new answer, "")``, or
    ``(what there is, why it is not a whole answer)``; ``None`` when the turn could not be asked."""
    turn = [*messages, {"role": "assistant", "content": answer or "(no answer)"}, {"role": "user", "content": request}]
    default = stage_default(window, CODE_TOKENS)
    room = answer_room(window, turn, default)
    if room < min_answer(window, default) // 2:
        return None, "no room in the context window for a repair turn"
    try:
        text, _ = await complete_text(ctx.llm, turn, max_tokens=room, stage=STAGE, what=what, window=window)
    except ContextLengthError:
        return None, "the repair turn did not fit the context window"
    except TruncatedError as cut:
        return cut.completion.text, "the repair turn was cut at the output limit"
    return text, ""


async def _ask_again_for_empty(
    ctx: StageContext, messages: list[Message], answer: str, path: str, window: int
) -> tuple[str, str]:
    """One more turn for an answer that held no code: ``(answer, code)``, the code maybe still empty."""
    language = _LANGUAGE.get(PurePosixPath(path).suffix.lower(), "")
    again, _ = await _follow_up(
        ctx, messages, answer, render("coding/empty_retry", path=path, language=language), window, f"{path} (empty answer)"
    )
    if again is None:
        return answer, ""
    ctx.note(f"coding {path}: the answer held no code; asked once more")
    return again, extract_code(again, path) if again else ""


def syntax_error(code: str) -> str | None:
    """``None`` when ``code`` parses as Python, else the error as a short sentence for the model."""
    try:
        pysource.parse(code)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "somewhere"
        line = (exc.text or "").strip()
        return f"{exc.msg} at {where}" + (f": `{line[:120]}`" if line else "")
    except ValueError as exc:  # e.g. null bytes
        return str(exc)
    return None


def write_extras(ctx: StageContext, artifacts: PlanningArtifacts, written: dict[str, str]) -> None:
    """requirements.txt, config.yaml, reproduce.sh, smoke.sh and README.md: no model call needed."""
    repo = ctx.paths.repo
    tasks = artifacts.tasks
    entry = tasks.entry_point
    write_inside(repo, "requirements.txt", requirements_text(tasks.required_packages, written))
    write_inside(repo, "config.yaml", artifacts.config)
    for name, text in (("reproduce.sh", reproduce_script(entry)), ("smoke.sh", smoke_script(entry))):
        write_inside(repo, name, text)
        os.chmod(resolve_inside(repo, name), 0o755)
    readme = readme_text(
        paper_title(artifacts.paper), artifacts.design, tasks, ctx.llm.model, artifacts.inventory, written
    )
    write_inside(repo, "README.md", readme)
