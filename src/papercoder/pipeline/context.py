"""What every pipeline stage receives, and where it reads and writes on disk.

Data flows one way: each stage reads the artifacts of the stages before it from the run
directory and writes its own. A resumed run re-reads them; the call log answers repeated calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the model stack is not imported for commands that need no model (ingest, --help)
    from papercoder.llm import LLM


# How the code stage writes the planned files: "wave", all at once against the interface
# skeleton (the default); "sequential", one after another, each seeing the full code of the
# files before it (the original method's order, slower and dearer).
CODING_MODES = ("wave", "sequential")


@dataclass(frozen=True)
class RunPaths:
    """The layout of a run directory (see DESIGN.md, "The run directory")."""

    root: Path

    @property
    def paper(self) -> Path:  # the paper as the model saw it (after fitting to the context)
        return self.root / "paper.md"

    @property
    def planning(self) -> Path:
        return self.root / "planning"

    @property
    def plan(self) -> Path:  # turn 1: the overall plan, Markdown
        return self.planning / "plan.md"

    @property
    def inventory(self) -> Path:  # turn 1's inventory: experiments, baselines, datasets... as JSON
        return self.planning / "inventory.json"

    @property
    def addendum(self) -> Path:  # clarifications that travel with the paper (optional)
        return self.root / "addendum.md"

    @property
    def design(self) -> Path:  # turn 2: architecture design, JSON of the design schema
        return self.planning / "design.json"

    @property
    def tasks(self) -> Path:  # turn 3: logic design (task list, dependencies, packages), JSON
        return self.planning / "tasks.json"

    @property
    def config(self) -> Path:  # turn 4: config.yaml with the paper's hyperparameters
        return self.planning / "config.yaml"

    @property
    def interfaces(self) -> Path:  # turn 5: the interface skeleton of every Python file, Markdown
        return self.planning / "interfaces.md"

    @property
    def diagrams(self) -> Path:
        return self.planning / "diagrams"

    @property
    def analysis(self) -> Path:  # analysis/<file path>.md, one per planned file
        return self.root / "analysis"

    @property
    def coding(self) -> Path:  # what the code stage checked and repaired after writing (consistency.json)
        return self.root / "coding"

    @property
    def repo(self) -> Path:  # the generated repository: the product
        return self.root / "repo"

    @property
    def calls(self) -> Path:  # the call log: cache and cost ledger
        return self.root / "calls.sqlite"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def log(self) -> Path:  # human-readable notes of what the run decided (fallbacks, shrinking)
        return self.root / "run.log"


@dataclass
class StageContext:
    """Everything a stage needs. Stages are ``async def run_<stage>(ctx) -> None``."""

    paths: RunPaths
    llm: LLM
    concurrency: int = 4
    coding: str = "wave"  # how the code stage writes files: "wave" (all at once) or "sequential"
    analysis_group: int | None = None  # files per analysis request; None: the provider's or the default
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
