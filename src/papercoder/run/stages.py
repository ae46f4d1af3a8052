"""The stage table: every step of a run, in order, with what it reads, writes and records.

The one place to add a stage: write its module (``async def run_<name>(ctx, **options)``), then
add one :class:`Stage` row here. The runner, ``--stages``, the manifest's order and the clearing
of a stage's old outputs all read this table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from papercoder.pipeline.analysis import run_analysis
from papercoder.pipeline.coding import run_coding
from papercoder.pipeline.debugging import run_debugging
from papercoder.pipeline.fit import run_fit
from papercoder.pipeline.planning import run_planning
from papercoder.reproduce.stage import run_reproduce
from papercoder.rundir.context import StageContext
from papercoder.rundir.manifest import Manifest
from papercoder.rundir.paths import RunPaths
from papercoder.run.options import RunOptions
from papercoder.verify.stage import run_verify


@dataclass(frozen=True)
class Stage:
    """One step of a run."""

    name: str
    run: Callable[..., Awaitable[Any]]  # run(ctx, **arguments(options))
    needs: Callable[[RunPaths], Path]  # what it reads; missing means an earlier step must run
    made_by: str  # the command that makes what it needs ("run" for the paper itself)
    outputs: Callable[[RunPaths], list[Path]]  # what it writes, cleared before it runs again
    arguments: Callable[[RunOptions], dict[str, Any]] = lambda options: {}
    remember: Callable[[StageContext], dict[str, Any]] = lambda ctx: {}  # kept in the manifest before it runs
    record: Callable[[Any, Manifest, StageContext], None] = lambda result, manifest, ctx: None  # what it kept
    default: bool = True  # part of `papercoder run` without --stages
    selectable: bool = True  # named in --stages and recorded in the manifest's stages
    rebuild: tuple[str, ...] = ()  # run first again when this stage stopped part way (it changed repo/)


def _record_fit(result: Any, manifest: Manifest, ctx: StageContext) -> None:
    paper = ctx.paper
    manifest.title = paper.title
    manifest.paper = {
        "format": paper.source_format,
        "tokens_read": result.tokens_before,
        "tokens_fitted": result.tokens_after,
        "budget": result.budget,
        "context_window": ctx.llm.context_window,
        "context_window_source": getattr(ctx.llm, "window_source", "") or "assumed",
        "fit_steps": result.steps,
        "warnings": list(paper.warnings),
        "fallbacks": list(ctx.fallbacks),  # a resumed run's planning records them again
        "ready": True,
    }


def _record_debug(result: Any, manifest: Manifest, ctx: StageContext) -> None:
    status = getattr(result, "status", None)
    ran = getattr(result, "planned_ran", None)
    if ran is not None:  # how many planned files ran a function in the last smoke run
        manifest.stage("debug").detail.update(planned_ran=len(ran), planned_total=getattr(result, "planned_total", 0))
    if status is not None:
        manifest.stage("debug").detail["status"] = str(status)
        if str(status) != "passed":
            ctx.degrade(f"debug: the repository does not pass its smoke run ({status})")


def _record_verify(result: Any, manifest: Manifest, ctx: StageContext) -> None:
    manifest.stage("verify").detail.update(
        outcome=result.status, requirements=result.leaves, failing=len(result.failing),
        coverage_before=round(result.coverage_before, 4), coverage_after=round(result.coverage_after, 4),
    )


def _analysis_group(ctx: StageContext) -> dict[str, Any]:
    return {"analysis_group": ctx.analysis_group} if ctx.analysis_group is not None else {}


TABLE: tuple[Stage, ...] = (
    Stage("fit", run_fit, needs=lambda p: p.root, made_by="run", outputs=lambda p: [p.paper, p.paper_full, p.figures],
          record=_record_fit, selectable=False),
    Stage("plan", run_planning, needs=lambda p: p.paper, made_by="run", outputs=lambda p: [p.planning]),
    Stage("analyze", run_analysis, needs=lambda p: p.tasks, made_by="plan", outputs=lambda p: [p.analysis],
          remember=_analysis_group),  # a resumed run keeps the same requests
    Stage("code", run_coding, needs=lambda p: p.analysis, made_by="analyze", outputs=lambda p: [p.repo, p.coding],
          remember=lambda ctx: {"coding": ctx.coding}),  # and the same way of writing
    Stage("debug", run_debugging, needs=lambda p: p.repo, made_by="code", outputs=lambda p: [p.debug],
          arguments=lambda o: {"max_iterations": o.debug_iterations}, record=_record_debug, rebuild=("code",)),
    Stage("verify", run_verify, needs=lambda p: p.repo, made_by="code", outputs=lambda p: [p.verify],
          arguments=lambda o: {"rounds": o.verify_rounds, "judge_model": o.judge_model}, record=_record_verify, rebuild=("code", "debug")),
    # hours, maybe a GPU: asked for by name
    Stage("reproduce", run_reproduce, needs=lambda p: p.repo, made_by="code", outputs=lambda p: [p.reproduce],
          default=False),
)
BY_NAME: dict[str, Stage] = {stage.name: stage for stage in TABLE}
STAGES: tuple[str, ...] = tuple(stage.name for stage in TABLE if stage.selectable)  # --stages, in order
DEFAULT_STAGES: tuple[str, ...] = tuple(stage.name for stage in TABLE if stage.selectable and stage.default)
