"""A generated repository as a PaperBench submission: ``papercoder export RUN --paperbench DIR``.

PaperBench grades a git repository found at ``submission/``: it runs ``git clean -fd`` there
first (so only committed files count), requires ``reproduce.sh`` at the root, runs it with
``bash reproduce.sh`` from that folder in a fresh container (so no absolute paths of this machine),
and limits the committed files to 1 GB. The export copies the repository without virtual
environments, caches, papercoder's own state and files too large for a source repository,
commits everything, and checks the result against those rules.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from papercoder.errors import InputError
from papercoder.repo import git

MAX_TOTAL_BYTES = 1_000_000_000  # PaperBench: committed files at most 1 GB
MAX_FILE_BYTES = 50_000_000  # a file this large is an artifact, not source: left out
SKIP_DIRS = {".git", ".venv", "venv", "env", "__pycache__", ".papercoder", "node_modules", ".mypy_cache",
             ".pytest_cache", ".ipynb_checkpoints", ".ruff_cache", "wandb"}
SKIP_SUFFIXES = (".pyc", ".pyo")


@dataclass
class Exported:
    """What the export wrote and what it left out."""

    submission: Path
    files: int = 0
    bytes: int = 0
    left_out: list[str] = field(default_factory=list)  # "path (why)"
    problems: list[str] = field(default_factory=list)  # from check_submission; empty when valid


def export_submission(repo: Path, out_dir: Path) -> Exported:
    """Copy ``repo`` to ``out_dir/submission`` as a committed git repository; check it."""
    repo = Path(repo)
    if not (repo / "reproduce.sh").is_file():
        raise InputError(f"{repo} has no reproduce.sh at its root; PaperBench runs it to grade a submission "
                         "(run the code stage, or write one)")
    target = Path(out_dir) / "submission"
    if target.exists() and any(target.iterdir()):
        raise InputError(f"{target} exists and is not empty; give another --paperbench folder or remove it")
    target.mkdir(parents=True, exist_ok=True)
    result = Exported(submission=target)
    for source in sorted(repo.rglob("*")):
        rel = source.relative_to(repo)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts[:-1] + ((rel.parts[-1],) if source.is_dir() else ())):
            continue
        if source.is_dir() or source.suffix in SKIP_SUFFIXES:
            continue
        if source.is_symlink():
            result.left_out.append(f"{rel} (a symbolic link)")
            continue
        if not source.is_file():  # a device, a FIFO, a socket: never copied (/dev/zero would fill the disk)
            result.left_out.append(f"{rel} (not a regular file)")
            continue
        size = source.stat().st_size
        if size > MAX_FILE_BYTES:
            result.left_out.append(f"{rel} ({size / 1e6:.0f} MB: an artifact, not source)")
            continue
        destination = target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
        result.files += 1
        result.bytes += size
    script = target / "reproduce.sh"
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    if not (target / "README.md").is_file():
        (target / "README.md").write_text("# Submission\n\nRun `bash reproduce.sh` from this folder.\n", encoding="utf-8")
    git.ensure_repository(target, "papercoder export: a PaperBench submission")
    result.problems = check_submission(target, machine_paths=[str(repo.resolve()), str(Path.home())])
    return result


def check_submission(submission: Path, *, machine_paths: list[str] | None = None) -> list[str]:
    """What keeps ``submission`` from being a valid PaperBench submission (empty: nothing)."""
    submission = Path(submission)
    problems: list[str] = []
    if not (submission / ".git").exists():
        return [f"{submission} is not a git repository; PaperBench grades the committed files"]
    script = submission / "reproduce.sh"
    tracked = _git_lines(submission, "ls-files")
    if "reproduce.sh" not in tracked:
        problems.append("reproduce.sh is not committed at the root")
    elif not os.access(script, os.X_OK):
        problems.append("reproduce.sh is not executable")
    untracked = _git_lines(submission, "status", "--porcelain", "--ignored", "--untracked-files=all")
    if untracked:
        problems.append(f"{len(untracked)} file(s) not committed (ignored ones included: a .gitignore can hide code); "
                        f"`git clean -fd` or a fresh clone loses them: {', '.join(untracked[:5])}")
    on_disk = {p.relative_to(submission).as_posix() for p in submission.rglob("*")
               if p.is_file() and ".git" not in p.relative_to(submission).parts}
    missing = sorted(on_disk - set(tracked))
    if missing and not untracked:
        problems.append(f"{len(missing)} file(s) on disk are not in the commit: {', '.join(missing[:5])}")
    total = sum((submission / name).stat().st_size for name in tracked if (submission / name).is_file())
    if total > MAX_TOTAL_BYTES:
        problems.append(f"the committed files take {total / 1e9:.2f} GB; PaperBench allows 1 GB")
    skipped = [name for name in tracked if set(Path(name).parts) & SKIP_DIRS]
    if skipped:
        problems.append(f"a virtual environment or cache is committed: {', '.join(skipped[:5])}")
    if script.is_file():
        text = script.read_text(encoding="utf-8", errors="replace")
        for path in machine_paths or []:
            if path and len(path) > 1 and path in text:
                problems.append(f"reproduce.sh names a path of this machine ({path}); it runs in a fresh container")
    return problems


def _git_lines(repo: Path, *args: str) -> list[str]:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60)
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]
