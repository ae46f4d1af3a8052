"""``batch --executor ray`` for real: a Ray instance on this machine (``ray start --head``, two
CPUs), the fake OpenAI server answering as a capable model, two copies of the example paper.

Both papers finish with the same repositories as the in-process executor writes; a worker
killed in the middle of a paper is restarted and the paper continues from its call log; a
reproduction runs as a Ray task; and with no address the command starts (and stops) a local
instance of its own.
"""

from __future__ import annotations

import json
import os
from collections import Counter
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner


from tests.pipeline.run_answers import answer, kind_of  # noqa: E402
from tests.pipeline.run_fixtures import EXAMPLE_PAPER  # noqa: E402

from papercoder.cli import app, main  # noqa: E402
from papercoder.batch import BatchOptions, discover_papers, run_batch  # noqa: E402
from papercoder.testing.fake_openai import FakeOpenAIServer  # noqa: E402

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'papercoder[ray]')")

RAY_TEST_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "OPENAI_API_KEY": "sk-test-not-real"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """A one-node Ray cluster started the way a user starts one (``ray start --head``); its
    address. It runs in the foreground in a session of its own, so the teardown stops this
    cluster only, never another Ray on the machine (``ray stop`` would stop them all)."""
    beside = Path(sys.executable).parent / "ray"
    ray_cli = str(beside) if beside.is_file() else shutil.which("ray")
    if ray_cli is None:
        pytest.skip("the ray command is not on PATH")
    port = _free_port()
    env = {**os.environ, **RAY_TEST_ENV}
    env.pop("RAY_ADDRESS", None)
    head = subprocess.Popen(
        [ray_cli, "start", "--head", "--block", "--num-cpus=2", "--node-ip-address=127.0.0.1", f"--port={port}",
         "--include-dashboard=false", "--disable-usage-stats"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        for _ in range(1200):
            if head.poll() is not None:
                pytest.skip(f"ray start failed here: {head.stderr.read().strip()[-300:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.skip("ray start did not open its port within two minutes")
        yield f"127.0.0.1:{port}"
    finally:
        if head.poll() is None:
            os.killpg(head.pid, signal.SIGKILL)  # its workers exit once their raylet is gone
        head.wait(timeout=60)


@pytest.fixture
def ray_env(monkeypatch):
    for name, value in RAY_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def two_papers(root: Path) -> Path:
    root.mkdir()
    for name in ("alpha.md", "beta.md"):
        shutil.copy(EXAMPLE_PAPER, root / name)
    return root


def repo_files(run: Path) -> dict[str, str]:
    repo = run / "repo"
    return {p.relative_to(repo).as_posix(): p.read_text(errors="replace") for p in sorted(repo.rglob("*"))
            if p.is_file() and not {"__pycache__", ".papercoder", ".git"} & set(p.parts)}


STAGES = ["plan", "analyze", "code", "debug"]


def options(out: Path, server: FakeOpenAIServer, **kw) -> BatchOptions:
    return BatchOptions(out=out, jobs=2, model="openai:fake-model", base_url=server.base_url, stages=STAGES, **kw)


def test_two_papers_on_ray_match_the_in_process_executor(tmp_path, cluster, ray_env):
    papers = discover_papers(two_papers(tmp_path / "papers"))
    with FakeOpenAIServer(lambda body: answer(body["messages"])) as server:
        local = run_batch(papers, options(tmp_path / "local", server))
        on_ray = run_batch(papers, options(tmp_path / "ray", server, executor="ray", address=cluster))
    assert [r["status"] for r in local] == [r["status"] for r in on_ray]
    assert [r["status"] for r in on_ray] in (["done", "done"], ["degraded", "degraded"])
    assert not any(r["error"] for r in on_ray)
    for record in on_ray:
        assert record["worker"].split(" pid ")[1] != str(os.getpid())  # ran in a Ray worker, not here
        assert repo_files(Path(record["run_dir"])) == repo_files(tmp_path / "local" / "runs" / record["slug"])
        assert json.loads((tmp_path / "ray" / "results" / f"{record['slug']}.json").read_text())["status"] == record["status"]
    assert (tmp_path / "ray" / "summary.md").is_file()

    again = run_batch(papers, options(tmp_path / "ray", server, executor="ray", address=cluster))
    assert all(r.get("skipped") for r in again)  # finished papers are not sent to Ray again


def _ray_worker_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if title.startswith(b"ray::PaperWorker"):
                found.append(int(entry.name))
    return found


def test_a_worker_killed_mid_paper_is_restarted_and_the_paper_resumes_from_its_call_log(tmp_path, cluster, ray_env):
    papers = discover_papers(two_papers(tmp_path / "papers"))
    asked: list[str] = []
    killed = threading.Event()
    lock = threading.Lock()

    def reply(body):
        kind = kind_of(body["messages"])[0]
        with lock:
            asked.append(kind)
            kill_now = kind == "code" and asked.count("code") == 5 and not killed.is_set()
            if kill_now:
                killed.set()
        if kill_now:
            for pid in _ray_worker_pids():  # the worker dies the way an OOM kill or a lost node kills it
                os.kill(pid, signal.SIGKILL)
            return "never delivered"
        return answer(body["messages"])

    with FakeOpenAIServer(reply) as server:
        # one call at a time per paper: at the kill, at most one call per paper is unanswered or unlogged
        records = run_batch(papers, options(tmp_path / "out", server, executor="ray", address=cluster, concurrency=1))
    assert killed.is_set()
    assert [r["status"] for r in records] in (["done", "done"], ["degraded", "degraded"]), [r["error"] for r in records]
    stage_calls = [k for k in asked if k != "other"]
    # per paper: six planning requests (four turns, the skeleton, the checklist), the analysis requests (how many files each holds depends on the
    # window, unknown here), a file per planned file; the kill comes after every analysis is answered
    analyses = sum(kind in ("analysis", "analyses") for kind in stage_calls)
    clean = 2 * (6 + 7) + analyses
    # what was answered before the kill came from the call logs: only calls in flight were asked again
    assert clean < len(stage_calls) <= clean + 2, Counter(stage_calls)
    for record in records:
        assert repo_files(Path(record["run_dir"])).keys() >= {"reproduce.sh", "README.md"}


def test_the_cli_starts_a_local_instance_and_reproduces_each_paper_as_a_ray_task(tmp_path, ray_env):
    papers = two_papers(tmp_path / "papers")
    out = tmp_path / "out"
    with FakeOpenAIServer(lambda body: answer(body["messages"])) as server:
        common = ["batch", str(papers), "-o", str(out), "-m", "openai:fake-model", "--base-url", server.base_url,
                  "--stages", ",".join(STAGES)]
        first = CliRunner().invoke(app, common)  # the pipelines, in this process
        assert "[2/2]" in first.output, first.output
        # scripts that need no download: one writes its results, one fails
        for slug, body in (("alpha", 'mkdir -p results; echo "gpus=[$CUDA_VISIBLE_DEVICES]" > results/metrics.txt'),
                           ("beta", "echo 'no GPU found' >&2; exit 3")):
            (out / "runs" / slug / "repo" / "reproduce.sh").write_text(f"#!/usr/bin/env bash\n{body}\n")
        result = CliRunner().invoke(app, [*common, "--executor", "ray", "--reproduce", "--reproduce-timeout", "300"])
    assert not ray.is_initialized()  # the instance it started is gone
    assert "on Ray (a local instance)" in result.output and "[2/2]" in result.output, result.output
    alpha, beta = (json.loads((out / "results" / f"{slug}.json").read_text()) for slug in ("alpha", "beta"))
    assert alpha["reproduce"]["ok"] and alpha["reproduce"]["written"] == 1
    written = out / "runs" / "alpha" / "reproduce" / "submission" / "results" / "metrics.txt"
    assert written.read_text() == "gpus=[]\n"  # no GPU in this cluster: none asked for, none shown
    assert beta["reproduce"] == {**beta["reproduce"], "ok": False, "returncode": 3, "attempts": 2}
    assert "no GPU found" in (out / "runs" / "beta" / "reproduce" / "submission" / "reproduce.log").read_text()
    assert result.exit_code == 1  # a reproduction failed: the batch says so
    summary = (out / "summary.md").read_text()
    assert "passed" in summary and "failed (exit 3)" in summary


def test_ray_options_are_checked_before_anything_runs(tmp_path, ray_env, capsys):
    from papercoder.errors import InputError
    from papercoder.batch.ray import gpus_for, worker_count

    assert gpus_for(BatchOptions(out=tmp_path), 0) == 0 and gpus_for(BatchOptions(out=tmp_path), 4) == 1
    with pytest.raises(InputError, match="cannot be granted"):
        gpus_for(BatchOptions(out=tmp_path, gpus_per_paper=2), 1)
    assert worker_count(BatchOptions(out=tmp_path, jobs=8), 3) == 3
    assert worker_count(BatchOptions(out=tmp_path, jobs=2), 5) == 2
    papers = two_papers(tmp_path / "papers")
    for args, said in (
        (["--address", "127.0.0.1:1"], "--address and --workers belong to --executor ray"),
        (["--executor", "ray", "--address", "127.0.0.1:1", "-m", "openai:gpt-4.1"], "cannot reach the Ray cluster at 127.0.0.1:1"),
        (["--executor", "ray", "--stages", "plan,reproduce"], "drop reproduce from --stages"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["batch", str(papers), "-o", str(tmp_path / "out"), *args])
        err = capsys.readouterr().err
        assert exit_.value.code != 0 and said in err and "Traceback" not in err and len(err.splitlines()) == 1, err


LONG_SLEEP = "300.4242"


def _running(command: str) -> bool:
    found = subprocess.run(["pgrep", "-f", command], capture_output=True, text=True).stdout
    return bool(found.strip())


def test_ctrl_c_during_a_ray_reproduction_kills_its_script(tmp_path, cluster, ray_env):
    import _thread

    papers = discover_papers(two_papers(tmp_path / "papers"))[:1]
    out = tmp_path / "out"
    with FakeOpenAIServer(lambda body: answer(body["messages"])) as server:
        run_batch(papers, options(out, server))  # the pipeline, in this process
        pid_file = out / "runs" / "alpha" / "reproduce" / "pid.txt"
        # the script may run in a PID namespace of its own ($$ is not the host's pid): it is found by its command
        (out / "runs" / "alpha" / "repo" / "reproduce.sh").write_text(f"#!/usr/bin/env bash\necho $$ > {pid_file}\nsleep {LONG_SLEEP}\n")

        def press_ctrl_c_once_it_runs():
            for _ in range(600):
                if pid_file.is_file() and pid_file.read_text().strip():
                    _thread.interrupt_main()
                    return
                time.sleep(0.1)

        threading.Thread(target=press_ctrl_c_once_it_runs, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            run_batch(papers, options(out, server, executor="ray", address=cluster, reproduce=True))
    for _ in range(100):
        if not _running(f"sleep {LONG_SLEEP}"):
            break
        time.sleep(0.1)
    assert not _running(f"sleep {LONG_SLEEP}"), "reproduce.sh outlived the interrupted batch"
