"""Time `read_paper` on each PATH: median of several runs; characters, sections, seconds.

    python benchmarks/ingest.py ../shared/papers/*.pdf ../shared/papers/online-sinkhorn
    python benchmarks/ingest.py --runs 7 --all-cores paper.pdf
    python benchmarks/ingest.py --pages 15 ../shared/papers/ace-acl2018.pdf   # a 15-page PDF

Target (issue 2): a 15-page PDF in under 1.5 s on one core. By default the process is pinned to
one CPU (Linux) so the figure does not depend on how many cores the machine has free.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="papers to read (any supported format)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per paper (default 5)")
    parser.add_argument("--all-cores", action="store_true", help="do not pin the process to one CPU")
    parser.add_argument(
        "--pages", type=int, default=0, help="time each PDF grown (or cut) to this many pages, its pages repeated"
    )
    args = parser.parse_args(argv)

    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))  # a bare checkout
    from papercoder.errors import PapercoderError
    from papercoder.paper import read_paper

    print(f"{'paper':<40} {'pages':>5} {'chars':>8} {'sections':>8} {'median s':>9} {'min s':>7}")
    failed = 0
    workdir = tempfile.mkdtemp(prefix="papercoder-bench-")
    paths = [_resized(p, args.pages, workdir) if args.pages and p.lower().endswith(".pdf") else p for p in args.paths]
    for path in paths:
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
    shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


def _resized(path: str, pages: int, workdir: str) -> str:
    """A copy of the PDF at ``path`` with exactly ``pages`` pages (its own, repeated as needed)."""
    from pypdf import PdfReader, PdfWriter

    source = PdfReader(path).pages
    writer = PdfWriter()
    for index in range(pages):
        writer.add_page(source[index % len(source)])
    target = os.path.join(workdir, f"{os.path.splitext(os.path.basename(path))[0]}-{pages}p.pdf")
    with open(target, "wb") as handle:
        writer.write(handle)
    return target


def _pages(path: str) -> str:
    if not path.lower().endswith(".pdf"):
        return "-"
    from pypdf import PdfReader

    return str(len(PdfReader(path).pages))


if __name__ == "__main__":
    sys.exit(main())
