"""Run generated code in a disposable copy, with limits, and report what happened.

Generated code is untrusted. Each run gets a fresh copy of the repository in a temp folder, a
temp HOME and TMPDIR there, a scrubbed environment (an allow-list: no API keys, tokens or cloud
credentials), stdin closed and output captured up to a cap. Limits, through ``resource`` in the
child before ``exec``: wall time, CPU time, address space (memory), file size, and the number of
processes (a pids cgroup when papercoder runs as root, since root ignores ``RLIMIT_NPROC``).

Where the machine allows it, ``unshare`` gives the run no network and its own PID namespace (so
every process it started dies with it), and Landlock forbids writes outside the copy. Where it
does not, the run goes ahead and :attr:`SandboxResult.warnings` says what was not enforced.
"""

from __future__ import annotations

import functools
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from papercoder.repo import landlock
from papercoder.repo import trace as tracing
from papercoder.secrets import looks_secret, redact

COPY_IGNORE = (".git", "__pycache__", ".papercoder", ".venv", "venv", "*.pyc")
PASS_THROUGH_ENV = ("TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclass
class Limits:
    """Resource limits of one sandboxed run."""

    timeout: float = 120.0  # wall-clock seconds
    cpu_seconds: int | None = None  # CPU time; default twice the wall time
    memory_mb: int = 8192  # address space of each process (torch alone reserves several GiB)
    max_processes: int = 64  # processes and threads alive at once
    file_size_mb: int = 1024  # largest file the run may write
    output_bytes: int = 64_000  # kept per stream (the start and the end)


NO_PROCESS_LIMIT = "no process-count limit here (running as root without a writable pids cgroup)"


@dataclass
class Isolation:
    """What this machine lets the sandbox enforce (probed once per process)."""

    unshare_args: list[str] = field(default_factory=list)  # prefix that isolates network and PIDs
    network: bool = False
    pid_namespace: bool = False
    landlock_abi: int = 0
    process_limit: str = "none"  # "cgroup", "rlimit" or "none"
    cgroup_root: Path | None = None
    mounts: bool = False  # own /proc, private /tmp, /dev/shm and /run, read-only /proc/sys and /sys

    def warnings(self) -> list[str]:
        notes = []
        if not self.network:
            notes.append("no network isolation here (unshare -n failed): the code can reach the network")
        if not self.mounts:
            notes.append(
                "no mount namespace here: the code sees the host's /proc (other processes' environments), "
                "its /tmp, /dev/shm and their unix sockets"
            )
        if not self.landlock_abi:
            notes.append("Landlock is unavailable here: the code can write outside its copy wherever this user can")
        if self.process_limit == "none":
            notes.append(NO_PROCESS_LIMIT)
        return notes


@dataclass
class SandboxResult:
    """The outcome of one sandboxed run."""

    command: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    limit: str | None = None  # the limit that stopped it: time, cpu-time, memory, processes, file-size
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)
    ran: list[str] | None = None  # with trace: the repository's files that ran a function (None: unknown)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def summary(self) -> str:
        if self.ok:
            return f"passed in {self.duration:.1f}s"
        why = f", stopped by the {self.limit} limit" if self.limit else ""
        return f"failed (exit {self.returncode}{why}) after {self.duration:.1f}s"


class SandboxError(RuntimeError):
    """The sandbox itself could not start the run (a papercoder or machine problem)."""


