"""``papercoder bench`` on a small synthetic dataset in PaperBench's exact layout, against the fake server.

    python benchmarks/bench.py [--ttft 0.2] [--tps 1000]

Three paper folders (two runnable, with rubrics of 12 and 20 Code Development leaves; one with a
broken rubric), the `dev` split, two variants (papercoder's defaults, and the paper's original
settings: one analysis per request, sequential coding). Prints the wall time, the calls and
tokens of generation and of grading, the table, then resumes the same command and counts the
calls it makes (it should make none).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the synthetic dataset and scripted answers live with the tests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ttft", type=float, default=0.0, help="simulated time to first token, seconds")
    parser.add_argument("--tps", type=float, default=None, help="simulated output tokens per second")
    args = parser.parse_args(argv)
    os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark-not-a-real-key")
    from typer.testing import CliRunner

    from tests.bench.test_bench import make_dataset, reply

    from papercoder.cli import app
    from papercoder.testing.fake_openai import FakeOpenAIServer

    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(reply, models=("fake-model",), ttft=args.ttft,
                                                                 tokens_per_second=args.tps) as server:
        papers = make_dataset(Path(tmp))
        out = Path(tmp) / "out"
        argv = ["bench", str(papers), "-o", str(out), "--split", "dev", "-m", "openai:fake-model", "--base-url", server.base_url,
                "--judge-model", "openai:fake-model", "--judge-base-url", server.base_url,
                "--variant", "default=", "--variant", 'paper="--analysis-group 1 --coding sequential"']
        start = time.monotonic()
        first = CliRunner().invoke(app, argv)
        wall = time.monotonic() - start
        calls = len(server.requests)
        judge = sum(1 for r in server.requests if "<criterion>" in str(r.body) or "judge's answer" in str(r.body)
                    or "help a reviewer" in str(r.body))
        start = time.monotonic()
        CliRunner().invoke(app, argv)
        again = len(server.requests) - calls
        print(f"bench on 2 papers x 2 variants (+1 broken paper skipped): wall {wall:.1f} s, {calls} calls "
              f"({calls - judge} generation, {judge} grading); resume: {again} calls in {time.monotonic() - start:.1f} s")
        print((out / "summary.md").read_text())
        return 0 if again == 0 and first.exit_code == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
