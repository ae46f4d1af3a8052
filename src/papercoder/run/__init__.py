"""The engine: one run of papercoder on one paper, its stages in order, resumable.

:func:`run_paper` (behind ``papercoder run`` and ``batch``) and :func:`run_stage` (behind
``papercoder plan|analyze|...``) live in :mod:`papercoder.run.engine`; the stage table in
:mod:`papercoder.run.stages`; the driver that runs stages and keeps the manifest in
:mod:`papercoder.run.runner`. The method itself (what each stage does) is in ``pipeline/``.
"""

from papercoder.run.engine import (
    RunInterrupted,
    RunResult,
    default_run_dir,
    paper_slug,
    resume_command,
    run_paper,
    run_stage,
    write_run_report,
)

__all__ = [
    "RunInterrupted", "RunResult", "default_run_dir", "paper_slug", "resume_command", "run_paper", "run_stage",
    "write_run_report",
]
