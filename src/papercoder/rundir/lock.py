"""One process per run directory, and what a killed process leaves behind.

Two ``papercoder run --resume`` on one directory would each pay for the same calls and write the
same files; a lock (``flock`` on ``<run>/.lock``, released by the kernel when the process dies,
however it dies) lets one of them in and tells the other, in one line, who holds it. Atomic
writes go through ``.<name>.tmp<pid>`` files; a kill between writing and renaming leaves one,
and :func:`remove_leftovers` clears those of processes that no longer run.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from pathlib import Path

from papercoder.errors import InputError
from papercoder.repo.sandbox import process_alive

LOCK_NAME = ".lock"
_TMP = re.compile(r"^\..+\.tmp(\d+)$")


class RunLock:
    """An exclusive lock on a run directory, held until :meth:`release` (or the process ends)."""

    def __init__(self, root: Path, *, wait: bool = False, poll: float = 0.5):
        self.path = Path(root) / LOCK_NAME
        self.handle = None
        self.wait = wait
        self.poll = poll

    def acquire(self) -> "RunLock":
        try:
            handle = open(self.path, "a+", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot use {self.path.parent} as a run directory: {exc.strerror or exc}") from None
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not self.wait:
                    holder = _holder(self.path)
                    handle.close()
                    raise InputError(
                        f"{self.path.parent} is in use by another papercoder process{holder}; wait for it to "
                        "finish, or add --wait to wait for it"
                    ) from None
                time.sleep(self.poll)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self.handle = handle
        return self

    def release(self) -> None:
        if self.handle is not None:
            try:
                fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            finally:
                self.handle.close()
                self.handle = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


def remove_leftovers(root: Path) -> list[Path]:
    """Delete ``.<name>.tmp<pid>`` files under ``root`` whose process is gone; returns them."""
    removed = []
    if not root.is_dir():
        return removed
    for path in root.rglob(".*.tmp*"):
        match = _TMP.match(path.name)
        if not match or not path.is_file() or ".git" in path.parts:
            continue
        if int(match.group(1)) == os.getpid() or process_alive(int(match.group(1))):
            continue
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed

