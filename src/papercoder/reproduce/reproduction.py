"""``papercoder reproduce RUN_OR_REPO``: run reproduce.sh as PaperBench does, and keep what it wrote.

A fresh copy of the repository (virtual environments, caches and an old log left out) is made in
``<run>/reproduce/submission/``; ``reproduce.log.creation_time`` records when the run started, so
later steps (``grade --mode full``) know which files it wrote; ``bash reproduce.sh`` runs there
with its output teed to ``reproduce.log``, within ``timeout``. A run that fails in under ten
minutes is tried once more in a fresh copy (an environment that half-installed is the usual
cause). ``<run>/reproduce/summary.json`` has the exit status, the duration, the files written and
the log's tail; the generated repository itself is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from papercoder.errors import InputError
from papercoder.reproduce.executors import ContainerExecutor, LocalExecutor, Outcome
from papercoder.secrets import redact_file

RETRY_UNDER = 600.0  # seconds: a failure this fast gets one more try in a fresh copy
LEFT_OUT = (".venv", "venv", "env", "__pycache__", ".papercoder", ".git", "node_modules", "reproduce.log",
            "reproduce.log.creation_time")
LOG_TAIL = 40


@dataclass
class Reproduction:
    """What a reproduction did; written to ``summary.json``."""

    executor: str
    command: str
    returncode: int | None
    seconds: float
    timed_out: bool
    attempts: int
    folder: str
    written: list[str] = field(default_factory=list)  # files created or changed by the run
    log_tail: str = ""
    warnings: list[str] = field(default_factory=list)  # protections this machine could not give the run

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def summary(self) -> str:
        state = "passed" if self.ok else ("timed out" if self.timed_out else f"failed (exit {self.returncode})")
        return (f"reproduce.sh {state} after {self.seconds:.1f}s ({self.attempts} attempt(s), {self.executor}); "
                f"{len(self.written)} file(s) written; log: {Path(self.folder) / 'reproduce.log'}")


def reproduce(repo: Path, out_dir: Path, executor: LocalExecutor | ContainerExecutor, *, timeout: float) -> Reproduction:
    """Run ``repo``'s reproduce.sh in ``out_dir/submission`` (made afresh); see the module doc."""
    repo = Path(repo)
    if not (repo / "reproduce.sh").is_file():
        raise InputError(f"{repo} has no reproduce.sh; run the code stage first (or write one)")
    folder = Path(out_dir) / "submission"
    attempts = 0
    while True:
        attempts += 1
        started = _fresh_copy(repo, folder)
        outcome: Outcome = executor.run(folder, timeout)
        if (outcome.returncode == 0 or outcome.timed_out or outcome.stopped or outcome.seconds >= RETRY_UNDER
                or attempts >= 2):
            break
    log = folder / "reproduce.log"
    redact_file(log)  # before anything reads it: the judge of `grade --mode full` does
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    result = Reproduction(
        executor=executor.name, command=" ".join(outcome.command), returncode=outcome.returncode, seconds=round(outcome.seconds, 3),
        timed_out=outcome.timed_out, attempts=attempts, folder=str(folder), written=_written(folder, started),
        log_tail="\n".join(text.splitlines()[-LOG_TAIL:]), warnings=list(outcome.warnings),
    )
    (Path(out_dir) / "summary.json").write_text(json.dumps({**asdict(result), "ok": result.ok}, indent=2) + "\n", encoding="utf-8")
    return result


def _fresh_copy(repo: Path, folder: Path) -> float:
    """Copy ``repo`` to ``folder`` anew; write the start marker; the start time."""
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(repo, folder, symlinks=True, ignore=shutil.ignore_patterns(*LEFT_OUT))
    started = time.time()
    past = started - 1
    for path in folder.rglob("*"):  # what was copied predates the run, whatever the copy's clock says
        if not path.is_symlink():
            os.utime(path, (past, past))
    (folder / "reproduce.log.creation_time").write_text(f"{started:.3f}\n", encoding="utf-8")
    return started


def _written(folder: Path, started: float) -> list[str]:
    skip = {"reproduce.log", "reproduce.log.creation_time"}
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink() and p.stat().st_mtime >= started and p.name not in skip
        and not any(part in (".venv", "venv", "__pycache__") for part in p.relative_to(folder).parts)
    )
