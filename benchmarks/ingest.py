"""Time `read_paper` on each PATH: median of several runs; characters, sections, seconds.

    python benchmarks/ingest.py ../shared/papers/*.pdf ../shared/papers/online-sinkhorn
    python benchmarks/ingest.py --runs 7 --all-cores paper.pdf

Target (issue 2): a 15-page PDF in under 1.5 s on one core. By default the process is pinned to
one CPU (Linux) so the figure does not depend on how many cores the machine has free.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="papers to read (any supported format)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per paper (default 5)")
    parser.add_argument("--all-cores", action="store_true", help="do not pin the process to one CPU")
    args = parser.parse_args(argv)

    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))  # a bare checkout
    from papercoder.errors import PapercoderError
    from papercoder.paper import read_paper

    print(f"{'paper':<40} {'pages':>5} {'chars':>8} {'sections':>8} {'median s':>9} {'min s':>7}")
    failed = 0
    for path in args.paths:
        times = []
        try:
            for _ in range(max(1, args.runs)):
                start = time.perf_counter()
                paper = read_paper(path)
                times.append(time.perf_counter() - start)
        except PapercoderError as exc:
            print(f"{os.path.basename(path.rstrip('/')):<40} error: {exc}")
            failed += 1
            continue
        pages = _pages(path)
        chars = len(paper.to_markdown())
        name = os.path.basename(path.rstrip("/"))[:40]
        print(f"{name:<40} {pages:>5} {chars:>8} {len(paper.sections):>8} {statistics.median(times):>9.3f} {min(times):>7.3f}")
    return 1 if failed else 0


def _pages(path: str) -> str:
    if not path.lower().endswith(".pdf"):
        return "-"
    from pypdf import PdfReader

    return str(len(PdfReader(path).pages))


if __name__ == "__main__":
    sys.exit(main())
