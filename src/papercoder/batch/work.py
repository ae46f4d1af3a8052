"""One paper of a batch: its options, its record, its run, judging and reproduction.

Both executors (threads here, :mod:`papercoder.batch.ray` on a cluster) run papers with these
functions, so a paper's record is the same wherever it ran.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from papercoder.errors import PapercoderError
from papercoder.evaluate import api
from papercoder.reproduce.executors import LocalExecutor
from papercoder.reproduce.reproduction import reproduce
from papercoder.rundir.paths import RunPaths

REPRODUCE_TIMEOUT = 36_000.0  # ten hours, as `papercoder reproduce` defaults


@dataclass
class BatchOptions:
    """What to do for every paper, and how."""

    out: Path
    jobs: int = 2
    model: str | None = None
    base_url: str | None = None
    max_cost: float | None = None  # per paper
    concurrency: int | None = None
    evaluate: bool = False
    samples: int = 8
    rubric: Path | None = None
    code_dev: bool = False
    judge_model: str | None = None  # None: PaperBench's judge where reachable, else ``model`` (batch_judge)
    stages: list[str] | None = None  # the pipeline's stages (None: the run's defaults)
    reproduce: bool = False  # run each repository's reproduce.sh after its pipeline
    reproduce_timeout: float = REPRODUCE_TIMEOUT
    gpus_per_paper: float | None = None  # Ray: GPUs per reproduction (None: 1 if the cluster has any); local: > 0 shows the GPUs
    executor: str = "local"  # "local" (threads of this process) or "ray"
    address: str | None = None  # Ray: a running cluster to join; None starts a local instance
    workers: int | None = None  # Ray: worker processes for pipelines (None: one per node, at most --jobs)


def is_done(record: dict[str, Any] | None, options: BatchOptions) -> bool:
    """A record counts as done when the run finished and every requested result is in it."""
    if not record or record.get("status") not in ("done", "degraded") or record.get("error"):
        return False
    if record.get("stages") != options.stages:  # other stages asked for: the run resumes to add them
        return False
    if options.evaluate and record.get("eval") is None:
        return False
    if options.rubric is not None and record.get("grade") is None:
        return False
    if options.reproduce and not isinstance(record.get("reproduce"), dict):
        return False
    return True


def succeeded(record: dict[str, Any]) -> bool:
    """A paper the batch can count as a success: the run done (not degraded), no error, and a
    reproduction, when one ran, that passed."""
    reproduction = record.get("reproduce")
    return (record.get("status") == "done" and not record.get("error")
            and (not isinstance(reproduction, dict) or bool(reproduction.get("ok"))))


def new_record(paper: str, slug: str, options: BatchOptions, error: str | None = None) -> dict[str, Any]:
    """A paper's record before (or instead of) its run: failed until the run says otherwise."""
    return {"paper": paper, "slug": slug, "run_dir": str(options.out / "runs" / slug), "status": "failed",
            "cost": 0.0, "time": 0.0, "eval": None, "grade": None, "error": error, "stages": options.stages}


def batch_judge(options: BatchOptions) -> str | None:
    """The judge of --eval and --grade: --judge-model, else PaperBench's where it can be reached
    (see :func:`papercoder.evaluate.inputs.default_judge`), else the pipeline's model."""
    from papercoder.evaluate.inputs import default_judge

    return options.judge_model or default_judge(None, base_url=options.base_url)[0] or options.model


def run_one(paper: str, slug: str, options: BatchOptions) -> dict[str, Any]:
    """Run, then judge, one paper; never raises for a problem of that paper (it goes in the record)."""
    from papercoder.run import run_paper

    record = new_record(paper, slug, options)
    run_dir = Path(record["run_dir"])
    start = time.monotonic()
    judge = api.JudgeOptions(model=batch_judge(options), base_url=options.base_url,
                             max_cost=options.max_cost, concurrency=options.concurrency)
    try:
        result = run_paper(paper, out_dir=run_dir, model=options.model, base_url=options.base_url,
                           resume=True, max_cost=options.max_cost, concurrency=options.concurrency,
                           show_progress=False, stages=options.stages)
        record["status"] = str(result.status)
        record["cost"] = _cost(getattr(result, "total", None))
        repo = Path(result.repo)
        if options.evaluate:
            evaluation, path = api.run_eval(repo, paper, n=options.samples, judge=judge, out=RunPaths(run_dir).eval)
            record["eval"] = evaluation.summary.mean
            record["eval_valid"] = evaluation.summary.valid
            record["cost"] += evaluation.usage.cost
            record["eval_file"] = str(path)
        if options.rubric is not None:
            # the one-call lexical judge: a third of the calls of PaperBench's protocol, over many papers
            graded, path = api.run_grade(repo, options.rubric, paper, code_dev=options.code_dev, judge=judge,
                                         out=RunPaths(run_dir).eval, protocol="lexical")
            record["grade"] = graded.total
            record["cost"] += graded.usage.cost
            record["grade_file"] = str(path)
    except PapercoderError as exc:
        record["error"] = str(exc)
    except Exception as exc:  # one paper's bug must not stop the others; the record keeps it
        record["error"] = f"{type(exc).__name__}: {exc}"
    record["time"] = round(time.monotonic() - start, 2)
    if record["error"] and record["status"] in ("done", "degraded"):
        record["status"] = "eval failed"
    return record


def wants_reproduction(record: dict[str, Any], options: BatchOptions) -> bool:
    """Reproduce a paper only when asked and its run wrote a repository (done or degraded)."""
    return options.reproduce and record.get("status") in ("done", "degraded") and not record.get("error")


def reproduce_one(record: dict[str, Any], options: BatchOptions, *, gpu_ids: list[str] | None = None) -> dict[str, Any]:
    """Run one paper's reproduce.sh (``<run>/reproduce/``) and return what the record keeps of it.

    ``gpu_ids`` (Ray's assignment) are the GPUs the script sees; without them, GPUs are visible
    when ``gpus_per_paper`` asks for any. Never raises for the paper's own problem.
    """
    run_dir = Path(record["run_dir"])
    gpus = bool(gpu_ids) or bool(options.gpus_per_paper)
    try:
        result = reproduce(RunPaths(run_dir).repo, RunPaths(run_dir).reproduce, LocalExecutor(gpus=gpus, gpu_ids=gpu_ids),
                           timeout=options.reproduce_timeout)
    except PapercoderError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # a full disk, a vanished folder: this paper's problem, not the batch's
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": result.ok, "returncode": result.returncode, "seconds": result.seconds, "timed_out": result.timed_out,
            "attempts": result.attempts, "written": len(result.written), "summary": result.summary()}


def _cost(total: Any) -> float:
    cost = getattr(total, "cost", 0.0) if total is not None else 0.0
    return float(cost or 0.0)
