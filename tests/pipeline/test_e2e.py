"""The real stages end to end through ``run_paper`` on examples/prototype-classifier.md: with a
scripted model in-process, and over HTTP against the fake OpenAI server with the process
killed part way through coding and resumed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading

import pytest
from tests.pipeline.run_answers import FILES, answer, kind_of
from tests.pipeline.run_fixtures import EXAMPLE_PAPER, tree

from papercoder.llm import FakeReply, ScriptedProvider
from papercoder.llm.calllog import CallLog
from papercoder.pipeline.analysis import ANALYSIS_GROUP, group_files
from papercoder.rundir.manifest import Manifest
from papercoder.run import run_paper
from papercoder.testing.fake_openai import FakeOpenAIServer, Reply

PAPER = str(EXAMPLE_PAPER)
ANALYSIS_CALLS = len(group_files(FILES, ANALYSIS_GROUP))  # 7 files: two requests, of 4 and 3 analyses
PLANNING_CALLS = 6  # four conversation turns, the skeleton and the checklist
MODEL_CALLS = PLANNING_CALLS + ANALYSIS_CALLS + len(FILES)  # four planning turns, the skeleton and the checklist, the analyses, a file each
STAGES = ["plan", "analyze", "code", "debug"]


def test_the_whole_pipeline_with_a_scripted_model(tmp_path):
    provider = ScriptedProvider(answer)
    result = run_paper(PAPER, out_dir=tmp_path / "run", provider=provider, stages=STAGES, show_progress=False)

    run = tmp_path / "run"
    assert result.status == "done"
    assert Manifest.load(run / "manifest.json").stages_done == STAGES
    for name in ("plan.md", "design.json", "tasks.json", "config.yaml", "interfaces.md", "diagrams/class.mmd", "diagrams/sequence.mmd"):
        assert (run / "planning" / name).is_file(), name
    assert sorted(p.name for p in (run / "analysis").iterdir()) == sorted(f + ".md" for f in FILES)
    repo = tree(result.repo)
    assert set(FILES) <= set(repo) and {"requirements.txt", "config.yaml", "README.md", "reproduce.sh"} <= set(repo)
    assert "numpy" in repo["requirements.txt"]
    assert json.loads((run / "planning" / "tasks.json").read_text())["task_list"] == FILES
    assert len(provider.calls) == MODEL_CALLS  # the scripted code runs, so debugging asks nothing
    assert result.debug_status == "passed"


def test_resume_after_a_crash_in_coding_repeats_no_call(tmp_path):
    reference = run_paper(PAPER, out_dir=tmp_path / "reference", provider=ScriptedProvider(answer), stages=STAGES, show_progress=False)

    coded = 0

    def crash_on_fourth_file(messages):
        nonlocal coded
        if kind_of(messages)[0] == "code":
            coded += 1
            if coded == 4:
                return FakeReply(error=RuntimeError("simulated crash"), delay=0.05)
        return FakeReply(text=answer(messages), delay=0.01)

    with pytest.raises(RuntimeError, match="simulated crash"):
        run_paper(PAPER, out_dir=tmp_path / "run", provider=ScriptedProvider(crash_on_fourth_file), concurrency=2, stages=STAGES, show_progress=False)
    with CallLog(tmp_path / "run" / "calls.sqlite") as log:
        answered = {_digest(r.request["messages"]) for r in log.calls() if r.error is None}
    assert PLANNING_CALLS + ANALYSIS_CALLS < len(answered) < MODEL_CALLS

    second = ScriptedProvider(answer)
    result = run_paper(PAPER, out_dir=tmp_path / "run", provider=second, resume=True, stages=STAGES, show_progress=False)
    asked_again = {_digest(c["request"].messages) for c in second.calls}
    assert not asked_again & answered, "a completed model call was repeated"
    assert len(answered) + len(second.calls) == MODEL_CALLS
    assert result.stages["code"].cached_calls == len(answered) - PLANNING_CALLS - ANALYSIS_CALLS
    assert tree(result.repo) == tree(reference.repo)


def test_over_http_killed_mid_coding_then_resumed_sends_no_request_twice(tmp_path):
    """`papercoder run` in a subprocess against the fake server; SIGKILL when the 3rd file is asked."""
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key", "HOME": str(tmp_path), "NO_COLOR": "1"}
    env.pop("OPENAI_BASE_URL", None)
    process: dict[str, subprocess.Popen] = {}
    answered: list[str] = []
    kinds: list[str] = []
    killed = threading.Event()
    coded = 0
    lock = threading.Lock()

    def script(body):
        nonlocal coded
        messages = body["messages"]
        with lock:
            if not killed.is_set() and kind_of(messages)[0] == "code":
                coded += 1
                if coded == 3:
                    process["run"].send_signal(signal.SIGKILL)
                    killed.set()
                    return Reply.dropped()
            if not killed.is_set():
                answered.append(_digest(messages))
                kinds.append(kind_of(messages)[0])
        return answer(messages)

    command = [sys.executable, "-m", "papercoder", "run", PAPER, "-o", str(tmp_path / "run"), "-m", "openai:fake-model",
               "--concurrency", "1", "--stages", "plan,analyze,code"]
    with FakeOpenAIServer(script) as server:
        command += ["--base-url", server.base_url]
        process["run"] = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, err = process["run"].communicate(timeout=120)
        assert killed.is_set(), err
        assert process["run"].returncode == -signal.SIGKILL
        first_requests = len(server.requests)

        resumed = subprocess.run(command + ["--resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        again = [_digest(r.body["messages"]) for r in server.requests[first_requests:]]

    # the model's window is unknown (8,192 tokens assumed), so four analyses a request may not fit
    analyses = sum(kind in ("analysis", "analyses") for kind in kinds)
    assert kinds.count("code") == 2 and PLANNING_CALLS + analyses + 2 == len(answered)
    assert not set(again) & set(answered), "a request answered before the kill reached the server again"
    assert len(answered) + len(again) == PLANNING_CALLS + analyses + len(FILES)
    assert "repository:" in resumed.stdout and "code" in resumed.stdout
    assert set(FILES) <= set(tree(tmp_path / "run" / "repo"))
    assert Manifest.load(tmp_path / "run" / "manifest.json").stages_done == ["plan", "analyze", "code"]


def _digest(messages: list[dict]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()


def test_single_stage_command_uses_the_model_the_run_used(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    env = {**os.environ, "HOME": str(tmp_path), "NO_COLOR": "1"}
    with FakeOpenAIServer(lambda body: answer(body["messages"])) as server:
        run_paper(PAPER, out_dir=tmp_path / "run", model="openai:fake-model", base_url=server.base_url,
                  stages=["plan", "analyze"], show_progress=False)
        before = len(server.requests)
        done = subprocess.run([sys.executable, "-m", "papercoder", "code", str(tmp_path / "run")], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)
        asked = [kind_of(r.body["messages"])[0] for r in server.requests[before:]]
    assert done.returncode == 0, done.stderr
    assert asked == ["code"] * len(FILES)
    assert set(FILES) <= set(tree(tmp_path / "run" / "repo"))
    manifest = Manifest.load(tmp_path / "run" / "manifest.json")
    assert manifest.stages_done == ["plan", "analyze", "code"] and manifest.model == "openai:fake-model"


def test_resuming_a_finished_run_says_there_is_nothing_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    env = {**os.environ, "HOME": str(tmp_path), "NO_COLOR": "1"}
    with FakeOpenAIServer(lambda body: answer(body["messages"])) as server:
        run_paper(PAPER, out_dir=tmp_path / "run", model="openai:fake-model", base_url=server.base_url,
                  stages=["plan"], show_progress=False)
        before = len(server.requests)
        again = subprocess.run(
            [sys.executable, "-m", "papercoder", "run", PAPER, "-o", str(tmp_path / "run"), "--resume",
             "--stages", "plan", "-m", "openai:fake-model", "--base-url", server.base_url],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )
        assert len(server.requests) == before
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("nothing to run: plan already done in ")


def test_a_rerun_stage_keeps_the_analysis_group_it_was_given(tmp_path):
    from papercoder.run import run_stage

    first = ScriptedProvider(answer)
    run_paper(PAPER, out_dir=tmp_path / "run", provider=first, stages=["plan", "analyze"], show_progress=False,
              analysis_group=1)
    assert sum(kind_of(c["request"].messages)[0] == "analysis" for c in first.calls) == len(FILES)
    assert Manifest.load(tmp_path / "run" / "manifest.json").stage("analyze").detail["analysis_group"] == 1
    again = ScriptedProvider(answer)
    result = run_stage("analyze", tmp_path / "run", provider=again, show_progress=False)
    assert result.status == "done" and again.calls == []  # the same requests: the call log answers them all
    other = ScriptedProvider(answer)
    run_stage("analyze", tmp_path / "run", provider=other, show_progress=False, analysis_group=2)
    # 2, 2, 2 and 1 files: the lone file's request is the one the first run made, answered by the log
    assert [kind_of(c["request"].messages)[0] for c in other.calls] == ["analyses"] * 3


def test_an_analysis_group_below_one_is_refused_before_anything_is_made(tmp_path):
    from papercoder.errors import InputError

    with pytest.raises(InputError, match="--analysis-group must be 1 or more"):
        run_paper(PAPER, out_dir=tmp_path / "run", provider=ScriptedProvider(answer), analysis_group=0,
                  show_progress=False)
    assert not (tmp_path / "run").exists()
