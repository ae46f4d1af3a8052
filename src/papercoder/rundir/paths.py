"""The run directory's layout, named once: every stage, command and report reads its paths here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunPaths:
    """The layout of a run directory: every path of it is named here (docs/architecture.md)."""

    root: Path

    @property
    def paper(self) -> Path:  # the paper as the model saw it (after fitting to the context)
        return self.root / "paper.md"

    @property
    def figures(self) -> Path:  # the paper's figures as images, with their index figures.json
        return self.root / "paper" / "figures"

    @property
    def paper_full(self) -> Path:  # the paper before it was condensed to fit (only when it was)
        return self.root / "paper.full.md"

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
    def checklist(self) -> Path:  # the requirements the code is written to and judged by (PaperBench's rubric shape)
        return self.planning / "checklist.json"

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
    def server_window(self) -> Path:  # what a self-hosted server said of its model's context window
        return self.root / "server-window.json"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def log(self) -> Path:  # human-readable notes of what the run decided (fallbacks, shrinking)
        return self.root / "run.log"

    @property
    def debug(self) -> Path:  # the debug stage's rounds and report.json
        return self.root / "debug"

    @property
    def verify(self) -> Path:  # the verify stage's checklist, judgements and report.json
        return self.root / "verify"

    @property
    def reproduce(self) -> Path:  # what reproduce.sh wrote, with reproduce.log
        return self.root / "reproduce"

    @property
    def eval(self) -> Path:  # eval and grade results of the run's repository
        return self.root / "eval"

    @property
    def venv(self) -> Path:  # the generated repository's environment, outside debug/ (which a rerun clears)
        return self.root / "venv"

    @property
    def report(self) -> Path:  # the run on one HTML page
        return self.root / "report.html"


def refuse_links(paths: RunPaths) -> None:
    """Refuse a run directory one of whose parts is a symbolic link: every command that reads or
    writes it (report, export, verify, debug, a resumed run) would follow it out of the run."""
    from papercoder.errors import InputError

    parts = [paths.repo, paths.planning, paths.analysis, paths.coding, paths.debug, paths.verify, paths.reproduce,
             paths.eval, paths.venv, paths.paper, paths.paper_full, paths.addendum, paths.manifest, paths.calls, paths.log,
             paths.report, paths.server_window, paths.figures.parent, paths.figures]
    for part in parts:
        if part.is_symlink():
            raise InputError(
                f"{part} is a symbolic link (to {os.readlink(part)}); the parts of a run directory must be its own, "
                "so nothing is read from or written to where the link leads: remove the link"
            )


def is_run_directory(folder: Path) -> bool:
    """Whether ``folder`` is a papercoder run directory (it has a manifest and a repository)."""
    paths = RunPaths(folder)
    return paths.manifest.is_file() and paths.repo.is_dir()
