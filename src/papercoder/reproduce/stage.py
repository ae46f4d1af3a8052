"""The ``reproduce`` stage of a run (off by default: ``--stages ...,reproduce``): reproduce.sh on
this machine with the local executor, results in ``<run>/reproduce/``."""

from __future__ import annotations

from papercoder.rundir.context import StageContext
from papercoder.reproduce.executors import LocalExecutor
from papercoder.reproduce.reproduction import Reproduction, reproduce

TIMEOUT = 36_000.0  # ten hours, as `papercoder reproduce` defaults


async def run_reproduce(ctx: StageContext) -> Reproduction:
    """Run the repository's reproduce.sh in a fresh copy; a failed run degrades the stage."""
    import asyncio

    out = ctx.paths.reproduce
    out.mkdir(parents=True, exist_ok=True)
    ctx.progress("reproduce", 0, 1)
    result = await asyncio.to_thread(reproduce, ctx.paths.repo, out, LocalExecutor(), timeout=TIMEOUT)
    ctx.note(result.summary())
    if not result.ok:
        ctx.degrade(f"reproduce: {result.summary()}")
    ctx.progress("reproduce", 1, 1)
    return result
