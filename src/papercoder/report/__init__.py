"""``report.html``: one static page that shows a run — plan, diagrams, code, checks, rounds, scores, cost."""

from __future__ import annotations

from pathlib import Path

from papercoder.rundir.paths import RunPaths


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    """Write the run's report (default ``RUN/report.html``) and return its path.

    Written atomically, so a page being viewed is never half a page.
    """
    from papercoder.repo.paths import write_atomic
    from papercoder.report.collect import collect
    from papercoder.report.page import render_page

    html = render_page(collect(Path(run_dir)))
    target = Path(out) if out is not None else RunPaths(Path(run_dir)).report
    return write_atomic(target, html)
