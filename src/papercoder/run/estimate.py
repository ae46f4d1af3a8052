"""What a run will cost before it is paid: calls, tokens and money per stage, as ranges.

``papercoder run PAPER --dry-run`` reads the paper, fits it to the model's window and prints, per
stage, the calls, input (and how much of it a provider's cache may serve), output and cost it
expects, with no model call. The number of planned files and of requirements are known only
after planning, so before it they are ranges (5 to 12 files; 8 to 40 requirements a group of
sections), as are the sizes of the answers: from what a small scripted model writes to what a
capable model writes on a real paper. ``papercoder estimate RUN_DIR`` uses what planning decided
(the files, the checklist, the artifacts' sizes) for the stages still to run, so its ranges are
narrower. The low end assumes a clean run (the smoke run passes at once, every requirement is met)
and the provider's cache serving every shared prefix (only each request's own part is paid in
full); the high end
assumes every repair round and refinement round is used and nothing is cached.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papercoder.config import load_config
from papercoder.errors import InputError
from papercoder.llm import open_model
from papercoder.llm.models import choose_model
from papercoder.llm.types import Usage
from papercoder.paper import read_paper
from papercoder.pipeline.analysis import files_per_request
from papercoder.pipeline.artifacts import load_artifacts
from papercoder.pipeline.fit import paper_budget
from papercoder.pipeline.requirements import load_checklist
from papercoder.run.options import DEBUG_ITERATIONS, VERIFY_ROUNDS
from papercoder.run.stages import DEFAULT_STAGES
from papercoder.rundir.manifest import FINISHED, Manifest
from papercoder.rundir.paths import RunPaths, refuse_links
from papercoder.llm.images import image_rule
from papercoder.paper.figures import load_figures
from papercoder.pipeline.figures import MAX_FIGURES
from papercoder.tokens import estimate_tokens, image_tokens

# answer sizes in tokens, (low, high): a scripted test model's, then a capable model's on a real paper
SIZES = {
    "plan": (400, 4000), "design": (300, 2500), "logic": (400, 4000), "config": (60, 800),
    "skeleton_per_file": (60, 300), "analysis_per_file": (250, 1500), "code_per_file": (200, 2500),
    "requirement": (40, 120), "verdict": (15, 400), "repair": (100, 2000),
}
FILES = (5, 12)
REQUIREMENTS_PER_GROUP = (8, 40)
PROMPT_WORDS = (300, 450)  # a request's own instructions, in tokens (low, high)
TURNS_PER_DEBUG_ROUND = 4  # a repair round's feedback turns at most


@dataclass
class StageEstimate:
    """One stage's expected calls, tokens and cost, each (low, high)."""

    stage: str
    calls: tuple[int, int]
    input: tuple[int, int]
    cached: tuple[int, int]  # of the input, what a provider's prompt cache may serve
    output: tuple[int, int]
    cost: tuple[float | None, float | None] = (None, None)


@dataclass
class Estimate:
    stages: list[StageEstimate]
    assumptions: list[str] = field(default_factory=list)

    def total(self) -> StageEstimate:
        def add(key: str) -> tuple[Any, Any]:
            values = [getattr(s, key) for s in self.stages]
            if any(v[0] is None or v[1] is None for v in values):
                return (None, None)
            return (sum(v[0] for v in values), sum(v[1] for v in values))
        return StageEstimate("total", add("calls"), add("input"), add("cached"), add("output"), add("cost"))


