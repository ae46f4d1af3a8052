"""What every stage receives from the engine: its run directory, its model and its options.

Data flows one way: each stage reads the artifacts of the stages before it from the run
directory and writes its own. A resumed run re-reads them; the call log answers repeated calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from papercoder.rundir.paths import RunPaths

if TYPE_CHECKING:  # the model stack is not imported for commands that need no model (ingest, --help)
    from papercoder.llm import LLM


@dataclass
class StageContext:
    """Everything a stage needs. Stages are ``async def run_<stage>(ctx) -> None``."""

    paths: RunPaths
    llm: LLM
    concurrency: int = 4
    paper: Any = None  # the fit step's input: the Paper read from its source (None once paper.md exists)
    coding: str = "wave"  # how the code stage writes files: "wave" (all at once) or "sequential"
    analysis_group: int | None = None  # files per analysis request; None: the provider's or the default
    max_figures: int | None = None  # images per request for a model that reads them; None: the config's or 12
    figure_cache: dict[str, Any] = field(default_factory=dict)  # the run's figures and each request's choice, read once
    # progress(stage, done, total): called as units of work (files) finish
    progress: Callable[[str, int, int], None] = field(default=lambda stage, done, total: None)
    # note(message): a decision worth recording (a section condensed, context cut to fit)
    note: Callable[[str], None] = field(default=lambda message: None)
    # what made this stage's result less than asked for (see :meth:`degrade`)
    fallbacks: list[str] = field(default_factory=list)

    def degrade(self, message: str) -> None:
        """Record that a fallback or salvage fired, or a result is incomplete or empty.

        The note goes to the run log like any other; the stage then ends ``degraded`` instead
        of ``done``, the summary names the message, and ``papercoder run`` exits non-zero.
        """
        if message not in self.fallbacks:
            self.fallbacks.append(message)
            self.note(message)
