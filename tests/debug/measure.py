"""Measure the repair loop on the planted-bug suite: how many repaired, share of lines changed.

Run: /tmp/dev/bin/python tests/debug/measure.py   (any Python with papercoder and numpy)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # a script: the repository root, for tests.debug

from tests.debug.planted_bugs import CASES  # noqa: E402

from papercoder.llm import LLM  # noqa: E402
from papercoder.pipeline.debugging import debug_repository  # noqa: E402
from papercoder.repo.sandbox import Limits  # noqa: E402


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="papercoder-measure-") as scratch:
        for case in CASES:
            repo = case.build(Path(scratch) / case.name)
            provider = case.provider()
            report = asyncio.run(debug_repository(repo, LLM(provider), limits=Limits(timeout=60)))
            rows.append((case.name, report, len(provider.calls)))
    print(f"{'case':24} {'status':16} {'rounds':>6} {'calls':>5} {'changed':>7} {'lines':>5} {'share':>7}")
    for name, report, calls in rows:
        print(
            f"{name:24} {report.status:16} {report.iterations:6d} {calls:5d} "
            f"{report.lines_changed:7d} {report.lines_total:5d} {report.share_changed:7.2%}"
        )
    repaired = sum(report.passed for _, report, _ in rows)
    changed = sum(report.lines_changed for _, report, _ in rows)
    total = sum(report.lines_total for _, report, _ in rows)
    print(f"repaired {repaired}/{len(rows)}; lines changed {changed} of {total} ({changed / total:.2%})")
    return 0 if repaired == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
