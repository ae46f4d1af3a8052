"""Running the stages of one run directory in order, recording each in the manifest.

Which stages run: the requested ones, from the first that is not done (per the manifest)
onwards, since every later stage reads what the earlier ones wrote. A stage about to run has
its own outputs cleared first, so that, with the call log answering every request already
made, a resumed run rebuilds exactly what an uninterrupted run would have built.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import shutil
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from papercoder.errors import InputError
from papercoder.llm import LLM
from papercoder.pipeline.context import RunPaths, StageContext
from papercoder.pipeline.manifest import DEFAULT_STAGES, FINISHED, STAGES, Manifest, now
from papercoder.pipeline.progress import RunDisplay
from papercoder.pipeline.stats import StageStats, snapshot

DEBUG_ITERATIONS = 3
VERIFY_ROUNDS = 2
T = TypeVar("T")

# stage -> (module, function); resolved when the stage runs, so one missing stage does not
# break the others.
STAGE_FUNCTIONS: dict[str, tuple[str, str]] = {
    "plan": ("papercoder.pipeline.planning", "run_planning"),
    "analyze": ("papercoder.pipeline.analysis", "run_analysis"),
    "code": ("papercoder.pipeline.coding", "run_coding"),
    "debug": ("papercoder.pipeline.debugging", "run_debugging"),
    "verify": ("papercoder.verify.stage", "run_verify"),
    "reproduce": ("papercoder.reproduce.stage", "run_reproduce"),
}

# what each stage needs on disk before it can run, and the command that makes it
_NEEDS: dict[str, tuple[Callable[[RunPaths], Path], str]] = {
    "plan": (lambda p: p.paper, "run"),
    "analyze": (lambda p: p.tasks, "plan"),
    "code": (lambda p: p.analysis, "analyze"),
    "debug": (lambda p: p.repo, "code"),
    "verify": (lambda p: p.repo, "code"),
    "reproduce": (lambda p: p.repo, "code"),
}


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

    A ``debug`` stage that was interrupted changed ``repo/`` part way, so ``code`` runs again
    first (from the call log, at no cost) to give debugging the same starting point; an
    interrupted ``verify`` likewise gets ``code`` and ``debug`` first.
    """
    todo: list[str] = []
    for stage in requested:
        if todo or force or manifest.stage(stage).status not in FINISHED:
            todo.append(stage)
    if todo and todo[0] == "debug" and manifest.stage("debug").status in ("running", "failed", "interrupted"):
        todo.insert(0, "code")
    if todo and todo[0] == "verify" and manifest.stage("verify").status in ("running", "failed", "interrupted"):
        todo[:0] = ["code", "debug"]  # verify changed repo/ part way: rebuild it as debugging left it
    return todo


def check_inputs(paths: RunPaths, stage: str) -> None:
    """Fail with the command to run first when ``stage`` lacks what it reads."""
    needed, command = _NEEDS[stage]
    target = needed(paths)
    if not target.exists():
        hint = "papercoder run PAPER" if command == "run" else f"papercoder {command} {paths.root}"
        raise InputError(f"{paths.root} has no {target.name} yet, which the {stage} stage reads; run `{hint}` first")


def clear_outputs(paths: RunPaths, stage: str) -> None:
    """Remove what a previous, unfinished or superseded attempt of ``stage`` wrote."""
    targets = {
        "plan": [paths.planning], "analyze": [paths.analysis], "code": [paths.repo, paths.coding], "debug": [paths.root / "debug"],
        "verify": [paths.root / "verify"], "reproduce": [paths.root / "reproduce"],
    }.get(stage, [])
    for target in targets:
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


def stage_function(stage: str) -> Callable[..., Awaitable[Any]]:
    module_name, function_name = STAGE_FUNCTIONS[stage]
    return getattr(importlib.import_module(module_name), function_name)


class StageRunner:
    """Runs stages on one run directory with one model, keeping the manifest current."""

    def __init__(
        self,
        paths: RunPaths,
        llm: LLM,
        manifest: Manifest,
        *,
        concurrency: int,
        display: RunDisplay,
        note: Callable[[str], None],
        event: Callable[[str], None] | None = None,
        debug_iterations: int = DEBUG_ITERATIONS,
        coding: str = "wave",
        verify_rounds: int = VERIFY_ROUNDS,
        analysis_group: int | None = None,
    ):
        self.paths = paths
        self.llm = llm
        self.manifest = manifest
        self.concurrency = concurrency
        self.display = display
        self.note = note  # decisions worth seeing: to the run log and above the bars
        self.event = event or note  # stages starting and ending: the run log is enough
        self.debug_iterations = debug_iterations
        self.coding = coding
        self.analysis_group = analysis_group  # None: the provider's number, else the default
        self.verify_rounds = verify_rounds
        self.stats: dict[str, StageStats] = {}
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
            coding=self.coding,
            analysis_group=self.analysis_group,
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
            stage_function(stage)
        if stages and inputs:
            check_inputs(self.paths, stages[0])

    async def run(self, stages: list[str]) -> dict[str, Any]:
        """Run ``stages`` in order; returns what each returned (the debug report, for one)."""
        self.check(stages)
        results: dict[str, Any] = {}
        for stage in stages:
            results[stage] = await self.run_stage(stage)
        return results

    async def run_stage(self, stage: str) -> Any:
        record = self.manifest.stage(stage)
        for later in STAGES[STAGES.index(stage) + 1 :]:
            if self.manifest.stage(later).status != "pending":
                self.manifest.stage(later).status = "pending"  # its inputs are about to change
        clear_outputs(self.paths, stage)
        record.status, record.started, record.finished, record.detail = "running", now(), None, {}
        self.manifest.status = "running"
        self.manifest.save(self.paths.manifest)
        self.event(f"{stage}: started")
        function = stage_function(stage)
        ctx = self.context(stage)
        try:
            if stage == "debug":
                result = await self.measure(stage, function(ctx, max_iterations=self.debug_iterations))
                status = getattr(result, "status", None)
                if status is not None:
                    record.detail["status"] = str(status)
                    if str(status) != "passed":
                        ctx.degrade(f"debug: the repository does not pass its smoke run ({status})")
            elif stage == "verify":
                result = await self.measure(stage, function(ctx, rounds=self.verify_rounds))
                record.detail.update(
                    outcome=result.status, requirements=result.leaves, failing=len(result.failing),
                    coverage_before=round(result.coverage_before, 4), coverage_after=round(result.coverage_after, 4),
                )
            else:
                if stage == "code":
                    record.detail["coding"] = self.coding  # a resumed run keeps the same way of writing
                if stage == "analyze" and self.analysis_group is not None:
                    record.detail["analysis_group"] = self.analysis_group  # and the same requests
                result = await self.measure(stage, function(ctx))
        except (KeyboardInterrupt, asyncio.CancelledError):
            self._end(stage, "interrupted")
            raise
        except BaseException as exc:
            self._end(stage, "failed", f"{type(exc).__name__}: {exc}")
            raise
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
