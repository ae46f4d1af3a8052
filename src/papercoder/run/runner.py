"""Running the stages of one run directory in order, recording each in the manifest.

Which stages run: the requested ones, from the first that is not done (per the manifest)
onwards, since every later stage reads what the earlier ones wrote. A stage about to run has
its own outputs cleared first, so that, with the call log answering every request already
made, a resumed run rebuilds exactly what an uninterrupted run would have built.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from papercoder.errors import InputError
from papercoder.llm import LLM
from papercoder.rundir.paths import RunPaths
from papercoder.rundir.context import StageContext
from papercoder.rundir.manifest import FINISHED, Manifest, now
from papercoder.run.options import RunOptions
from papercoder.run.progress import RunDisplay
from papercoder.run.stages import BY_NAME, DEFAULT_STAGES, STAGES, Stage
from papercoder.run.stats import StageStats, snapshot

T = TypeVar("T")


def parse_stages(stages: list[str] | str | None) -> list[str]:
    """Validate and order stage names; accepts ``["plan", "code"]`` or ``"plan,code"``."""
    if stages is None:
        return list(DEFAULT_STAGES)
    if isinstance(stages, str):
        stages = [stages]
    names = [s.strip().lower() for item in stages for s in item.split(",") if s.strip()]
    unknown = [s for s in names if s not in STAGES]
    if unknown or not names:
        raise InputError(
            f"unknown stage {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"choose from {', '.join(STAGES)}, e.g. --stages plan,analyze"
        )
    return [s for s in STAGES if s in names]


def stages_to_run(requested: list[str], manifest: Manifest, *, force: bool = False) -> list[str]:
    """The requested stages from the first one not done; with ``force``, all requested ones.

    A stage that stopped part way after changing ``repo/`` (debug, verify) has the stages it
    started from (its ``rebuild``) run again first, from the call log at no cost, so it gets
    the same starting point.
    """
    todo: list[str] = []
    for stage in requested:
        if todo or force or manifest.stage(stage).status not in FINISHED:
            todo.append(stage)
    if todo and manifest.stage(todo[0]).status in ("running", "failed", "interrupted"):
        todo[:0] = BY_NAME[todo[0]].rebuild  # it changed repo/ part way: rebuild what it started from
    return todo


def check_inputs(paths: RunPaths, stage: str) -> None:
    """Fail with the command to run first when ``stage`` lacks what it reads."""
    command = BY_NAME[stage].made_by
    target = BY_NAME[stage].needs(paths)
    if not target.exists():
        hint = "papercoder run PAPER" if command == "run" else f"papercoder {command} {paths.root}"
        raise InputError(f"{paths.root} has no {target.name} yet, which the {stage} stage reads; run `{hint}` first")


def clear_outputs(paths: RunPaths, stage: str) -> None:
    """Remove what a previous, unfinished or superseded attempt of ``stage`` wrote."""
    for target in BY_NAME[stage].outputs(paths):
        if target.is_symlink() or target.is_file():
            target.unlink()  # a file where the stage's folder belongs: the stage writes the folder anew
        elif target.exists():
            shutil.rmtree(target)


class _NoWaitExecutor(ThreadPoolExecutor):
    """The event loop's default executor, whose shutdown does not wait for running calls.

    A local model computes in a worker thread that cannot be stopped; waiting for it would make
    Ctrl-C hang until its answer is complete.
    """

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=True)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Like ``asyncio.run``, but Ctrl-C cancels ``main`` at once, without waiting for threads.

    ``main`` gets ``CancelledError`` at its current await (so stages record that they were
    interrupted), then KeyboardInterrupt propagates to the caller.
    """
    loop = asyncio.new_event_loop()
    loop.set_default_executor(_NoWaitExecutor(thread_name_prefix="papercoder"))
    task = loop.create_task(main)
    try:
        return loop.run_until_complete(task)
    except KeyboardInterrupt:
        if not task.done():  # the interrupt came between steps: let ``main`` see the cancellation
            task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(task)
        raise
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for leftover in pending:
                leftover.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def stage_entry(name: str) -> Stage:
    """The stage table's row for ``name`` (tests put stand-ins here)."""
    return BY_NAME[name]


