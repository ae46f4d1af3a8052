"""A git history in the generated repository: one commit per repair, so users can diff fixes.

Works without any global git configuration (author given per command) and never touches a
repository outside the folder: a folder without its own ``.git`` gets a new one, even when it
sits inside another repository.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from papercoder.errors import PapercoderError

_IDENTITY = ["-c", "user.name=papercoder", "-c", "user.email=papercoder@localhost", "-c", "commit.gpgsign=false"]
_EXCLUDE = ("__pycache__/", "*.pyc", ".papercoder/")


class GitError(PapercoderError):
    """git is missing or failed in the generated repository."""


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    git = shutil.which("git")
    if git is None:
        raise GitError("git is not installed; install git to keep a history of the repairs")
    result = subprocess.run([git, *_IDENTITY, "-C", str(repo), *args], capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise GitError(f"git {args[0]} failed in {repo}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def ensure_repository(repo: Path, message: str = "papercoder: the code before debugging") -> None:
    """Make ``repo`` a git repository of its own (if needed) and commit what is there."""
    if not (repo / ".git").exists():
        _git(repo, "init", "-q")
    exclude = Path(_git(repo, "rev-parse", "--git-path", "info/exclude").stdout.strip())
    exclude = exclude if exclude.is_absolute() else repo / exclude
    exclude.parent.mkdir(parents=True, exist_ok=True)
    existing = exclude.read_text().splitlines() if exclude.exists() else []
    missing = [line for line in _EXCLUDE if line not in existing]
    if missing:
        text = "\n".join(existing + missing) + "\n"
        exclude.write_text(text)
    commit_all(repo, message)


def commit_all(repo: Path, message: str) -> str | None:
    """Commit every change in ``repo``; the new commit's hash, or None when nothing changed."""
    _git(repo, "add", "-A", ".")
    if _git(repo, "diff", "--cached", "--quiet", check=False).returncode == 0:
        return None
    _git(repo, "commit", "-q", "--no-verify", "-m", message)
    return head(repo)


def head(repo: Path) -> str | None:
    """The hash of HEAD, or None in a repository without commits."""
    result = _git(repo, "rev-parse", "HEAD", check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def log(repo: Path) -> list[str]:
    """Commit subjects, newest first."""
    result = _git(repo, "log", "--format=%s", check=False)
    return result.stdout.splitlines() if result.returncode == 0 else []


def discard_changes(repo: Path) -> None:
    """Put the working tree back to HEAD: changed files restored, new untracked files removed
    (ignored ones, such as a virtual environment, are left alone)."""
    _git(repo, "reset", "-q", "--hard", "HEAD")
    _git(repo, "clean", "-q", "-fd")


def changed_files(repo: Path) -> list[str]:
    """Paths changed since the last commit (modified, added or deleted; untracked files included)."""
    out = _git(repo, "status", "--porcelain", "-z", "--untracked-files=all").stdout
    paths = []
    for entry in out.split("\0"):
        if len(entry) > 3:
            paths.append(entry[3:])
    return sorted(set(paths))


def file_at(repo: Path, commit: str, path: str) -> bytes | None:
    """The bytes of ``path`` at ``commit``, or None when it did not exist there."""
    git = shutil.which("git")
    if git is None:
        raise GitError("git is not installed; install git to keep a history of the repairs")
    result = subprocess.run([git, "-C", str(repo), "show", "--end-of-options", f"{commit}:{path}"], capture_output=True, timeout=60)
    return result.stdout if result.returncode == 0 else None
