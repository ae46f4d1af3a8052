"""The sandbox's limits are really enforced: each runaway script is contained and reported."""

import os
import socket
from pathlib import Path

import pytest

from papercoder.repo.sandbox import Limits, isolation, run_sandboxed
from papercoder.secrets import looks_secret

FAST = Limits(timeout=10, memory_mb=512, max_processes=32)


def repo_with(tmp_path: Path, name: str, code: str) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    (repo / name).write_text(code)
    return repo


def test_a_passing_run_in_a_copy(tmp_path):
    repo = repo_with(tmp_path, "ok.py", "open('made.txt', 'w').write('x')\nprint('hello')\n")
    result = run_sandboxed(repo, ["python", "ok.py"], limits=FAST)
    assert result.ok and result.stdout == "hello\n" and result.limit is None
    assert not (repo / "made.txt").exists()  # the run worked on a copy


def test_sleeping_past_the_time_limit(tmp_path):
    repo = repo_with(tmp_path, "slow.py", "import time\nprint('start', flush=True)\ntime.sleep(60)\n")
    result = run_sandboxed(repo, ["python", "slow.py"], limits=Limits(timeout=4))
    assert result.timed_out and result.limit == "time" and not result.ok
    assert result.duration < 15
    assert "start" in result.stdout


def test_spinning_past_the_cpu_time_limit(tmp_path):
    repo = repo_with(tmp_path, "spin.py", "while True:\n    pass\n")
    result = run_sandboxed(repo, ["python", "spin.py"], limits=Limits(timeout=15, cpu_seconds=1))
    assert not result.ok and not result.timed_out and result.limit == "cpu-time"
    assert result.duration < 14


def test_allocating_past_the_memory_limit(tmp_path):
    repo = repo_with(tmp_path, "hog.py", "block = bytearray(2 * 1024 ** 3)\nprint('allocated')\n")
    result = run_sandboxed(repo, ["python", "hog.py"], limits=Limits(timeout=10, memory_mb=256))
    assert not result.ok and result.limit == "memory"
    assert "MemoryError" in result.stderr and "allocated" not in result.stdout


def _marked_processes(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_fork_bomb_is_contained(tmp_path):
    if isolation().process_limit == "none":
        pytest.skip("no process-count limit can be enforced on this machine; not running a fork bomb")
    marker = f"bomb_{os.getpid()}_{tmp_path.name}"
    # every child also leaves the process group, so only the limit and the PID namespace hold it
    code = "import os, time\nwhile True:\n    try:\n        if os.fork() == 0:\n            os.setsid()\n    except OSError:\n        time.sleep(0.01)\n"
    repo = repo_with(tmp_path, f"{marker}.py", code)
    result = run_sandboxed(repo, ["python", f"{marker}.py"], limits=Limits(timeout=6, max_processes=12, memory_mb=256))
    assert not result.ok and result.limit == "processes"
    assert _marked_processes(marker) == []  # nothing survives the run


def test_api_keys_never_reach_the_code(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-456")
    monkeypatch.setenv("HF_TOKEN", "hf-secret-789")
    repo = repo_with(tmp_path, "leak.py", "import os\nprint(os.environ.get('OPENAI_API_KEY'))\nprint(dict(os.environ))\n")
    result = run_sandboxed(repo, ["python", "leak.py"], limits=FAST, extra_env={"MY_TOKEN": "tok-000", "SEED": "1"})
    assert result.ok
    for secret in ("sk-test-secret-123", "aws-secret-456", "hf-secret-789", "tok-000"):
        assert secret not in result.stdout
    assert result.stdout.startswith("None\n") and "'SEED': '1'" in result.stdout
    assert "papercoder-sandbox-" in result.stdout  # HOME and TMPDIR are the run's own
    assert looks_secret("ANTHROPIC_API_KEY") and not looks_secret("SEED")


def test_writes_outside_the_copy_are_blocked(tmp_path):
    if not isolation().landlock_abi:
        pytest.skip("Landlock is unavailable here: writes outside the copy cannot be blocked")
    # a folder the run can see (not under a hidden temp folder): Landlock refuses the write
    target = Path(__file__).resolve().parent / f".escape-target-{os.getpid()}.txt"
    code = f"open({str(target)!r}, 'w').write('escaped')\n"
    repo = repo_with(tmp_path, "escape.py", code)
    try:
        result = run_sandboxed(repo, ["python", "escape.py"], limits=FAST)
        # refused by Landlock, or (when the checkout itself lies in a hidden temp folder) not even visible
        assert not result.ok and ("PermissionError" in result.stderr or "FileNotFoundError" in result.stderr)
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)
    # the host's temp folder: hidden behind a private one where the machine allows, else refused
    hidden = tmp_path / "outside.txt"
    (tmp_path / "second").mkdir()
    repo = repo_with(tmp_path / "second", "escape.py", f"open({str(hidden)!r}, 'w').write('escaped')\n")
    result = run_sandboxed(repo, ["python", "escape.py"], limits=FAST)
    assert not result.ok and not hidden.exists()


def test_no_network(tmp_path):
    if not isolation().network:
        pytest.skip("no network namespace on this machine")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')\n"
    repo = repo_with(tmp_path, "net.py", code)
    try:
        result = run_sandboxed(repo, ["python", "net.py"], limits=FAST)
    finally:
        server.close()
    assert not result.ok and "connected" not in result.stdout


def test_output_is_capped_and_stdin_closed(tmp_path):
    code = "import sys\nprint(repr(sys.stdin.read()))\nsys.stdout.write('x' * 500000 + 'END')\n"
    repo = repo_with(tmp_path, "loud.py", code)
    result = run_sandboxed(repo, ["python", "loud.py"], limits=Limits(timeout=10, output_bytes=2000))
    assert result.ok and result.truncated
    assert result.stdout.startswith("''\n") and result.stdout.endswith("END")
    assert len(result.stdout) < 2200


def test_shell_string_command(tmp_path):
    repo = repo_with(tmp_path, "smoke.sh", "echo smoke-ok\nexit 3\n")
    result = run_sandboxed(repo, "bash smoke.sh", limits=FAST)
    assert result.returncode == 3 and result.stdout == "smoke-ok\n"


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_a_sigkilled_papercoder_takes_its_sandboxed_run_with_it(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    if not Path("/proc/self/cmdline").exists():
        pytest.skip("needs Linux /proc")
    marker = f"papercoder-orphan-check-{os.getpid()}"
    repo = repo_with(tmp_path, "main.py", "import time\ntime.sleep(60)\n")
    driver = (
        "from pathlib import Path\nfrom papercoder.repo.sandbox import Limits, run_sandboxed\n"
        # the marker is put together at run time, so only the sandboxed process's command line holds it
        f"run_sandboxed(Path({str(repo)!r}), ['python3', 'main.py', {marker[:9]!r} + {marker[9:]!r}], "
        "limits=Limits(timeout=90))\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", driver])
    deadline = time.monotonic() + 20
    while not _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(marker), "the sandboxed run never started"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_with(marker), "the sandboxed run outlived papercoder"


def test_sandbox_copies_left_by_dead_processes_are_removed(tmp_path):
    import tempfile

    stale = Path(tempfile.gettempdir()) / "papercoder-sandbox-999999999-stale"
    stale.mkdir(exist_ok=True)
    repo = repo_with(tmp_path, "main.py", "print('hi')\n")
    run_sandboxed(repo, ["python3", "main.py"], limits=FAST)
    assert not stale.exists()