class StageRunner:
    """Runs stages on one run directory with one model, keeping the manifest current."""

    def __init__(
        self,
        paths: RunPaths,
        llm: LLM,
        manifest: Manifest,
        *,
        display: RunDisplay,
        note: Callable[[str], None],
        event: Callable[[str], None] | None = None,
        options: RunOptions | None = None,
        paper: Any = None,
    ):
        self.paths = paths
        self.llm = llm
        self.manifest = manifest
        self.manifest.arrange(STAGES)
        self.options = options or RunOptions()
        self.concurrency = llm.concurrency
        self.display = display
        self.note = note  # decisions worth seeing: to the run log and above the bars
        self.event = event or note  # stages starting and ending: the run log is enough
        self.paper = paper  # read from its source: the fit step runs first when given
        self.stats: dict[str, StageStats] = {}
        self._carried: list[str] = []  # fallbacks of a step outside the manifest's stages, for the next stage
        self._images_said: set[str] = set()  # the model's refusal of images, once reported
        self._current: tuple[str, StageStats, float] | None = None

    def live_stats(self, stage: str) -> StageStats | None:
        """Figures of ``stage`` so far: finished ones from the record, the current one live."""
        if stage in self.stats:
            return self.stats[stage]
        if self._current and self._current[0] == stage:
            return snapshot(self.llm).since(self._current[1])
        return None

    def context(self, stage: str) -> StageContext:
        return StageContext(
            paths=self.paths,
            llm=self.llm,
            concurrency=self.concurrency,
            coding=self.options.coding or "wave",
            analysis_group=self.options.analysis_group,
            max_figures=self.options.max_figures,
            paper=self.paper if stage == "fit" else None,
            progress=lambda _label, done, total: self.display.update(stage, done, total),
            note=self.note,
        )

    async def measure(self, stage: str, work: Awaitable[Any], *, bar: bool = True) -> Any:
        """Await ``work`` as ``stage``: figures, wall time, and a bar (at once, or at its first progress)."""
        before = snapshot(self.llm)
        start = time.monotonic()
        self._current = (stage, before, start)
        if bar:
            self.display.start(stage)
        try:
            return await work
        finally:
            stats = snapshot(self.llm).since(before)
            stats.seconds = time.monotonic() - start
            self.stats[stage] = stats
            self._current = None
            self.display.finish(stage)

    def check(self, stages: list[str], *, inputs: bool = True) -> None:
        """Fail before anything is spent when a stage cannot be loaded or lacks its inputs."""
        for stage in stages:
            stage_entry(stage)
        if stages and inputs:
            check_inputs(self.paths, stages[0])

    async def run(self, stages: list[str]) -> dict[str, Any]:
        """Run ``stages`` in order; returns what each returned (the debug report, for one)."""
        self.check(stages, inputs=self.paper is None)
        results: dict[str, Any] = {}
        if self.paper is not None:
            results["fit"] = await self.run_step(stage_entry("fit"))
        elif stages and stages[0] == "plan":  # planning again on a fitted paper: it keeps the fit's fallbacks
            self._carried += [str(m) for m in self.manifest.paper.get("fallbacks") or []]
        for stage in stages:
            results[stage] = await self.run_stage(stage)
        return results

    async def run_step(self, step: Stage) -> Any:
        """A step outside the manifest's stages (fitting the paper): measured, recorded, no bar."""
        ctx = self.context(step.name)
        result = await self.measure(step.name, step.run(ctx, **step.arguments(self.options)), bar=False)
        step.record(result, self.manifest, ctx)
        self.manifest.save(self.paths.manifest)
        self._carried += ctx.fallbacks  # the manifest records them with the stage that follows (planning)
        return result

    async def run_stage(self, stage: str) -> Any:
        entry = stage_entry(stage)
        record = self.manifest.stage(stage)
        for later in STAGES[STAGES.index(stage) + 1 :]:
            if self.manifest.stage(later).status != "pending":
                self.manifest.stage(later).status = "pending"  # its inputs are about to change
        clear_outputs(self.paths, stage)
        record.status, record.started, record.finished, record.detail = "running", now(), None, {}
        self.manifest.status = "running"
        self.manifest.save(self.paths.manifest)
        self.event(f"{stage}: started")
        ctx = self.context(stage)
        for message in self._carried:
            ctx.degrade(message)
        self._carried = []
        record.detail.update(entry.remember(ctx))
        try:
            result = await self.measure(stage, entry.run(ctx, **entry.arguments(self.options)))
            entry.record(result, self.manifest, ctx)
        except (KeyboardInterrupt, asyncio.CancelledError):
            self._end(stage, "interrupted")
            raise
        except BaseException as exc:
            self._end(stage, "failed", f"{type(exc).__name__}: {exc}")
            raise
        refused = getattr(self.llm, "images_refused", "")
        if refused and refused not in self._images_said:  # said once, by the stage in which it happened
            self._images_said.add(refused)
            ctx.degrade(refused)
        if ctx.fallbacks:
            record.detail["fallbacks"] = list(ctx.fallbacks)
        self._end(stage, "degraded" if ctx.fallbacks else "done")
        return result

    def _end(self, stage: str, status: str, error: str | None = None) -> None:
        record = self.manifest.stage(stage)
        record.status, record.finished = status, now()
        stats = self.stats.get(stage)
        if stats is not None:
            record.seconds = round(stats.seconds, 3)
        if error:
            record.detail["error"] = error
            self.manifest.error = error
        self.manifest.save(self.paths.manifest)
        detail = f" ({record.detail['status']})" if "status" in record.detail else ""
        self.event(f"{stage}: {status}{detail}" + (f": {error}" if error else ""))
