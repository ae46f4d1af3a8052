"""The in-process executor of a batch: a few papers at a time as threads of this process."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from papercoder.batch.work import BatchOptions, reproduce_one, run_one, wants_reproduction
from papercoder.reproduce.executors import stop_running

def run_in_threads(todo: list[tuple[str, str]], options: BatchOptions, finish: Callable[[dict[str, Any]], None]) -> None:
    """The in-process executor: ``options.jobs`` papers at a time as threads of this process."""
    def work(item: tuple[str, str]) -> dict[str, Any]:
        record = run_one(*item, options)
        if wants_reproduction(record, options):
            record["reproduce"] = reproduce_one(record, options)
        return record

    pool = ThreadPoolExecutor(max_workers=options.jobs, thread_name_prefix="paper")
    futures = [pool.submit(work, item) for item in todo]
    try:
        for future in as_completed(futures):
            finish(future.result())
    except KeyboardInterrupt:
        # No new paper starts; papers already running finish their current model call in the
        # background (a thread cannot be stopped); a running reproduce.sh is killed.
        pool.shutdown(wait=False, cancel_futures=True)
        stop_running()
        raise
    pool.shutdown()
