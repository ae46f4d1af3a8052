"""Time ``batch`` over several papers in-process and on a local Ray instance, against the fake
OpenAI server with simulated latency.

    python benchmarks/batch.py
    python benchmarks/batch.py --papers 8 --jobs 4 --ttft 0.3 --tps 400

Each paper is a copy of examples/prototype-classifier.md answered by the scripted capable model
of tests/pipeline/run_answers.py (a 7-file plan), stages plan, analyze and code. Prints the wall
time of the in-process executor and of ``--executor ray`` at the same ``--jobs``, Ray's start-up
overhead (a local instance up and a worker process answering, then shut down), and the peak
resident memory of a Ray pipeline worker while it runs its papers. Needs the ray extra.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the scripted answers live with the tests (tests.pipeline)

STAGES = ["plan", "analyze", "code"]


def _worker_rss_kib() -> list[int]:
    """Resident memory of every Ray pipeline worker process now (KiB)."""
    sizes = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not (entry / "cmdline").read_bytes().startswith(b"ray::PaperWorker"):
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        sizes += [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")]
    return sizes


def startup_seconds() -> float:
    """A local Ray instance started, one worker process answering, and shut down."""
    import ray

    from papercoder.batch.ray import PaperWorker, connect

    start = time.perf_counter()
    connect(None)
    worker = ray.remote(PaperWorker).options(num_cpus=0.1).remote()
    ray.get(worker.__ray_ready__.remote())
    ray.shutdown()
    return time.perf_counter() - start


def run(executor: str, papers: list[str], out: Path, jobs: int, server_url: str) -> tuple[float, list[dict], int]:
    from papercoder.batch import BatchOptions, run_batch

    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.2):
            peak = max([peak, *_worker_rss_kib()])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    records = run_batch(papers, BatchOptions(out=out, jobs=jobs, model="openai:fake-model", base_url=server_url,
                                             stages=STAGES, executor=executor))
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    return wall, records, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=8, help="papers in the batch (default 8)")
    parser.add_argument("--jobs", type=int, default=4, help="papers at the same time, both executors (default 4)")
    parser.add_argument("--ttft", type=float, default=0.3, help="simulated time to first token, seconds (default 0.3)")
    parser.add_argument("--tps", type=float, default=400.0, help="simulated output tokens per second (default 400)")
    args = parser.parse_args(argv)
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        print("this benchmark needs Ray: pip install 'papercoder[ray]'")
        return 2
    from tests.pipeline.run_answers import answer

    from papercoder.testing.fake_openai import FakeOpenAIServer

    os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark-not-a-real-key")
    print(f"{args.papers} papers (the example, 7-file plan, stages {','.join(STAGES)}), -j {args.jobs}; "
          f"fake model: {args.ttft:.2f} s to first token, {args.tps:.0f} tokens/s")
    ok = True
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(
        lambda body: answer(body["messages"]), ttft=args.ttft, tokens_per_second=args.tps,
    ) as server:
        folder = Path(tmp) / "papers"
        folder.mkdir()
        papers = []
        for k in range(args.papers):
            papers.append(str(shutil.copy(ROOT / "examples" / "prototype-classifier.md", folder / f"paper{k}.md")))
        up = startup_seconds()
        print(f"Ray start-up (local instance up, one worker answering, shut down): {up:.1f} s")
        results = {}
        for executor in ("local", "ray"):
            wall, records, peak = run(executor, papers, Path(tmp) / executor, args.jobs, server.base_url)
            statuses = sorted({r["status"] for r in records})
            ok &= all(not r["error"] for r in records)
            results[executor] = wall
            memory = f", peak worker memory {peak / 1024:.0f} MiB" if executor == "ray" else ""
            print(f"{executor:>6}: {wall:6.1f} s wall for {len(records)} papers ({', '.join(statuses)}){memory}")
        print(f"ray / in-process: {results['ray'] / results['local']:.2f}x "
              f"(ray's {results['ray'] - results['local']:+.1f} s include its start-up)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
