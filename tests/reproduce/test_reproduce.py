"""papercoder reproduce: reproduce.sh in a fresh copy, its log, what it wrote, retries, limits,
and the container command line."""

from __future__ import annotations

import json
from pathlib import Path
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from papercoder.cli import app
from papercoder.reproduce.executors import ContainerExecutor, LocalExecutor
from papercoder.reproduce.reproduction import reproduce

SCRIPT = """#!/usr/bin/env bash
set -e
echo "training for 3 epochs"
mkdir -p results
echo "accuracy,0.91" > results/table1.csv
echo "key=${OPENAI_API_KEY:-none}"
"""


def _repo(root, script=SCRIPT):
    root.mkdir(parents=True)
    (root / "reproduce.sh").write_text(script)
    (root / "main.py").write_text("print(1)\n")
    (root / ".venv").mkdir()
    (root / ".venv" / "junk").write_text("x")
    return root


def test_a_local_reproduction_logs_marks_its_start_and_lists_what_it_wrote(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    repo = _repo(tmp_path / "repo")
    result = reproduce(repo, tmp_path / "out", LocalExecutor(), timeout=60)
    folder = tmp_path / "out" / "submission"
    assert result.ok and result.attempts == 1 and result.written == ["results/table1.csv"]
    log = (folder / "reproduce.log").read_text()
    assert "training for 3 epochs" in log and "key=none" in log  # no secret reaches the run
    assert float((folder / "reproduce.log.creation_time").read_text()) > 0
    assert not (folder / ".venv").exists() and not (repo / "results").exists()  # the repository is untouched
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["ok"] and summary["written"] == ["results/table1.csv"] and "training" in summary["log_tail"]


def test_a_quick_failure_is_tried_once_more_in_a_fresh_copy(tmp_path):
    repo = _repo(tmp_path / "repo", "#!/usr/bin/env bash\necho attempt >> ../attempts.txt\nexit 3\n")
    result = reproduce(repo, tmp_path / "out", LocalExecutor(), timeout=60)
    assert not result.ok and result.returncode == 3 and result.attempts == 2
    assert (tmp_path / "out" / "attempts.txt").read_text().count("attempt") == 2


def test_the_wall_clock_limit_stops_the_run(tmp_path):
    repo = _repo(tmp_path / "repo", "#!/usr/bin/env bash\necho start\nsleep 30\n")
    result = reproduce(repo, tmp_path / "out", LocalExecutor(), timeout=1)
    assert result.timed_out and result.attempts == 1 and result.seconds < 10
    assert "start" in (tmp_path / "out" / "submission" / "reproduce.log").read_text()


def test_the_container_command_line(tmp_path):
    docker = ContainerExecutor("docker", image="python:3.12", gpus=True, network=False).command(tmp_path)
    assert docker[:3] == ["docker", "run", "--rm"] and f"{tmp_path.resolve()}:/submission" in docker
    assert docker[docker.index("--gpus") + 1] == "all" and docker[docker.index("--network") + 1] == "none"
    assert docker[-4:-2] == ["python:3.12", "bash"] and "> reproduce.log 2>&1" in docker[-1]
    podman = ContainerExecutor("podman", image="img").command(tmp_path)
    assert podman[0] == "podman" and "--gpus" not in podman and "--network" not in podman
    assert "-e" not in podman and "--env" not in podman  # no host environment is passed in


@pytest.mark.skipif(not shutil.which("podman") or subprocess.run(["podman", "info"], capture_output=True).returncode != 0,
                    reason="podman cannot run containers on this machine")
def test_podman_runs_a_reproduction_for_real(tmp_path):  # pragma: no cover - needs a container engine
    images = subprocess.run(["podman", "images", "-q"], capture_output=True, text=True).stdout.split()
    if not images:
        pytest.skip("podman has no image here (no registry is reachable)")
    repo = _repo(tmp_path / "repo")
    result = reproduce(repo, tmp_path / "out", ContainerExecutor("podman", image=images[0]), timeout=300)
    assert result.ok and "results/table1.csv" in result.written


def test_the_command_reports_and_fails_with_exit_1(tmp_path):
    repo = _repo(tmp_path / "repo", "#!/usr/bin/env bash\necho broken\nexit 2\n")
    done = CliRunner().invoke(app, ["reproduce", str(repo)])
    assert done.exit_code == 1 and "failed (exit 2)" in done.stdout and "broken" in done.stdout
    unknown = CliRunner().invoke(app, ["reproduce", str(repo), "--executor", "slurm"])
    assert unknown.exit_code != 0 and "unknown --executor" in str(unknown.exception)


def test_grading_in_full_mode_reads_the_results_the_run_wrote(tmp_path):
    import asyncio

    from papercoder.rubric import RubricNode
    from papercoder.evaluate.paperbench import grade_paperbench
    from papercoder.llm import LLM, ScriptedProvider
    from papercoder.paper import Paper, Section

    repo = _repo(tmp_path / "repo")
    result = reproduce(repo, tmp_path / "out", LocalExecutor(), timeout=60)
    seen = []

    def scripted(messages):
        system = messages[0]["content"]
        if system.startswith("You help a reviewer"):
            seen.append(messages[-1]["content"])
            return "results/table1.csv"
        if system.startswith("The user message is a judge's answer"):
            return json.dumps({"valid_score": True, "score": 1, "explanation": "the table shows 0.91"})
        return "The results file shows accuracy 0.91. Score: 1"

    rubric = RubricNode("r", "Reproduce", sub_tasks=[RubricNode("a", "Table 1's accuracy is about 0.9", task_category="Result Analysis")])
    paper = Paper(title="T", abstract="", sections=[Section("Results", "Accuracy 0.9 (Table 1).")])
    graded = asyncio.run(grade_paperbench(Path(result.folder), paper, rubric, LLM(ScriptedProvider(scripted)), code_dev=False))
    assert graded.total == 1.0 and "table1.csv" in seen[0] and "main.py" not in seen[0]


def test_the_reproduce_stage_is_off_by_default_and_degrades_when_the_script_fails(tmp_path):
    import asyncio

    from papercoder.rundir.paths import RunPaths
    from papercoder.rundir.context import StageContext
    from papercoder.run.runner import parse_stages
    from papercoder.reproduce.stage import run_reproduce

    assert "reproduce" not in parse_stages(None) and parse_stages("debug,reproduce") == ["debug", "reproduce"]
    paths = RunPaths(tmp_path / "run")
    _repo(paths.repo)
    ctx = StageContext(paths=paths, llm=None)  # type: ignore[arg-type]  # the stage calls no model
    result = asyncio.run(run_reproduce(ctx))
    assert result.ok and not ctx.fallbacks and (paths.root / "reproduce" / "summary.json").is_file()
    (paths.repo / "reproduce.sh").write_text("#!/usr/bin/env bash\nexit 5\n")
    failed = StageContext(paths=paths, llm=None)  # type: ignore[arg-type]
    assert not asyncio.run(run_reproduce(failed)).ok
    assert any("reproduce.sh failed (exit 5)" in f for f in failed.fallbacks)


def test_an_interrupted_run_stops_the_script_and_does_not_retry_it(tmp_path):
    import threading
    import time

    from papercoder.reproduce.executors import stop_running

    repo = _repo(tmp_path / "repo", "#!/usr/bin/env bash\necho start >> ../starts.txt\nsleep 60\n")
    done: list = []
    worker = threading.Thread(target=lambda: done.append(reproduce(repo, tmp_path / "out", LocalExecutor(), timeout=120)))
    worker.start()
    for _ in range(100):  # until the script has started
        if (tmp_path / "out" / "starts.txt").exists():
            break
        time.sleep(0.05)
    assert stop_running() == 1
    worker.join(timeout=10)
    assert not worker.is_alive() and not done[0].ok
    assert (tmp_path / "out" / "starts.txt").read_text().count("start") == 1  # not tried again


def _fake_engine(tmp_path, monkeypatch, name="docker"):
    """An engine whose `run` keeps going (as a container does, whatever happens to its client)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "engine-calls.txt"
    engine = bin_dir / name
    engine.write_text(f'#!/usr/bin/env bash\necho "$*" >> {calls}\ncase "$1" in run) sleep 60;; esac\nexit 0\n')
    engine.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    return calls


def test_a_container_that_runs_past_its_limit_is_removed_not_only_its_client(tmp_path, monkeypatch):
    calls = _fake_engine(tmp_path, monkeypatch)
    repo = _repo(tmp_path / "repo")
    result = reproduce(repo, tmp_path / "out", ContainerExecutor("docker", image="img"), timeout=1)
    assert result.timed_out and result.attempts == 1
    lines = calls.read_text().splitlines()
    run = next(line.split() for line in lines if line.startswith("run "))
    name = run[run.index("--name") + 1]
    assert name.startswith("papercoder-reproduce-") and f"rm -f {name}" in lines


def test_stopping_a_container_run_removes_the_container(tmp_path, monkeypatch):
    import threading
    import time

    from papercoder.reproduce.executors import stop_running

    calls = _fake_engine(tmp_path, monkeypatch, "podman")
    repo = _repo(tmp_path / "repo")
    done: list = []
    worker = threading.Thread(target=lambda: done.append(
        reproduce(repo, tmp_path / "out", ContainerExecutor("podman", image="img"), timeout=120)))
    worker.start()
    for _ in range(200):  # until the container has started
        if calls.exists() and "run " in calls.read_text():
            break
        time.sleep(0.05)
    assert stop_running() == 1
    worker.join(timeout=30)
    assert not worker.is_alive() and not done[0].ok and done[0].attempts == 1
    assert any(line.startswith("rm -f papercoder-reproduce-") for line in calls.read_text().splitlines())


def test_the_generated_reproduce_sh_keeps_the_runs_output_among_the_files_it_wrote(tmp_path):
    """PaperBench grades Result Analysis only from files the run wrote; printed tables alone score 0."""
    import os

    from papercoder.pipeline.extras import reproduce_script

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "reproduce.sh").write_text(reproduce_script("main.py"))
    (repo / "requirements.txt").write_text("")
    (repo / "main.py").write_text("import sys\nprint('accuracy 0.91', sys.argv[1:])\nsys.exit(3 if '--fail' in sys.argv else 0)\n")
    result = reproduce(repo, tmp_path / "out", LocalExecutor(), timeout=300)
    assert result.ok and "results/reproduce_output.txt" in result.written
    saved = tmp_path / "out" / "submission" / "results" / "reproduce_output.txt"
    assert "accuracy 0.91 ['--config', 'config.yaml']" in saved.read_text()

    env = {**os.environ, "PAPERCODER_NO_VENV": "1"}
    smoke = subprocess.run(["bash", str(repo / "reproduce.sh"), "--smoke"], env=env, capture_output=True, text=True)
    assert smoke.returncode == 0 and "--smoke" in smoke.stdout and not (repo / "results").exists()
    failed = subprocess.run(["bash", str(repo / "reproduce.sh"), "--fail"], env=env, capture_output=True, text=True)
    assert failed.returncode == 3  # the redirection keeps the entry point's exit status


FORKS = """#!/usr/bin/env bash
python - <<'PY'
import os, time
born = 0
try:
    while born < 300:
        if os.fork() == 0:
            time.sleep(2)
            os._exit(0)
        born += 1
except OSError as exc:
    print("refused:", exc.errno)
print("born", born, flush=True)
PY
"""


def test_a_fork_bomb_meets_the_process_cap(tmp_path):
    from papercoder.repo.sandbox import process_cap

    probe = process_cap(40)
    probe.close()
    if probe.warning:
        pytest.skip(probe.warning)
    repo = _repo(tmp_path / "repo", FORKS)
    result = reproduce(repo, tmp_path / "out", LocalExecutor(max_processes=40), timeout=60)
    log = (tmp_path / "out" / "submission" / "reproduce.log").read_text()
    born = int(log.split("born", 1)[1].split()[0])
    assert "refused:" in log and 0 < born < 40, log
    assert result.warnings == []
    unbounded = reproduce(repo, tmp_path / "out2", LocalExecutor(), timeout=60)  # the default leaves real work room
    assert "born 300" in (tmp_path / "out2" / "submission" / "reproduce.log").read_text() and unbounded.ok
