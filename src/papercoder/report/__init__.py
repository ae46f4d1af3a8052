"""``report.html``: one static page that shows a run — plan, diagrams, code, checks, rounds, scores, cost."""

from __future__ import annotations

import os
from pathlib import Path

REPORT_NAME = "report.html"


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    """Write the run's report (default ``RUN/report.html``) and return its path.

    Written to a temporary file and renamed, so a page being viewed is never half a page.
    """
    from papercoder.report.collect import collect
    from papercoder.report.page import render_page

    html = render_page(collect(Path(run_dir)))
    target = Path(out) if out is not None else Path(run_dir) / REPORT_NAME
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, target)
    return target