# --- probing the machine ----------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def isolation() -> Isolation:
    """Probe once what can be enforced here: unshare, Landlock, a process-count limit."""
    found = Isolation(landlock_abi=landlock.abi_version())
    unshare = shutil.which("unshare")
    if unshare:
        root = os.geteuid() == 0
        pid_ns = ["--pid", "--fork", "--kill-child"]
        candidates = [
            # mounting needs root in the namespace: a user namespace mapping us to root when we are not
            ([*([] if root else ["--map-root-user"]), "--net", "--uts", "--ipc", *pid_ns, "--mount", "--mount-proc"], True, True),
            ([*([] if root else ["--map-current-user"]), "--net", "--uts", "--ipc", *pid_ns], True, False),
            ([*([] if root else ["--map-root-user"]), "--net", *pid_ns, "--mount", "--mount-proc"], True, True),
            ([*([] if root else ["--map-current-user"]), "--net", *pid_ns], True, False),
            ([*([] if root else ["--map-current-user"]), "--net"], False, False),
        ]
        for extra, pid, mounts in candidates:
            args = [unshare, *extra, "--"]
            probe_argv = [*args, *_jail_argv({"mounts": mounts, **_mount_spec(Path(tempfile.gettempdir()))}, ["true"])]
            try:
                probe = subprocess.run(probe_argv, capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if probe.returncode == 0:
                found.unshare_args, found.network, found.pid_namespace, found.mounts = args, True, pid, mounts
                break
    if os.geteuid() != 0:
        found.process_limit = "rlimit"
    else:
        found.cgroup_root = _pids_cgroup_root()
        found.process_limit = "cgroup" if found.cgroup_root else "none"
    return found


HIDDEN = ("/dev/shm", "/tmp", "/var/tmp", "/run")  # given private, empty tmpfs in the run's mount namespace
READ_ONLY = ("/proc/sys", "/sys")
SCRATCH_PREFIX = "papercoder-sandbox-"


def _mount_spec(scratch: Path, venv: Path | None = None) -> dict:
    """What the jail hides, keeps visible and makes read-only (see :mod:`papercoder.repo.jail`)."""
    hide = list(dict.fromkeys([*HIDDEN, os.path.realpath(tempfile.gettempdir())]))
    import papercoder

    package_root = str(Path(papercoder.__file__).resolve().parent.parent)  # an editable install's src/
    keep = [str(scratch), sys.prefix, sys.base_prefix, sys.exec_prefix, package_root]
    if venv is not None:
        keep.append(str(Path(venv).resolve()))
    return {"hide": hide, "keep": list(dict.fromkeys(os.path.realpath(k) for k in keep)), "readonly": list(READ_ONLY)}


def _jail_argv(spec: dict, argv: list[str]) -> list[str]:
    """The command that sets up the sandbox from inside its namespaces, then execs ``argv``."""
    import json

    return [sys.executable, "-I", "-m", "papercoder.repo.jail", json.dumps(spec), "--", *argv]


def remove_stale_scratch() -> list[str]:
    """Delete sandbox copies left by papercoder processes that no longer run (killed mid-run)."""
    removed = []
    base = Path(tempfile.gettempdir())
    for entry in base.glob(SCRATCH_PREFIX + "*"):
        parts = entry.name[len(SCRATCH_PREFIX) :].split("-")
        if not parts or not parts[0].isdigit() or not entry.is_dir():
            continue
        if process_alive(int(parts[0])):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(str(entry))
    return removed


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pids_cgroup_root() -> Path | None:
    """A folder where a pids cgroup can be made (cgroup v1 or v2), or None."""
    candidates = [Path("/sys/fs/cgroup/pids")]
    unified = Path("/sys/fs/cgroup")
    if (unified / "cgroup.controllers").is_file() and "pids" in (unified / "cgroup.controllers").read_text():
        candidates.append(unified)
    for base in candidates:
        probe = base / f"papercoder-probe-{os.getpid()}"
        try:
            probe.mkdir()
        except OSError:
            continue
        try:
            if (probe / "pids.max").exists():
                (probe / "pids.max").write_text("8")
                return base
        except OSError:
            pass
        finally:
            try:
                probe.rmdir()
            except OSError:
                pass
    return None


# --- the run ------------------------------------------------------------------------------


def scrubbed_env(home: Path, tmp: Path, *, path_dirs: list[str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a sandboxed run: an allow-list, never a copy of ours."""
    env = {
        "PATH": os.pathsep.join([*path_dirs, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "TMP": str(tmp),
        "TEMP": str(tmp),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "disabled",
        "CUDA_VISIBLE_DEVICES": "",
    }
    for name in PASS_THROUGH_ENV:
        if name in os.environ:
            env[name] = os.environ[name]
    for name, value in (extra or {}).items():
        if not looks_secret(name):
            env[name] = value
    return env


def run_sandboxed(
    repo: Path,
    command: list[str] | str,
    *,
    limits: Limits | None = None,
    venv: Path | None = None,
    extra_env: dict[str, str] | None = None,
    keep: Path | None = None,
    trace: bool = False,
) -> SandboxResult:
    """Run ``command`` (argv, or a shell string) in a fresh copy of ``repo``, within ``limits``.

    ``venv``: a virtual environment whose ``bin`` goes first on PATH. ``keep``: copy the
    run's folder there afterwards (to inspect what it wrote); otherwise it is deleted. ``trace``:
    record which of the repository's files ran a function (``result.ran``, see :mod:`.trace`).
    """
    limits = limits or Limits()
    found = isolation()
    argv = ["bash", "-c", command] if isinstance(command, str) else list(command)
    remove_stale_scratch()
    scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")).resolve()
    work, home, tmp = scratch / "repo", scratch / "home", scratch / "tmp"
    try:
        shutil.copytree(repo, work, symlinks=True, ignore=shutil.ignore_patterns(*COPY_IGNORE))
        home.mkdir()
        tmp.mkdir()
        path_dirs = ([str(venv / "bin")] if venv else []) + [str(Path(sys.executable).parent)]
        env = scrubbed_env(home, tmp, path_dirs=path_dirs, extra=extra_env)
        if trace:
            env.update(tracing.install(scratch / "trace", work))
        cap = process_cap(limits.max_processes, found)
        try:
            result = _run(argv, work, env, limits, found, cap, scratch=scratch, venv=venv)
        finally:
            cap.close()
        if trace:
            result.ran = tracing.read(scratch / "trace", work)
        if keep is not None:
            if keep.exists():
                shutil.rmtree(keep)
            shutil.copytree(scratch, keep, symlinks=True)
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _make_cgroup(found: Isolation, max_processes: int) -> Path | None:
    if found.process_limit != "cgroup" or found.cgroup_root is None:
        return None
    group = found.cgroup_root / f"papercoder-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        group.mkdir()
        # unshare and its forked child count too
        (group / "pids.max").write_text(str(max_processes + 2))
    except OSError:
        return None
    return group


def _remove_cgroup(group: Path) -> None:
    for _ in range(50):
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        for pid in pids:  # only processes this run started: they are in its own cgroup
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            group.rmdir()
            return
        except OSError:
            time.sleep(0.05)


def _count_processes(uid: int) -> int:
    count = 0
    try:
        entries = os.listdir("/proc")
    except OSError:  # no /proc (not Linux): count none, the limit is then tighter
        return 0
    for entry in entries:
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


_PR_SET_PDEATHSIG = 1
_libc = None


@dataclass
class ProcessCap:
    """A cap on the processes and threads a command may have alive at once: its own pids cgroup
    when papercoder runs as root (root ignores ``RLIMIT_NPROC``), else ``RLIMIT_NPROC``; ``warning``
    says why there is none. ``close`` after the run (it kills what is left in the cgroup)."""

    rlimits: list[tuple[int, int]] = field(default_factory=list)
    cgroup: Path | None = None
    warning: str = ""

    def preexec(self, rlimits: Sequence[tuple[int, int]] = (), *, die_with_parent: bool = True) -> Callable[[], None]:
        """The ``Popen(preexec_fn=...)`` that enters the cap, with ``rlimits`` of the caller's own."""
        procs = str(self.cgroup / "cgroup.procs") if self.cgroup is not None else None
        return _child_setup([*rlimits, *self.rlimits], procs, die_with_parent=die_with_parent)

    def close(self) -> None:
        if self.cgroup is not None:
            _remove_cgroup(self.cgroup)
            self.cgroup = None


def process_cap(max_processes: int, found: Isolation | None = None) -> ProcessCap:
    """A :class:`ProcessCap` of ``max_processes``, by the means :func:`isolation` found here."""
    found = found or isolation()
    if found.process_limit == "rlimit":
        # RLIMIT_NPROC counts every process of this user, so leave room for the ones running now
        return ProcessCap([(resource.RLIMIT_NPROC, _count_processes(os.getuid()) + max_processes)])
    if found.process_limit == "none":
        return ProcessCap(warning=NO_PROCESS_LIMIT)
    cgroup = _make_cgroup(found, max_processes)
    if cgroup is None:
        return ProcessCap(warning="could not make a pids cgroup for this run: no process-count limit")
    return ProcessCap(cgroup=cgroup)


def _child_setup(rlimits: list[tuple[int, int]], cgroup_procs: str | None, *, die_with_parent: bool = True):
    """Runs in the child between fork and exec: only system calls, no imports.

    With ``die_with_parent`` the child is killed when papercoder dies (even by SIGKILL), and with
    it, through ``unshare --kill-child``, every process of the run's PID namespace. (Linux sends
    that signal when the forking *thread* ends, so a command started from a worker thread that
    returns before the command does goes without it.)
    """
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    libc = _libc

    def setup() -> None:
        if die_with_parent:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if cgroup_procs is not None:
            with open(cgroup_procs, "w") as handle:
                handle.write(str(os.getpid()))
        for which, value in rlimits:
            resource.setrlimit(which, (value, value))

    return setup


def _run(
    argv: list[str],
    work: Path,
    env: dict[str, str],
    limits: Limits,
    found: Isolation,
    cap: ProcessCap,
    *,
    scratch: Path,
    venv: Path | None,
) -> SandboxResult:
    cpu = limits.cpu_seconds or max(1, int(limits.timeout * 2))
    rlimits = [
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * 1024 * 1024),
        (resource.RLIMIT_CORE, 0),
    ]
    spec = {"mounts": found.mounts, "landlock": found.landlock_abi, **_mount_spec(scratch, venv)}
    # writes: the run's folder, and /dev/shm and the temp folders only where they are private
    spec["writable"] = [str(scratch), *(["/dev/shm", "/tmp", "/var/tmp"] if found.mounts else ["/dev/shm"])]
    warnings = found.warnings()
    if cap.warning and cap.warning not in warnings:
        warnings.append(cap.warning)
    full = [*found.unshare_args, *_jail_argv(spec, argv)]
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            full,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
            preexec_fn=cap.preexec(rlimits),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"could not start {argv[0]!r} in the sandbox: {exc}") from exc
    out, err = _Capture(limits.output_bytes), _Capture(limits.output_bytes)
    reaper = _Reaper(proc.pid)
    timed_out = _pump(proc, out, err, start + limits.timeout, reaper)
    _kill_group(proc.pid)
    status, usage = reaper.wait()
    returncode = proc.returncode = os.waitstatus_to_exitcode(status)
    duration = time.monotonic() - start
    cpu_used = usage.ru_utime + usage.ru_stime  # sampled at clock ticks: it reads low under load

    # the second wall: a secret that got through anyway never reaches a report or a model
    stdout, stderr = redact(out.text()), redact(_without_unshare_noise(err.text()))
    return SandboxResult(
        command=argv,
        returncode=returncode,
        stdout=stdout,
        stderr=stderr,
        duration=duration,
        timed_out=timed_out,
        limit=_which_limit(returncode, timed_out, stderr, stdout, cap.cgroup, cpu_used >= 0.8 * cpu),
        truncated=out.cut > 0 or err.cut > 0,
        warnings=warnings,
    )


def _pump(proc: subprocess.Popen, out: "_Capture", err: "_Capture", deadline: float, reaper: "_Reaper") -> bool:
    """Read both pipes until they close or the deadline; True when the deadline hit first."""
    selector = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    selector.register(proc.stdout, selectors.EVENT_READ, out)
    selector.register(proc.stderr, selectors.EVENT_READ, err)
    exited_at: float | None = None
    try:
        while selector.get_map():
            now = time.monotonic()
            if now >= deadline:
                return True
            if exited_at is None and reaper.poll():
                exited_at = now
            if exited_at is not None and now - exited_at > 2.0:
                break  # the main process is gone; a straggler holds the pipes open
            for key, _ in selector.select(timeout=min(0.2, deadline - now)):
                chunk = os.read(key.fileobj.fileno(), 65536)
                if chunk:
                    key.data.add(chunk)
                else:
                    selector.unregister(key.fileobj)
        return False
    finally:
        selector.close()
        proc.stdout.close()
        proc.stderr.close()


class _Reaper:
    """Waits for the child with ``wait4``, which also gives the CPU time of its whole tree.

    unshare reports a child killed by SIGXCPU only as exit status 1, so the CPU-time limit is
    recognised by the CPU time used; ``Popen.poll`` would reap the child and lose that figure.
    """

    def __init__(self, pid: int):
        self.pid = pid
        self.result: tuple[int, resource.struct_rusage] | None = None

    def poll(self) -> bool:
        if self.result is None:
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                self.result = (status, usage)
        return self.result is not None

    def wait(self) -> tuple[int, resource.struct_rusage]:
        if self.result is None:
            _, status, usage = os.wait4(self.pid, 0)
            self.result = (status, usage)
        return self.result


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _without_unshare_noise(stderr: str) -> str:
    """Drop unshare's own complaint when the child dies by a signal: it would mislead the model."""
    return "".join(line for line in stderr.splitlines(keepends=True) if not line.startswith("unshare: sigprocmask"))


def _which_limit(
    returncode: int | None, timed_out: bool, stderr: str, stdout: str, cgroup: Path | None, cpu_spent: bool
) -> str | None:
    if cgroup is not None:
        try:
            events = (cgroup / "pids.events").read_text().split()
            if len(events) >= 2 and events[0] == "max" and int(events[1]) > 0:
                return "processes"
        except (OSError, ValueError):
            pass
    if timed_out:
        return "time"
    if returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU) or (returncode and cpu_spent):
        return "cpu-time"
    if returncode in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ) or "File too large" in stderr:
        return "file-size"
    tail = stderr[-4000:] + "\n" + stdout[-2000:]
    if any(s in tail for s in ("Resource temporarily unavailable", "fork: retry", "can't start new thread")):
        return "processes"
    if returncode and any(s in tail for s in ("MemoryError", "Cannot allocate memory", "Unable to allocate", "bad_alloc")):
        return "memory"
    return None


class _Capture:
    """Keeps the first and the last ``cap / 2`` bytes of a stream, and counts what was cut."""

    def __init__(self, cap: int):
        self.half = max(1, cap // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.cut = 0

    def add(self, chunk: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail += chunk
        if len(self.tail) > self.half:
            excess = len(self.tail) - self.half
            self.cut += excess
            del self.tail[:excess]

    def text(self) -> str:
        middle = f"\n[... {self.cut} bytes cut ...]\n" if self.cut else ""
        return (bytes(self.head).decode("utf-8", "replace") + middle + bytes(self.tail).decode("utf-8", "replace"))