def estimate(
    *,
    paper_tokens: int,
    addendum_tokens: int = 0,
    window: int,
    files: tuple[int, int] = FILES,
    requirements: tuple[int, int] | None = None,
    groups: int | None = None,
    analyses_per_call: int = 4,
    artifacts: tuple[int, int] | None = None,
    stages: list[str] | tuple[str, ...] = ("plan", "analyze", "code", "debug", "verify"),
    price: Any = None,
    debug_rounds: int = DEBUG_ITERATIONS,
    verify_rounds: int = VERIFY_ROUNDS,
    figure_tokens: int = 0,
) -> Estimate:
    """The estimate for a paper of ``paper_tokens`` (already fitted to ``window``).

    ``files``, ``requirements`` and ``artifacts`` (the planning answers' total size) narrow the
    ranges once planning has run; ``price`` is a :class:`~papercoder.llm.accounting.Pricer`.
    """
    system = paper_tokens + addendum_tokens + 350
    groups = groups or max(1, math.ceil(paper_tokens / 12_000)) + (1 if addendum_tokens else 0)
    reqs = requirements or (REQUIREMENTS_PER_GROUP[0] * groups, REQUIREMENTS_PER_GROUP[1] * groups)
    low, high = 0, 1

    def size(name: str, end: int) -> int:
        return SIZES[name][end]

    def artifacts_at(end: int) -> int:
        if artifacts is not None:
            return artifacts[end]
        return size("plan", end) + size("design", end) + size("logic", end) + size("config", end)

    def code_total(end: int) -> int:
        return files[end] * size("code_per_file", end)

    out: list[StageEstimate] = []
    if "plan" in stages:
        calls, inputs, cached, outputs = [0, 0], [0, 0], [0, 0], [0, 0]
        for end in (low, high):
            plan, design, logic = size("plan", end), size("design", end), size("logic", end)
            conversation = 4 * (system + figure_tokens) + 3 * plan + 2 * design + logic + 4 * PROMPT_WORDS[end]
            skeleton = system + artifacts_at(end) + PROMPT_WORDS[end]
            checklist = groups * (system + figure_tokens + PROMPT_WORDS[end] * 2 + 40 * files[end])
            repairs = 0 if end == low else 2 * (system + artifacts_at(end)) + (system + PROMPT_WORDS[end])
            calls[end] = 4 + 1 + groups + (0 if end == low else 3)
            inputs[end] = conversation + skeleton + checklist + repairs
            # every turn after the first re-sends the one before it; the skeleton and checklist share the system message
            cached[end] = (conversation - system - figure_tokens - 4 * PROMPT_WORDS[end] + (1 + groups) * system
                           + groups * figure_tokens) if end == low else 0
            outputs[end] = (plan + design + logic + size("config", end) + files[end] * size("skeleton_per_file", end)
                            + reqs[end] * size("requirement", end))
        out.append(StageEstimate("plan", tuple(calls), tuple(inputs), tuple(cached), tuple(outputs)))
    if "analyze" in stages:
        calls, inputs, cached, outputs = [0, 0], [0, 0], [0, 0], [0, 0]
        for end in (low, high):
            requests = math.ceil(files[end] / analyses_per_call) + (0 if end == low else files[end] // 2)
            each = (system + artifacts_at(end) + files[end] * size("skeleton_per_file", end) + PROMPT_WORDS[end]
                    + (150, 350)[end] * analyses_per_call)
            calls[end], inputs[end] = requests, requests * each
            cached[end] = requests * (each - PROMPT_WORDS[end] - (150, 350)[end] * analyses_per_call) if end == low else 0
            outputs[end] = files[end] * size("analysis_per_file", end)
        out.append(StageEstimate("analyze", tuple(calls), tuple(inputs), tuple(cached), tuple(outputs)))
    if "code" in stages:
        calls, inputs, cached, outputs = [0, 0], [0, 0], [0, 0], [0, 0]
        for end in (low, high):
            prefix = system + artifacts_at(end) + files[end] * size("skeleton_per_file", end)
            each = prefix + size("analysis_per_file", end) + 40 * max(1, reqs[end] // files[end]) + PROMPT_WORDS[end]
            extra = 0 if end == low else 1 + files[end] // 2  # the consistency repair, syntax repairs
            calls[end] = files[end] + extra
            inputs[end] = files[end] * each + extra * (prefix + code_total(end))
            cached[end] = files[end] * prefix if end == low else 0  # the prefix analysis sent before
            outputs[end] = code_total(end) + extra * size("repair", end)
        out.append(StageEstimate("code", tuple(calls), tuple(inputs), tuple(cached), tuple(outputs)))
    if "debug" in stages:
        high_calls = TURNS_PER_DEBUG_ROUND * debug_rounds
        each = system + artifacts_at(high) + files[high] * size("skeleton_per_file", high) + code_total(high) + 2000
        out.append(StageEstimate("debug", (0, high_calls), (0, high_calls * min(each, window)), (0, 0),
                                 (0, high_calls * size("repair", high))))
    if "verify" in stages:
        calls, inputs, cached, outputs = [0, 0], [0, 0], [0, 0], [0, 0]
        for end in (low, high):
            shown = min(code_total(end) if end == high else code_total(end) // 2, max(0, window // 2))
            judge_each = paper_tokens + shown + 700
            judged = reqs[end] * (1 if end == low else 1 + verify_rounds)
            refine = 0 if end == low else verify_rounds * files[end] * 4
            refine_each = system + artifacts_at(end) + code_total(end) + PROMPT_WORDS[end] * 2
            calls[end] = judged + refine
            inputs[end] = judged * min(judge_each, window) + refine * min(refine_each, window)
            cached[end] = (judged - 1) * paper_tokens if end == low else 0
            outputs[end] = judged * size("verdict", end) + refine * size("repair", end)
        out.append(StageEstimate("verify", tuple(calls), tuple(inputs), tuple(cached), tuple(outputs)))
    if price is not None:
        for stage in out:
            low_cost = price.cost(Usage(input_tokens=stage.input[low], cached_input_tokens=stage.cached[low],
                                        output_tokens=stage.output[low]))
            high_cost = price.cost(Usage(input_tokens=stage.input[high], output_tokens=stage.output[high]))
            stage.cost = (low_cost, high_cost)
    assumptions = [
        f"{files[low]} to {files[high]} planned files" if files[low] != files[high] else f"{files[low]} planned files",
        f"{reqs[low]} to {reqs[high]} requirements" if reqs[low] != reqs[high] else f"{reqs[low]} requirements",
        f"{groups} checklist request(s), {analyses_per_call} file(s) per analysis request",
        "low: a clean run (the smoke run passes at once, every requirement met), every shared prefix served by the provider's cache",
        f"high: every repair and refinement round used ({debug_rounds} debug, {verify_rounds} verify), nothing cached, long answers",
    ]
    return Estimate(out, assumptions)


def format_estimate(result: Estimate, *, model: str) -> str:
    """The estimate as a table a user reads, with what it assumes."""
    def span(pair: tuple[Any, Any], money: bool = False) -> str:
        lo, hi = pair
        if lo is None or hi is None:
            return "unknown"
        if money:
            return f"${lo:.2f} - ${hi:.2f}"
        return f"{lo:,} - {hi:,}" if lo != hi else f"{lo:,}"

    rows = [*result.stages, result.total()]
    lines = [f"Estimate for {model} (no model was called):", "",
             f"{'stage':<8} {'calls':>12} {'input tokens':>22} {'cached (low)':>14} {'output tokens':>20} {'cost':>18}"]
    for s in rows:
        lines.append(f"{s.stage:<8} {span(s.calls):>12} {span(s.input):>22} {s.cached[0]:>14,} {span(s.output):>20} "
                     f"{span(s.cost, money=True):>18}")
    lines += ["", "Assumes: " + "; ".join(result.assumptions) + "."]
    return "\n".join(lines)


def _open_for_estimate(spec: str | None, *, base_url: str | None = None, context_window: int | None = None) -> Any:
    """The model's client for its window and prices only: no key is needed, for no call is made."""
    config = load_config()
    choice = choose_model(spec, base_url=base_url, config=config)
    env = dict(os.environ)
    if choice.api_key_env and not env.get(choice.api_key_env):
        env[choice.api_key_env] = "no-key-an-estimate-calls-no-model"
    return open_model(spec, base_url=base_url, context_window=context_window, config=config, quiet=True, env=env)


def dry_run(source: str, *, model: str | None = None, base_url: str | None = None, context_window: int | None = None,
            addendum: str = "", stages: list[str] | None = None, analysis_group: int | None = None,
            debug_rounds: int = DEBUG_ITERATIONS, verify_rounds: int = VERIFY_ROUNDS) -> tuple[Estimate, str, list[str]]:
    """The estimate for ``source`` before anything runs: the paper read and fitted, no model call.
    Returns the estimate, the model's name and notes (how the paper would be fitted)."""
    paper = read_paper(source)
    llm = _open_for_estimate(model, base_url=base_url, context_window=context_window)
    window = llm.context_window
    tokens = estimate_tokens(paper.to_markdown())
    extra = estimate_tokens(addendum) if addendum else 0
    budget = paper_budget(window, reserved=extra)
    notes = [f"the paper is about {tokens:,} tokens; the model's window {window:,} tokens ({llm.window_source or 'assumed'})"]
    if tokens > budget:
        notes.append(f"it would be condensed to about {budget:,} tokens to fit (a call per section condensed, not counted above)")
    group = files_per_request(llm, analysis_group)
    figures = _figure_tokens(paper.figures, llm, notes)
    result = estimate(paper_tokens=min(tokens, budget), addendum_tokens=extra, window=window, analyses_per_call=group,
                      stages=stages or list(DEFAULT_STAGES), price=llm.pricer, debug_rounds=debug_rounds,
                      verify_rounds=verify_rounds, figure_tokens=figures)
    return result, llm.model, notes


def _figure_tokens(figures: list[Any], llm: Any, notes: list[str]) -> int:
    """The tokens the planning turns' images cost each turn (0 for a model that reads none), noted."""
    if not figures or not llm.accepts_images:
        return 0
    shown = figures[:MAX_FIGURES]
    tokens = sum(image_tokens(f.width, f.height, image_rule(llm.model)) for f in shown)
    notes.append(f"{len(shown)} figure(s) go to {llm.model} in the planning turns and checklist requests, about "
                 f"{tokens:,} tokens each (counted above); a file whose design names a figure gets it too (not counted)")
    return tokens


def estimate_run(run_dir: Any, *, model: str | None = None) -> tuple[Estimate, str, list[str]]:
    """The estimate of the stages a planned run has still to run, with what planning decided."""
    paths = RunPaths(Path(run_dir))
    refuse_links(paths)
    manifest = Manifest.load(paths.manifest)
    artifacts = load_artifacts(paths)  # an InputError naming the stage to run when planning has not
    files = len(artifacts.tasks.task_list) or 1
    reqs, checklist = 0, "no checklist: requirements guessed"
    if paths.checklist.is_file():
        try:
            reqs = len(load_checklist(paths.checklist)[1])
            checklist = f"{reqs} requirements" if reqs else "an empty checklist: requirements guessed"
        except (InputError, ValueError, OSError) as exc:  # verify then makes its own: the guess stands for it
            checklist = f"the checklist cannot be read ({exc}): requirements guessed"
    todo = [s for s in DEFAULT_STAGES if manifest.stage(s).status not in FINISHED]
    llm = _open_for_estimate(model or manifest.model, base_url=manifest.base_url)
    size = sum(estimate_tokens(text) for text in (artifacts.plan, artifacts.config, artifacts.design.model_dump_json(),
                                                   artifacts.tasks.model_dump_json()))
    notes = [f"{files} planned files, {checklist}; stages still to run: {', '.join(todo) or 'none'}"]
    figures = _figure_tokens(load_figures(paths.figures, with_images=False)[0], llm, notes) if "plan" in todo else 0
    result = estimate(paper_tokens=estimate_tokens(artifacts.paper), addendum_tokens=estimate_tokens(artifacts.addendum),
                      window=llm.context_window, files=(files, files), requirements=(reqs, reqs) if reqs else None,
                      artifacts=(size, size), stages=todo, price=llm.pricer, figure_tokens=figures)
    return result, llm.model, notes
