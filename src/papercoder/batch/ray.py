"""``batch --executor ray``: a batch's papers as tasks of a Ray cluster.

Two kinds of work, scheduled differently:

- **pipelines** (model calls: waiting on the network, hardly any CPU) run in a few long-lived
  worker processes (:class:`PaperWorker` actors, spread over the nodes), each running many
  papers at once in threads, exactly as the in-process executor does; ``--jobs`` bounds the
  papers in flight over the whole cluster. A worker that dies is restarted and its papers are
  tried once more, continuing from their call logs (``resume=True``), so nothing answered is
  paid twice;
- **reproductions** (``--reproduce``: reproduce.sh, hours on a GPU) are Ray tasks asking for
  ``gpus_per_paper`` GPUs and one CPU; Ray decides where they run and which GPUs they see.

Everything is written to the batch folder, which every node must see (shared storage): the run
directories by the workers, the records and the summary by this process. The model is decided
here, once, and handed to every worker, so a worker never falls back to another model; the
workers need the API keys in their own environment (a local instance inherits ours).
"""

from __future__ import annotations

import math
import os
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from papercoder.errors import InputError
from papercoder.batch.work import BatchOptions, batch_judge, new_record, reproduce_one, run_one, wants_reproduction

PIPELINE_CPUS = 0.1  # a pipeline worker waits on the network; it must not hold back a reproduction's CPU
REPRODUCTION_CPUS = 1
WORKER_RESTARTS = 2
CANCEL_GRACE = 10.0  # seconds a cancelled reproduction gets to kill its script on Ctrl-C


