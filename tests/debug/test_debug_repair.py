"""The repair loop on planted-bug repositories, with a scripted model."""

import asyncio
import json
from pathlib import Path

import pytest

pytest.importorskip("numpy")  # the planted repositories are numpy experiments

from tests.debug.planted_bugs import CASES, SOUND, block  # noqa: E402

from papercoder.llm import LLM, BudgetExceededError, FakeReply, ScriptedProvider  # noqa: E402
from papercoder.rundir.paths import RunPaths
from papercoder.rundir.context import StageContext  # noqa: E402
from papercoder.pipeline.debugging import debug_repository, run_debugging
from papercoder.pipeline.repair import smoke_command, trim_error
from papercoder.repo import git  # noqa: E402
from papercoder.repo.checks import check_repository  # noqa: E402
from papercoder.repo.sandbox import Limits  # noqa: E402

LIMITS = Limits(timeout=30, memory_mb=2048)


def debug(repo: Path, provider: ScriptedProvider, **kwargs):
    return asyncio.run(debug_repository(repo, LLM(provider), limits=LIMITS, **kwargs))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_planted_bug_is_repaired(case, tmp_path):
    repo = case.build(tmp_path / "repo")
    assert check_repository(repo) or case.name == "numpy-shape-mismatch"  # only the run shows that one
    provider = case.provider()
    report = debug(repo, provider)
    assert report.status == "passed", report.last_error
    assert len(provider.calls) == case.calls
    assert report.iterations == (1 if case.calls else 0)
    assert check_repository(repo) == []
    history = git.log(repo)
    assert history[-1] == "papercoder: the code before debugging" and len(history) == 2
    assert 0 < report.lines_changed <= 3 and report.lines_total > 50
    saved = json.loads((repo / ".papercoder/debug/report.json").read_text())
    assert saved["status"] == "passed" and saved["commits"] == report.commits
    if case.name == "bug-off-the-smoke-path":
        prompt = provider.calls[0]["request"].messages[-1]["content"]
        assert "runs, but the static checks" in prompt and "undefined name 'mean_squared_error'" in prompt
    if case.name not in ("missing-requirement", "bug-off-the-smoke-path"):
        assert (repo / case.file).read_text() == SOUND[case.file]


def test_blocks_that_never_apply_get_three_strikes(tmp_path):
    case = next(c for c in CASES if c.name == "wrong-import-name")
    repo = case.build(tmp_path / "repo")
    wrong = block("main.py", "from model import Linear_Model\n", "from model import LinearModel\n")
    provider = ScriptedProvider(lambda messages: wrong)
    report = debug(repo, provider, max_iterations=3)
    # nothing applied, so a second round would repeat the first request: the loop stops
    assert report.status == "no-progress" and report.iterations == 1
    assert len(provider.calls) == 4  # the answer, then three rounds of feedback, then the round ends
    feedback = provider.calls[1]["request"].messages[-1]["content"]
    assert "was not applied" in feedback and "closest lines" in feedback and "from model import LinearModle" in feedback
    assert report.notes[0].failed and not report.notes[0].applied  # run 0 and the round after it


def test_budget_stops_the_loop_and_keeps_what_was_done(tmp_path):
    case = next(c for c in CASES if c.name == "syntax-error")
    repo = case.build(tmp_path / "repo")
    report = debug(repo, ScriptedProvider([FakeReply(error=BudgetExceededError("the next call would pass the $1.00 cap"))]))
    assert report.status == "budget" and "cap" in report.warnings[-1]
    assert git.log(repo) == ["papercoder: the code before debugging"]


def test_edits_outside_the_repository_are_refused(tmp_path):
    case = next(c for c in CASES if c.name == "wrong-import-name")
    repo = case.build(tmp_path / "repo")
    evil = block("../evil.py", "", "import os\n") + block("/tmp/evil.py", "", "x\n")
    fix = case.replies[0]
    provider = ScriptedProvider(lambda messages: fix if "was not applied" in messages[-1]["content"] else evil)
    report = debug(repo, provider)
    assert report.status == "passed"
    assert not (tmp_path / "evil.py").exists()
    assert "not allowed" in provider.calls[1]["request"].messages[-1]["content"]


def test_missing_module_is_added_to_requirements_not_coded_around(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "main.py").write_text("import fancy_optimizers_xyz\nprint('ran')\n")
    (repo / "requirements.txt").write_text("numpy\n")
    provider = ScriptedProvider([])
    report = debug(repo, provider)
    assert report.status in ("missing-dependency", "passed") and not provider.calls
    assert "fancy-optimizers-xyz" in (repo / "requirements.txt").read_text()
    assert report.status == "missing-dependency" and "--venv" in report.warnings[-1]


def test_no_smoke_entry_and_fallbacks(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "lib.py").write_text("x = 1\n")
    report = debug(repo, ScriptedProvider([]))
    assert report.status == "no-smoke-entry"
    (repo / "main.py").write_text("import argparse\np = argparse.ArgumentParser()\np.add_argument('--smoke')\n")
    assert smoke_command(repo) == "python main.py --smoke"
    (repo / "config.yaml").write_text("a: 1\n")
    (repo / "main.py").write_text("# --config and --smoke\n")
    assert smoke_command(repo) == "python main.py --config config.yaml --smoke"
    assert smoke_command(repo, cmd="python lib.py") == "python lib.py"
    (repo / "reproduce.sh").write_text('if [ "$1" = "--smoke" ]; then python main.py --smoke; fi\n')
    assert smoke_command(repo) == "bash reproduce.sh --smoke"
    (repo / "smoke.sh").write_text("python lib.py\n")
    assert smoke_command(repo) == "bash smoke.sh"


