"""``run_paper`` and ``run_stage``: the run directory, the manifest, resume, interruption and
concurrency, with small stand-in stages (see run_fixtures) and a scripted model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tests.pipeline.run_fixtures import (
    EXAMPLE_PAPER,
    STAND_IN_FILES,
    crashing_provider,
    echo_provider,
    prompts_of,
    tree,
    use_stand_in_stages,
)

from papercoder.errors import InputError
from papercoder.llm.calllog import CallLog
from papercoder.rundir.manifest import Manifest
from papercoder.run.runner import parse_stages, stages_to_run
from papercoder.run import RunInterrupted, paper_slug, resume_command, run_paper, run_stage

PAPER = str(EXAMPLE_PAPER)
CALLS_PER_RUN = 1 + 2 * len(STAND_IN_FILES) + 2  # plan, analyses, files, one repair, one verification


@pytest.fixture(autouse=True)
def stand_ins(monkeypatch):
    use_stand_in_stages(monkeypatch)


def test_full_run_writes_the_run_directory_and_manifest(tmp_path):
    provider = echo_provider()
    result = run_paper(PAPER, out_dir=tmp_path / "run", provider=provider, show_progress=False)

    run = tmp_path / "run"
    assert result.status == "done" and result.run_dir == run and result.repo == run / "repo"
    assert result.debug_status == "passed"
    assert sorted(tree(run / "repo")) == sorted(STAND_IN_FILES)
    assert (run / "paper.md").read_text().startswith("# Prototype Classifiers with a Learned Temperature")
    assert len(provider.calls) == CALLS_PER_RUN

    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages_done"] == ["plan", "analyze", "code", "debug", "verify"]
    assert manifest["status"] == "done"
    assert manifest["model"] == "fake:scripted"
    assert manifest["source"] == str(EXAMPLE_PAPER)
    assert manifest["papercoder_version"]
    assert manifest["created"].endswith("Z") and manifest["stages"]["code"]["finished"].endswith("Z")
    assert manifest["stages"]["debug"]["detail"] == {"status": "passed"}
    assert manifest["totals"]["coding"]["calls"] == len(STAND_IN_FILES)
    assert manifest["totals"]["total"]["calls"] == CALLS_PER_RUN and "call_seconds" in manifest["totals"]["total"]
    assert manifest["paper"]["ready"] and manifest["paper"]["fit_steps"] == []

    assert [s for s in result.stages] == ["fit", "plan", "analyze", "code", "debug", "verify"]
    assert result.stages["analyze"].calls == len(STAND_IN_FILES)
    assert result.stages["code"].output_tokens > 0 and result.stages["code"].seconds > 0
    assert result.total.calls == CALLS_PER_RUN
    assert "code: done" in (run / "run.log").read_text()


def test_timestamps_reach_no_prompt(tmp_path):
    provider = echo_provider()
    run_paper(PAPER, out_dir=tmp_path / "run", provider=provider, show_progress=False)
    created = json.loads((tmp_path / "run" / "manifest.json").read_text())["created"]
    assert not any(created[:10] in prompt for prompt in prompts_of(provider))


def test_existing_run_directory_needs_resume_or_another_directory(tmp_path):
    run_paper(PAPER, out_dir=tmp_path / "run", provider=echo_provider(), show_progress=False)
    with pytest.raises(InputError, match="--resume.*-o"):
        run_paper(PAPER, out_dir=tmp_path / "run", provider=echo_provider(), show_progress=False)


def test_a_bad_paper_leaves_no_run_directory(tmp_path):
    with pytest.raises(InputError):
        run_paper(str(tmp_path / "missing.md"), out_dir=tmp_path / "run", provider=echo_provider(), show_progress=False)
    assert not (tmp_path / "run").exists()


def test_resume_of_a_finished_run_calls_nothing(tmp_path):
    run_paper(PAPER, out_dir=tmp_path / "run", provider=echo_provider(), show_progress=False)
    again = echo_provider()
    result = run_paper(PAPER, out_dir=tmp_path / "run", provider=again, resume=True, show_progress=False)
    assert again.calls == []
    assert result.skipped == ["plan", "analyze", "code", "debug", "verify"]


@pytest.mark.parametrize("error", [RuntimeError("simulated crash"), "sigint"])
def test_resume_after_a_crash_in_coding_repeats_no_call_and_builds_the_same_repo(tmp_path, error):
    reference = run_paper(PAPER, out_dir=tmp_path / "reference", provider=echo_provider(), show_progress=False)

    first = crashing_provider("CODE", after=3, error=error, delay=0.01)
    expected = RunInterrupted if error == "sigint" else RuntimeError
    with pytest.raises(expected):
        run_paper(PAPER, out_dir=tmp_path / "run", provider=first, concurrency=1, show_progress=False)
    manifest = Manifest.load(tmp_path / "run" / "manifest.json")
    assert manifest.stages_done == ["plan", "analyze"]
    assert manifest.status == ("interrupted" if expected is RunInterrupted else "failed")
    with CallLog(tmp_path / "run" / "calls.sqlite") as log:
        answered = [r.request["messages"][-1]["content"] for r in log.calls() if r.error is None and not r.cached]
    assert len(answered) == 1 + 2 * len(STAND_IN_FILES) - 2  # plan, analyses, two files

    second = echo_provider()
    result = run_paper(PAPER, out_dir=tmp_path / "run", provider=second, resume=True, show_progress=False)
    assert result.status == "done"
    assert not set(prompts_of(second)) & set(answered), "a completed call was made again"
    assert len(answered) + len(second.calls) == CALLS_PER_RUN
    assert tree(tmp_path / "run" / "repo") == tree(reference.repo)


def test_interruption_says_exactly_how_to_resume(tmp_path):
    provider = crashing_provider("ANALYZE", after=2, error="sigint")
    with pytest.raises(RunInterrupted) as caught:
        run_paper(PAPER, out_dir=tmp_path / "my run", provider=provider, show_progress=False)
    command = f"papercoder run {PAPER} -o '{tmp_path / 'my run'}' --resume"
    assert caught.value.resume_command == command
    assert command in str(caught.value)
    assert command in (tmp_path / "my run" / "run.log").read_text()


def test_debug_interrupted_part_way_rebuilds_repo_from_the_log_first(tmp_path):
    reference = run_paper(PAPER, out_dir=tmp_path / "reference", provider=echo_provider(), show_progress=False)
    with pytest.raises(RunInterrupted):
        run_paper(
            PAPER,
            out_dir=tmp_path / "run",
            provider=crashing_provider("FIX", after=1, error="sigint"),
            show_progress=False,
        )
    (tmp_path / "run" / "repo" / "main.py").write_text("half-repaired")  # what an interrupted repair may leave
    second = echo_provider()
    run_paper(PAPER, out_dir=tmp_path / "run", provider=second, resume=True, show_progress=False)
    assert [p.split("\n")[0] for p in prompts_of(second)] == ["FIX", "VERIFY"]  # the code again from the log
    assert tree(tmp_path / "run" / "repo") == tree(reference.repo)


def test_concurrent_calls_overlap_in_time(tmp_path):
    provider = echo_provider(delay=0.2)
    run_paper(PAPER, out_dir=tmp_path / "run", provider=provider, concurrency=4, stages=["plan", "analyze"], show_progress=False)
    analyses = [c for c in provider.calls if c["request"].messages[-1]["content"].startswith("ANALYZE")]
    assert len(analyses) == len(STAND_IN_FILES)
    assert max(c["start"] for c in analyses) < min(c["end"] for c in analyses), "analysis calls ran one after another"


def test_concurrency_one_runs_calls_one_at_a_time(tmp_path):
    provider = echo_provider(delay=0.05)
    run_paper(PAPER, out_dir=tmp_path / "run", provider=provider, concurrency=1, stages=["plan", "analyze"], show_progress=False)
    spans = sorted((c["start"], c["end"]) for c in provider.calls)
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:]))


def test_stages_option_then_resume_runs_the_rest(tmp_path):
    first = echo_provider()
    result = run_paper(PAPER, out_dir=tmp_path / "run", provider=first, stages=["plan"], show_progress=False)
    assert list(result.stages) == ["fit", "plan"] and len(first.calls) == 1
    assert Manifest.load(tmp_path / "run" / "manifest.json").stages_done == ["plan"]
    second = echo_provider()
    result = run_paper(PAPER, out_dir=tmp_path / "run", provider=second, resume=True, show_progress=False)
    assert result.skipped == ["plan"]
    assert not any(p.startswith("PLAN") for p in prompts_of(second))
    assert len(second.calls) == CALLS_PER_RUN - 1


def test_stages_are_validated_and_ordered():
    assert parse_stages(["code,plan"]) == ["plan", "code"]
    assert parse_stages(None) == ["plan", "analyze", "code", "debug", "verify"]
    with pytest.raises(InputError, match="choose from plan, analyze, code, debug"):
        parse_stages(["planning"])


def test_later_stage_without_earlier_ones_says_what_to_run(tmp_path):
    with pytest.raises(InputError, match="plan stage first"):
        run_paper(PAPER, out_dir=tmp_path / "run", provider=echo_provider(), stages=["code"], show_progress=False)
    run_paper(PAPER, out_dir=tmp_path / "run", provider=echo_provider(), stages=["plan"], show_progress=False)
    with pytest.raises(InputError, match=r"papercoder analyze"):
        run_stage("code", tmp_path / "run", provider=echo_provider(), show_progress=False)


def test_single_stage_reruns_from_the_log_and_marks_later_stages_pending(tmp_path):
    run_paper(PAPER, out_dir=tmp_path / "run", provider=echo_provider(), show_progress=False)
    again = echo_provider()
    result = run_stage("code", tmp_path / "run", provider=again, show_progress=False)
    assert again.calls == [] and result.stages["code"].cached_calls == len(STAND_IN_FILES)
    manifest = Manifest.load(tmp_path / "run" / "manifest.json")
    assert manifest.stages_done == ["plan", "analyze", "code"]
    assert manifest.stage("debug").status == "pending"


def test_single_stage_on_a_directory_that_is_no_run():
    with pytest.raises(InputError, match="not a papercoder run directory"):
        run_stage("plan", EXAMPLE_PAPER.parent, provider=echo_provider(), show_progress=False)


def test_stages_to_run_after_interruptions():
    manifest = Manifest()
    for stage in ("plan", "analyze", "code"):
        manifest.stage(stage).status = "done"
    assert stages_to_run(["plan", "analyze", "code", "debug"], manifest) == ["debug"]
    manifest.stage("debug").status = "interrupted"
    assert stages_to_run(["plan", "analyze", "code", "debug"], manifest) == ["code", "debug"]
    manifest.stage("analyze").status = "failed"
    assert stages_to_run(["plan", "analyze", "code", "debug"], manifest) == ["analyze", "code", "debug"]
    assert stages_to_run(["plan"], manifest, force=True) == ["plan"]
    for stage in ("analyze", "debug"):
        manifest.stage(stage).status = "done"
    manifest.stage("verify").status = "interrupted"  # it changed repo/ part way
    assert stages_to_run(["plan", "analyze", "code", "debug", "verify"], manifest) == ["code", "debug", "verify"]


def test_paper_slug_and_resume_command(tmp_path):
    assert paper_slug("examples/prototype-classifier.md") == "prototype-classifier"
    assert paper_slug("papers/My Paper (v2).PDF") == "my-paper-v2"
    assert paper_slug("arxiv:2504.17192v5") == "arxiv-2504.17192"
    assert paper_slug("https://arxiv.org/abs/2504.17192") == "arxiv-2504.17192"
    assert paper_slug("source.tar.gz") == "source"
    assert resume_command("a b.md", tmp_path / "r", ["plan", "analyze", "code", "debug", "verify"]) == (
        f"papercoder run 'a b.md' -o {tmp_path / 'r'} --resume"
    )
    assert resume_command("a.md", tmp_path / "r", ["plan"]).endswith("--resume --stages plan")


def test_cli_refuses_a_used_run_directory_in_one_line(tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "something").write_text("x")
    result = subprocess.run(
        [sys.executable, "-m", "papercoder", "run", PAPER, "-o", str(used)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: run directory") and "--resume" in lines[0]


def test_a_model_failure_keeps_the_work_and_says_how_to_continue(tmp_path):
    from papercoder.llm import LLMError

    provider = crashing_provider("CODE", after=2, error=LLMError("the server said no"))
    with pytest.raises(LLMError) as caught:
        run_paper(PAPER, out_dir=tmp_path / "run", provider=provider, concurrency=1, show_progress=False)
    message = str(caught.value)
    assert message.startswith("the server said no (work so far is kept in")
    assert message.endswith(f"continue with: papercoder run {PAPER} -o {tmp_path / 'run'} --resume)")
    assert Manifest.load(tmp_path / "run" / "manifest.json").stages_done == ["plan", "analyze"]


def test_a_model_that_cannot_be_opened_leaves_no_run_directory(tmp_path):
    from papercoder.errors import ConfigError

    with pytest.raises(ConfigError):
        run_paper(PAPER, out_dir=tmp_path / "run", model="nosuchprovider:model", show_progress=False)
    assert not (tmp_path / "run").exists()


def test_progress_bars_on_a_terminal_and_the_summary_table():
    import io

    from rich.console import Console

    from papercoder.run.progress import RunDisplay, print_summary
    from papercoder.run.stats import StageStats

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    live = {"code": StageStats(calls=3, input_tokens=1200, output_tokens=300, cost=0.25)}
    with RunDisplay(lambda stage: live.get(stage), console=console) as display:
        display.start("code")
        display.update("code", 2, 7)
        display.note("fit: something worth seeing")
    screen = out.getvalue()
    assert "2/7" in screen and "1,500 tok" in screen and "$0.2500" in screen and "fit: something worth seeing" in screen

    quiet = io.StringIO()
    with RunDisplay(lambda stage: None, console=Console(file=quiet, force_terminal=False), enabled=True) as display:
        display.update("code", 1, 2)
    assert quiet.getvalue() == ""

    table = io.StringIO()
    stages = {
        "fit": StageStats(),
        "plan": StageStats(calls=4, cached_calls=1, input_tokens=100, output_tokens=50, cost=0.5, seconds=2.0),
        "code": StageStats(calls=2, input_tokens=10, output_tokens=5, cost_unknown=True, seconds=1.0),
    }
    print_summary(stages, EXAMPLE_PAPER.parent, console=Console(file=table, width=120))  # a folder that exists
    lines = table.getvalue().splitlines()
    assert not any(line.strip().startswith("fit") for line in lines)  # no call, no row
    assert any(line.split()[:3] == ["plan", "4", "1"] and "$0.5000" in line for line in lines)
    assert any(line.split()[:1] == ["code"] and "unknown" in line for line in lines)
    assert any(line.split()[:2] == ["total", "6"] and "$0.5000 + unknown" in line for line in lines)
    assert lines[-1] == f"repository: {EXAMPLE_PAPER.parent}"
    header = next(line for line in lines if "calls" in line)
    assert header.split() == ["stage", "calls", "from", "log", "input", "cached", "input", "output", "cost", "call", "time"]
    missing = io.StringIO()
    print_summary(stages, EXAMPLE_PAPER.parent / "no-repo-yet", console=Console(file=missing, width=120))
    assert "repository:" not in missing.getvalue()  # --stages plan makes none: no path that does not exist


def test_on_a_pipe_each_stage_says_when_it_starts_and_ends(capsys):
    import io

    from rich.console import Console

    from papercoder.run.progress import RunDisplay
    from papercoder.run.stats import StageStats

    with RunDisplay(lambda stage: StageStats(calls=3, seconds=2.0), console=Console(file=io.StringIO(), force_terminal=False)) as display:
        display.start("plan")
        display.update("plan", 1, 2)
        display.finish("plan")
    assert capsys.readouterr().err.splitlines() == ["plan: started", "plan: finished (3 calls, 2 s)"]


def test_a_paper_too_long_for_the_window_is_fitted_logged_and_not_refitted_on_resume(tmp_path):
    provider = echo_provider(context_window=2048)  # budget: 40% of 2048 tokens, less than the paper
    result = run_paper(PAPER, out_dir=tmp_path / "run", provider=provider, stages=["plan"], show_progress=False)
    run = tmp_path / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["paper"]["tokens_read"] > manifest["paper"]["budget"] == 819
    assert manifest["paper"]["tokens_fitted"] <= 819 and len((run / "paper.md").read_text()) <= 819 * 4
    assert any("condensed" in step for step in manifest["paper"]["fit_steps"])
    assert "fit: condensed" in (run / "run.log").read_text()
    assert result.stages["fit"].calls == sum(1 for p in prompts_of(provider) if not p.startswith("PLAN"))
    assert manifest["totals"]["fit"]["calls"] == result.stages["fit"].calls > 0

    again = echo_provider(context_window=2048)
    run_paper(PAPER, out_dir=run, provider=again, resume=True, show_progress=False)
    assert not any(p.startswith("PLAN") or "<section>" in p for p in prompts_of(again))