def import_ray() -> Any:
    """Ray itself, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs Ray: pip install 'papercoder[ray]' (or pip install ray)") from None
    return ray


def connect(address: str | None) -> bool:
    """Join the cluster at ``address``, or start a local instance; True when this call did it
    (and so must disconnect), False when this process was already connected."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no prompt, no report home
    quiet = {"log_to_driver": False, "configure_logging": False, "namespace": "papercoder"}
    if address:
        _check_reachable(address)
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(address="local", include_dashboard=False, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        first = _first_line(exc) or type(exc).__name__
        hint = "check the address (`ray status` on the head node) and that this Ray's version matches the cluster's"
        raise InputError(f"cannot reach {where}: {first}; {hint}") from None
    return True


def _check_reachable(address: str) -> None:
    """Refuse at once an address nothing listens at: Ray itself retries such a one for minutes."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", "ray://...": Ray's own forms, left to Ray
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=10).close()
    except OSError as exc:
        raise InputError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}; check the address "
                         "(`ray status` on the head node prints it) and that its port is open from here") from None


def pinned_model(options: BatchOptions) -> tuple[str | None, str | None]:
    """The model (and base URL) this machine would use, named explicitly for the workers.

    A worker decides nothing on its own: with no key in its environment it would otherwise pick
    the embedded model, and a config file here is not there.
    """
    from papercoder.config import load_config
    from papercoder.llm.models import choose_model
    from papercoder.llm.registry import PROVIDERS

    config = load_config()
    choice = choose_model(options.model, base_url=options.base_url, config=config)
    base_url = choice.base_url if PROVIDERS[choice.provider].remote else None
    spec = choice.spec if (choice.preset or choice.explicit_provider) else choice.name  # a preset keeps its key variable
    return spec, base_url


def gpus_for(options: BatchOptions, cluster_gpus: float) -> float:
    """GPUs per reproduction: as asked, or one when the cluster has any; refused when the cluster
    could never grant it (the task would wait for ever)."""
    if options.gpus_per_paper is None:
        return 1.0 if cluster_gpus >= 1 else 0.0
    if options.gpus_per_paper < 0:
        raise InputError(f"--gpus-per-paper {options.gpus_per_paper} is negative; give 0 or more")
    if options.gpus_per_paper > cluster_gpus:
        raise InputError(f"--gpus-per-paper {options.gpus_per_paper:g} cannot be granted: the Ray cluster has "
                         f"{cluster_gpus:g} GPU(s); give a smaller number, or 0 to reproduce on CPUs")
    return float(options.gpus_per_paper)


def worker_count(options: BatchOptions, nodes_with_cpus: int) -> int:
    """Pipeline workers: as asked, else one per node that has CPUs, never more than ``--jobs``."""
    if options.workers is not None:
        if options.workers < 1:
            raise InputError(f"--workers {options.workers} starts no worker; give 1 or more")
        return options.workers
    return max(1, min(options.jobs, nodes_with_cpus))


class PaperWorker:
    """One worker process running many papers' pipelines at once (one thread each)."""

    def run(self, paper: str, slug: str, options: BatchOptions) -> dict[str, Any]:
        record = run_one(paper, slug, options)
        record["worker"] = f"{socket.gethostname()} pid {os.getpid()}"
        return record


def _reproduce_task(record: dict[str, Any], options: BatchOptions) -> dict[str, Any]:
    import ray

    return reproduce_one(record, options, gpu_ids=[str(i) for i in ray.get_gpu_ids()])


def run_on_ray(todo: list[tuple[str, str]], options: BatchOptions, finish: Callable[[dict[str, Any]], None]) -> None:
    """Run ``todo`` (paper, slug) on Ray; ``finish`` gets each paper's record as it ends."""
    ray = import_ray()
    if not todo:
        return
    model, base_url = pinned_model(options)  # before connecting: a bad model string costs no cluster
    options = _with_model(options, model, base_url)
    started = connect(options.address)
    try:
        _dispatch(ray, todo, options, finish)
    finally:
        if started:
            ray.shutdown()


def _with_model(options: BatchOptions, model: str | None, base_url: str | None) -> BatchOptions:
    judge = batch_judge(replace(options, model=model)) if (options.evaluate or options.rubric is not None) else None
    return replace(options, model=model, base_url=base_url, judge_model=judge)


def _dispatch(ray: Any, todo: list[tuple[str, str]], options: BatchOptions,
              finish: Callable[[dict[str, Any]], None]) -> None:
    resources = ray.cluster_resources()
    gpus = gpus_for(options, float(resources.get("GPU", 0))) if options.reproduce else 0.0
    nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= PIPELINE_CPUS]
    count = worker_count(options, len(nodes))
    per_worker = math.ceil(options.jobs / count)
    actor = ray.remote(PaperWorker).options(
        num_cpus=PIPELINE_CPUS, max_concurrency=per_worker, max_restarts=WORKER_RESTARTS, max_task_retries=1,
        scheduling_strategy="SPREAD",
    )
    workers = [actor.remote() for _ in range(count)]
    reproduce = ray.remote(_reproduce_task).options(num_cpus=REPRODUCTION_CPUS, num_gpus=gpus, max_retries=1)

    queue = deque(todo)
    load = [0] * count
    pending: dict[Any, tuple[str, Any, int]] = {}  # ObjectRef -> (kind, paper item or record, worker)
    try:
        while queue or pending:
            while queue and sum(load) < options.jobs:
                paper, slug = queue.popleft()
                index = load.index(min(load))
                pending[workers[index].run.remote(paper, slug, options)] = ("paper", (paper, slug), index)
                load[index] += 1
            ready, _ = ray.wait(list(pending), num_returns=1)
            kind, item, index = pending.pop(ready[0])
            if kind == "paper":
                load[index] -= 1
                record = _result(ray, ready[0], lambda why: new_record(*item, options, error=why))
                if wants_reproduction(record, options):
                    pending[reproduce.remote(record, options)] = ("reproduce", record, -1)
                else:
                    finish(record)
            else:
                item["reproduce"] = _result(ray, ready[0], lambda why: {"ok": False, "error": why})
                finish(item)
    except KeyboardInterrupt:
        # reproduce.sh runs in its own session, out of reach of a killed worker: a polite cancel
        # lets the task kill it, given a moment before the workers go
        running = [ref for ref, (kind, _, _) in pending.items() if kind == "reproduce"]
        for ref in running:
            ray.cancel(ref, force=False)
        if running:
            ray.wait(running, num_returns=len(running), timeout=CANCEL_GRACE)
        raise
    finally:
        for worker in workers:
            ray.kill(worker, no_restart=True)


def _result(ray: Any, ref: Any, lost: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """A task's answer, or what ``lost`` makes of the reason when Ray could not deliver one."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:  # a worker lost for good, a node gone, a task that raised
        first = _first_line(exc)
        return lost(f"Ray lost the task ({type(exc).__name__}{': ' + first if first else ''}); "
                    "run the batch again to resume it")


def _first_line(exc: BaseException) -> str:
    """An exception's first line, cut to 300 characters: Ray's messages run to pages."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""
