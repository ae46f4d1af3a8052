"""Which of the repository's files ran code during a sandboxed run.

A run that exits 0 proves little: an entry point that is a comment and ``{}`` "passes". So the
sandbox can start every Python process of the run with a ``sitecustomize`` that records, per
file under the repository, whether any function or method of it was called (a module's own
top-level code does not count: importing a file is not running it). Each process writes what it
saw when it exits; the sandbox reads it back before the run's copy is deleted.
"""

from __future__ import annotations

from pathlib import Path

ENV_ROOT = "PAPERCODER_TRACE_ROOT"
ENV_OUT = "PAPERCODER_TRACE_OUT"

SITECUSTOMIZE = '''"""papercoder's trace of which repository files ran a function (see papercoder.repo.trace)."""
import atexit as _atexit
import os as _os
import sys as _sys
import threading as _threading

_root = _os.environ.get("PAPERCODER_TRACE_ROOT", "")
_out = _os.environ.get("PAPERCODER_TRACE_OUT", "")
_ran = set()


def _profile(frame, event, arg):
    if event == "call":
        code = frame.f_code
        if code.co_name != "<module>" and code.co_filename.startswith(_root):
            _ran.add(code.co_filename)


def _dump():
    try:
        with open(_os.path.join(_out, "ran-%d.txt" % _os.getpid()), "w") as handle:
            handle.write("\\n".join(sorted(_ran)))
    except OSError:
        pass


if _root and _out:
    _sys.setprofile(_profile)
    _threading.setprofile(_profile)
    _atexit.register(_dump)
'''


def install(folder: Path, root: Path) -> dict[str, str]:
    """Write the ``sitecustomize`` into ``folder``; the environment a run needs to use it."""
    (folder / "out").mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return {"PYTHONPATH": str(folder), ENV_ROOT: str(root) + "/", ENV_OUT: str(folder / "out")}


def read(folder: Path, root: Path) -> list[str] | None:
    """The repository files (relative paths) that ran a function; None when no Python process reported."""
    reports = sorted((folder / "out").glob("ran-*.txt")) if (folder / "out").is_dir() else []
    if not reports:
        return None
    ran: set[str] = set()
    prefix = str(root) + "/"
    for report in reports:
        for line in report.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(prefix):
                ran.add(line[len(prefix):])
    return sorted(ran)
