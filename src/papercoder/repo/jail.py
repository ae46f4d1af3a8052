"""The first program of a sandboxed run, inside its namespaces: hide the host, then exec the command.

The sandbox starts ``python -m papercoder.repo.jail SPEC -- COMMAND...`` under ``unshare``
(its own network, PID and mount namespaces, and a fresh ``/proc`` that shows only the run's
processes, so no ``/proc/<pid>/environ`` of papercoder or anything else of the host). Here,
as the namespace's root, before anything of the command runs, it:

- mounts private, empty tmpfs on ``/dev/shm`` and the temp folders (``/tmp``, ``/var/tmp``, the
  host's ``TMPDIR``) and on ``/run``, so nothing written there reaches the host and no host unix
  socket listening there can be reached; the run's own folder (in the temp folder) and the
  Python installation, when they lie in a hidden folder, are mounted back in place;
- makes ``/proc/sys`` and ``/sys`` read-only (no writes to the hostname, kernel settings, cgroups);
- applies Landlock (writes only beneath the run's folder and the private temp folders);
- drops every capability from its bounding set, so the command runs without any (not even as
  the namespace's root: no ``sethostname``, no mounts, no raw sockets);
- execs the command.

SPEC is JSON: ``{"keep": [DIRS], "hide": [DIRS], "readonly": [DIRS], "writable": [DIRS],
"landlock": ABI, "mounts": BOOL, "drop_caps": BOOL}`` (``drop_caps`` defaults to true). Mount failures end the run (exit 125) rather than run the
code less contained than the report says.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

# imported before anything is hidden: papercoder's own source may lie in a folder the jail hides
from papercoder.repo import landlock

_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND = 1, 2, 4, 32, 4096
_PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 24, 38, 47, 4
_LAST_CAP = 63  # beyond the kernel's last capability, dropping fails harmlessly (EINVAL)
EXIT_SETUP_FAILED = 125


def _mount(libc: ctypes.CDLL, source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    result = libc.mount(
        source.encode(), target.encode(), fstype.encode() if fstype else None, ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def _hide(libc: ctypes.CDLL, keep: list[str], folders: list[str]) -> None:
    """Empty tmpfs over each folder; the folders of ``keep`` inside one (the run's folder, the
    Python installation) are bound back in place."""
    handles = [(path, os.open(path, os.O_PATH | os.O_CLOEXEC)) for path in keep if os.path.isdir(path)]
    try:
        for folder in folders:
            if not os.path.isdir(folder) or os.path.islink(folder):
                continue
            _mount(libc, "tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=1777,size=1g")
            inside = folder.rstrip("/") + "/"
            for path, fd in handles:
                if path == folder or path.startswith(inside):
                    os.makedirs(path, exist_ok=True)
                    _mount(libc, f"/proc/self/fd/{fd}", path, None, _MS_BIND, None)
    finally:
        for _, fd in handles:
            os.close(fd)


def _read_only(libc: ctypes.CDLL, folders: list[str]) -> None:
    for folder in folders:
        if os.path.isdir(folder):
            _mount(libc, folder, folder, None, _MS_BIND, None)
            _mount(libc, folder, folder, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY, None)


def _drop_capabilities(libc: ctypes.CDLL) -> None:
    """Empty the bounding set (and the ambient one): what is exec'd next holds no capability."""
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    for cap in range(_LAST_CAP + 1):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"no_new_privs: {os.strerror(errno)}")


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("papercoder jail: usage: SPEC -- COMMAND...", file=sys.stderr)
        return EXIT_SETUP_FAILED
    spec = json.loads(argv[0])
    command = argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        if spec.get("mounts"):
            _hide(libc, spec.get("keep", []), spec.get("hide", []))
            _read_only(libc, spec.get("readonly", []))
        if spec.get("landlock"):
            plan = landlock.prepare(spec.get("writable", []), ["/dev/null"], int(spec["landlock"]))
            landlock.restrict(plan)
        if spec.get("drop_caps", True):
            _drop_capabilities(libc)
    except OSError as exc:
        print(f"papercoder sandbox: could not set up the sandbox: {exc}", file=sys.stderr)
        return EXIT_SETUP_FAILED
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"papercoder sandbox: cannot run {command[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127
    return 0  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
