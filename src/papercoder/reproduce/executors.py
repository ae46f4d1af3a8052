"""Where ``reproduce.sh`` runs: this machine (scrubbed environment, no secrets) or a container
engine (docker, podman). Each executor runs ``bash reproduce.sh`` in a prepared folder and tees
its output into ``reproduce.log`` there; the caller prepares the folder and reads the results."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from papercoder.errors import InputError
from papercoder.repo.sandbox import _jail_argv, isolation, process_cap, scrubbed_env

# Runs the script with its output in reproduce.log; its exit status is the script's. No pipe: a
# background child the script leaves behind (holding its output open) must not keep the run
# waiting after the script itself has ended.
TEE = "bash reproduce.sh > reproduce.log 2>&1"


@dataclass
class Outcome:
    """How one run of reproduce.sh ended."""

    returncode: int | None
    seconds: float
    timed_out: bool = False
    command: list[str] = field(default_factory=list)
    stopped: bool = False  # killed by stop_running (the run was interrupted): not to be retried
    warnings: list[str] = field(default_factory=list)  # a protection this machine could not give


@dataclass
class LocalExecutor:
    """This machine: a scrubbed environment (an allow-list, no keys or tokens), the network allowed
    unless ``network`` is False (then a network namespace where the machine allows one), GPUs
    hidden unless ``gpus`` (then all of them, or only ``gpu_ids`` when given: Ray's assignment)."""

    network: bool = True
    gpus: bool = False
    gpu_ids: list[str] | None = None
    name: str = "local"
    max_processes: int = 4096  # processes and threads alive at once: a fork bomb's end, not a real run's

    def command(self, folder: Path) -> list[str]:
        """``bash reproduce.sh`` in its own PID, mount, UTS and IPC namespaces with a fresh ``/proc``
        (the script sees only its own processes: no ``/proc/<pid>/environ`` of papercoder or of the
        user's other processes, no ancestor to ptrace), without capabilities, and without network
        only when asked; where the machine allows no PID namespace, the plain script."""
        found = isolation()
        if not self.network and not found.network:
            raise InputError("this machine cannot run without network (no unshare -n); drop --no-network or use a container")
        argv = ["bash", "-c", TEE]
        if not found.pid_namespace:
            return [*found.unshare_args, *argv] if not self.network else argv
        prefix = [arg for arg in found.unshare_args if self.network is False or arg != "--net"]
        return [*prefix, *_jail_argv({"mounts": False}, argv)]

    def run(self, folder: Path, timeout: float) -> Outcome:
        home, tmp = folder.parent / "home", folder.parent / "tmp"
        home.mkdir(exist_ok=True)
        tmp.mkdir(exist_ok=True)
        env = scrubbed_env(home, tmp, path_dirs=[str(Path(sys.executable).parent)])
        if self.gpu_ids:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in self.gpu_ids)
        elif self.gpus:
            env.pop("CUDA_VISIBLE_DEVICES", None)
        env.pop("HF_HUB_OFFLINE", None)  # a reproduction downloads its datasets and models
        cap = process_cap(self.max_processes)
        try:
            # no parent-death signal: reproduce ends its runs through their process group
            outcome = _run(self.command(folder), folder, env, timeout, preexec=cap.preexec(die_with_parent=False))
        finally:
            cap.close()  # kills what is left in the run's cgroup
        outcome.warnings = [cap.warning] if cap.warning else []
        return outcome


@dataclass
class ContainerExecutor:
    """A container engine: the folder mounted at /submission, ``--gpus all`` when asked, no host
    environment passed in, the container removed afterwards."""

    engine: str = "docker"
    image: str = "python:3.12"
    network: bool = True
    gpus: bool = False

    @property
    def name(self) -> str:
        return self.engine

    def command(self, folder: Path, name: str | None = None) -> list[str]:
        argv = [self.engine, "run", "--rm", "-v", f"{folder.resolve()}:/submission", "-w", "/submission"]
        if name:
            argv += ["--name", name]
        if self.gpus:
            argv += ["--gpus", "all"] if self.engine == "docker" else ["--device", "nvidia.com/gpu=all"]
        if not self.network:
            argv += ["--network", "none"]
        return [*argv, self.image, "bash", "-c", TEE]

    def available(self) -> str:
        """"" when the engine can run containers here, else why not."""
        if shutil.which(self.engine) is None:
            return f"{self.engine} is not installed"
        done = subprocess.run([self.engine, "info"], capture_output=True, text=True, timeout=60)
        return "" if done.returncode == 0 else f"{self.engine} cannot run containers here: {done.stderr.strip()[:200]}"

    def run(self, folder: Path, timeout: float) -> Outcome:
        why = self.available()
        if why:
            raise InputError(f"{why}; use --executor local, or another engine")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}
        # The script runs in the engine, not under the client we start: killing the client leaves the
        # container running. A name of our own lets a stop or a timeout remove the container itself.
        name = f"papercoder-reproduce-{uuid.uuid4().hex[:12]}"
        return _run(self.command(folder, name), folder, env, timeout, cleanup=lambda: self.remove(name, env))

    def remove(self, name: str, env: dict[str, str]) -> None:
        """Kill and remove the container ``name`` (quietly: it may be gone already)."""
        try:
            subprocess.run([self.engine, "rm", "-f", name], env=env, capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            pass


_live: dict[int, Callable[[], None] | None] = {}  # process groups of the scripts running now, and what else to stop
_stopped: set[int] = set()  # those stop_running killed
_live_lock = threading.Lock()


def stop_running() -> int:
    """Kill every reproduce.sh this process started and is still waiting for; how many.

    The script runs in its own session (so a Ctrl-C in the terminal does not reach it half-way)
    and is waited for in a worker thread, which an interrupted run cannot stop: the run calls
    this instead, so nothing keeps running for hours after the user pressed Ctrl-C.
    """
    with _live_lock:
        groups = dict(_live)
        _stopped.update(groups)
    for group, cleanup in groups.items():
        _kill(group, cleanup)
    return len(groups)


def _kill(group: int, cleanup: Callable[[], None] | None) -> None:
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if cleanup is not None:
        cleanup()


def _run(argv: list[str], folder: Path, env: dict[str, str], timeout: float,
         cleanup: Callable[[], None] | None = None, preexec: Callable[[], None] | None = None) -> Outcome:
    """Run ``argv`` in its own session; on a timeout, an exception or :func:`stop_running`, kill its
    process group and call ``cleanup`` (a container's removal). ``preexec`` runs in the child before
    the command (its process cap)."""
    start = time.monotonic()
    process = subprocess.Popen(argv, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, preexec_fn=preexec)
    with _live_lock:
        _live[process.pid] = cleanup
    try:
        code = process.wait(timeout=timeout)
        with _live_lock:
            stopped = process.pid in _stopped
            _stopped.discard(process.pid)
        _kill(process.pid, None)  # what the script left running in its session ends with it (its PID namespace too)
        return Outcome(code, time.monotonic() - start, command=argv, stopped=stopped)
    except subprocess.TimeoutExpired:
        _kill(process.pid, cleanup)
        process.wait()
        return Outcome(None, time.monotonic() - start, timed_out=True, command=argv)
    except BaseException:
        _kill(process.pid, cleanup)
        process.wait()
        raise
    finally:
        with _live_lock:
            _live.pop(process.pid, None)


def shell_line(argv: list[str]) -> str:
    return shlex.join(argv)