def test_trim_error_keeps_repository_frames():
    stderr = (
        "Traceback (most recent call last):\n"
        '  File "/tmp/papercoder-sandbox-ab12/repo/main.py", line 20, in <module>\n'
        "    main()\n"
        '  File "/usr/lib/python3/site-packages/numpy/core/x.py", line 5, in inner\n'
        "    return f(a)\n"
        "           ^^^^\n"
        '  File "/tmp/papercoder-sandbox-ab12/repo/model.py", line 13, in gradient\n'
        "    return x @ error\n"
        "ValueError: matmul: Input operand 1 has a mismatch\n"
    )
    trimmed = trim_error(stderr)
    assert 'File "main.py", line 20' in trimmed and 'File "model.py", line 13' in trimmed
    assert "site-packages" not in trimmed and "1 frame(s) in libraries left out" in trimmed
    assert trimmed.endswith("ValueError: matmul: Input operand 1 has a mismatch")


def test_run_debugging_stage_writes_the_report_in_the_run(tmp_path):
    case = next(c for c in CASES if c.name == "missing-config-key")
    paths = RunPaths(tmp_path / "run")
    case.build(paths.repo)
    paths.paper.write_text("# A paper\n\nLinear regression by gradient descent.\n")
    provider = case.provider()
    report = asyncio.run(run_debugging(StageContext(paths=paths, llm=LLM(provider)), max_iterations=2, limits=LIMITS))
    assert report.status == "passed"
    assert json.loads((paths.root / "debug/report.json").read_text())["status"] == "passed"
    assert (paths.root / "debug/iteration-1-model.md").is_file()
    messages = provider.calls[0]["request"].messages
    # the paper comes whole in the system message, the run's shared prefix; the request's own part after it
    assert messages[0]["role"] == "system" and "Linear regression by gradient descent" in messages[0]["content"]
    assert "smoke_steps" in messages[-1]["content"] and "Linear regression" not in messages[-1]["content"]


def test_a_failing_model_call_stops_the_run_but_leaves_a_report(tmp_path):
    from papercoder.llm import LLMError

    case = next(c for c in CASES if c.name == "syntax-error")
    repo = case.build(tmp_path / "repo")
    with pytest.raises(LLMError, match="server said no"):
        debug(repo, ScriptedProvider([FakeReply(error=LLMError("server said no"))]))
    saved = json.loads((repo / ".papercoder/debug/report.json").read_text())
    assert saved["status"] == "error" and saved["iterations"] == 1


def test_feedback_stops_when_the_conversation_outgrows_a_small_window(tmp_path):
    case = next(c for c in CASES if c.name == "wrong-import-name")
    repo = case.build(tmp_path / "repo")
    rambling = block("main.py", "from model import Linear_Model\n", "from model import LinearModel\n") + "\n" + "so " * 1200
    provider = ScriptedProvider(lambda messages: rambling, context_window=4096)
    report = debug(repo, provider, max_iterations=1)
    assert report.status == "no-progress"  # not a crash: the round ends when feedback no longer fits
    requests = [c["request"] for c in provider.calls]
    assert 1 <= len(requests) < 4  # fewer feedback turns than the usual three
    for request in requests:  # every request left room for its answer inside the window
        prompt = sum(len(m["content"]) // 4 + 4 for m in request.messages)
        assert request.max_tokens and prompt + request.max_tokens <= 4096
    transcript = (repo / ".papercoder/debug/iteration-1-model.md").read_text()
    assert "Feedback stopped" in transcript


def test_a_repair_prompt_too_long_for_the_model_ends_the_loop_with_context_limit(tmp_path):
    case = next(c for c in CASES if c.name == "wrong-import-name")
    repo = case.build(tmp_path / "repo")
    from papercoder.llm import ContextLengthError

    provider = ScriptedProvider([FakeReply(error=ContextLengthError("too long for this model", limit=2048))])
    report = debug(repo, provider, max_iterations=2)
    assert report.status == "context-limit" and report.iterations == 1
    assert any("context window" in w for w in report.warnings)
    assert (repo / ".papercoder/debug/report.json").is_file()


def test_a_run_that_exits_0_with_an_empty_planned_module_is_never_passed(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "main.py").write_text("import model\nprint('ok')\n")
    (repo / "model.py").write_text("\n")
    report = debug(repo, ScriptedProvider([]), max_iterations=0)
    assert report.status == "empty-files" and "model.py is empty" in report.last_error


def test_a_smoke_run_that_runs_none_of_the_planned_code_is_no_op_and_repaired(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "model.py").write_text("def train(steps):\n    return sum(range(steps))\n")
    (repo / "main.py").write_text("# lr: 0.1, steps: 10\nresult = {}\nprint(result)\n")  # exits 0, runs nothing planned
    fixed = "main.py\n<<<<<<< SEARCH\nresult = {}\n=======\nimport model\nresult = {'loss': model.train(10)}\n>>>>>>> REPLACE\n"
    provider = ScriptedProvider([FakeReply(text=fixed)])
    report = debug(repo, provider, max_iterations=2, planned_files=["main.py", "model.py"], entry_point="main.py")
    assert report.status == "passed" and report.planned_ran == ["model.py"] and report.iterations == 1  # main.py has no function
    prompt = provider.calls[0]["request"].messages[-1]["content"]
    assert "ran no function of the planned code (model.py)" in prompt
    (repo / "main.py").write_text("print('nothing')\n")
    stuck = debug(repo, ScriptedProvider([]), max_iterations=0, planned_files=["main.py", "model.py"], entry_point="main.py")
    assert stuck.status == "no-op" and stuck.planned_ran == [] and "0 of 2 planned files ran" in stuck.summary()
