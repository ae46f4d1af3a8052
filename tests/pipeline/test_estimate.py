"""``run --dry-run`` and ``papercoder estimate``: the ranges hold what a run really spends.

The scripted model answers like a capable model on examples/prototype-classifier.md, so a run
through planning, analysis, coding and debugging gives real per-stage figures to hold against the
estimate made before it (wide ranges) and, for the stage left, after planning (narrower ones).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from tests.pipeline.run_answers import answer
from tests.pipeline.run_fixtures import EXAMPLE_PAPER
from typer.testing import CliRunner

from papercoder.cli import app
from papercoder.llm import ScriptedProvider
from papercoder.paper import read_paper
from papercoder.run import run_paper
from papercoder.run.estimate import estimate, estimate_run, format_estimate
from papercoder.tokens import estimate_tokens

STAGES = ["plan", "analyze", "code", "debug"]


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    provider = ScriptedProvider(answer)
    run = tmp_path_factory.mktemp("estimate") / "run"
    result = run_paper(str(EXAMPLE_PAPER), out_dir=run, provider=provider, stages=STAGES, show_progress=False)
    assert result.status == "done"
    return run, result, provider


def test_what_a_run_spends_lies_within_the_estimate_made_before_it(planned):
    _, result, provider = planned
    tokens = estimate_tokens(read_paper(str(EXAMPLE_PAPER)).to_markdown())
    before = {s.stage: s for s in estimate(paper_tokens=tokens, window=provider.context_window, stages=STAGES).stages}
    for stage in STAGES:
        spent, expected = result.stages[stage], before[stage]
        assert expected.calls[0] <= spent.calls <= expected.calls[1], stage
        assert expected.input[0] <= spent.input_tokens <= expected.input[1], stage
        assert expected.output[0] <= spent.output_tokens <= expected.output[1], stage
        assert expected.cached[0] <= expected.input[0]


def test_a_planned_run_is_estimated_with_what_planning_decided(planned, monkeypatch):
    run, _, _ = planned
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # an estimate needs no key: it calls no model
    result, name, notes = estimate_run(run, model="openai:gpt-4.1")
    assert name == "openai:gpt-4.1"
    assert [s.stage for s in result.stages] == ["verify"]  # the only default stage not run yet
    assert "7 planned files" in notes[0]
    verify = result.stages[0]
    low_cost, high_cost = verify.cost
    assert low_cost is not None and 0 < low_cost < high_cost  # gpt-4.1 has a known price
    text = format_estimate(result, model=name)
    assert "no model was called" in text and "7 planned files" in text


def test_dry_run_prints_ranges_per_stage_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(app, ["run", str(EXAMPLE_PAPER), "-m", "openai:gpt-4.1", "--dry-run"])
    assert out.exit_code == 0, out.output
    for stage in ("plan", "analyze", "code", "debug", "verify", "total"):
        assert any(line.startswith(stage) for line in out.output.splitlines()), stage
    assert "$" in out.output and "papercoder estimate RUN_DIR" in out.output
    assert list(tmp_path.iterdir()) == []


def test_estimate_of_a_directory_that_is_not_a_planned_run_says_so(tmp_path):
    out = subprocess.run([sys.executable, "-m", "papercoder", "estimate", str(tmp_path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "papercoder run PAPER" in out.stderr


def test_after_planning_the_narrower_estimate_still_holds_the_stages_left(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    run = tmp_path / "run"
    assert run_paper(str(EXAMPLE_PAPER), out_dir=run, provider=ScriptedProvider(answer), stages=["plan"],
                     show_progress=False).status == "done"
    after, _, _ = estimate_run(run, model="openai:gpt-4.1")
    before = estimate(paper_tokens=estimate_tokens(read_paper(str(EXAMPLE_PAPER)).to_markdown()), window=128_000)
    ranges = {s.stage: s for s in after.stages}
    assert set(ranges) == {"analyze", "code", "debug", "verify"}
    for stage in ranges.values():
        wide = next(s for s in before.stages if s.stage == stage.stage)
        assert stage.input[1] - stage.input[0] <= wide.input[1] - wide.input[0], stage.stage
    rest = run_paper(str(EXAMPLE_PAPER), out_dir=run, provider=ScriptedProvider(answer), stages=["analyze", "code", "debug"],
                     resume=True, show_progress=False)
    for name in ("analyze", "code", "debug"):
        spent, expected = rest.stages[name], ranges[name]
        assert expected.calls[0] <= spent.calls <= expected.calls[1], name
        assert expected.input[0] <= spent.input_tokens <= expected.input[1], name
        assert expected.output[0] <= spent.output_tokens <= expected.output[1], name


def test_dry_run_holds_a_run_over_http_with_a_prefix_cache(tmp_path, monkeypatch):
    """The user's path: the estimate of ``--dry-run`` for a server's model, then the run on it."""
    from papercoder.run.estimate import dry_run
    from papercoder.testing.fake_http import PrefixCache
    from papercoder.testing.fake_openai import FakeOpenAIServer

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("HOME", str(tmp_path))
    with FakeOpenAIServer(lambda body: answer(body["messages"]), prefix_cache=PrefixCache(), acts_as="vllm",
                          window=32_768) as server:
        expected, _, notes = dry_run(str(EXAMPLE_PAPER), model="openai:fake-model", base_url=server.base_url,
                                     stages=STAGES)
        spent = run_paper(str(EXAMPLE_PAPER), out_dir=tmp_path / "run", model="openai:fake-model",
                          base_url=server.base_url, stages=STAGES, show_progress=False)
    assert "32,768" in notes[0]
    for stage in expected.stages:
        real = spent.stages[stage.stage]
        assert stage.calls[0] <= real.calls <= stage.calls[1], stage.stage
        assert stage.input[0] <= real.input_tokens <= stage.input[1], (stage.stage, real.input_tokens, stage.input)
        assert stage.output[0] <= real.output_tokens <= stage.output[1], stage.stage
        # the low end's cost is a floor: it pays full price for no more input than the run did
        assert stage.input[0] - stage.cached[0] <= real.input_tokens - real.cached_input_tokens, stage.stage


def test_dry_run_follows_the_rounds_it_is_given(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(app, ["run", str(EXAMPLE_PAPER), "-m", "openai:gpt-4.1", "--dry-run",
                                   "--debug-iterations", "0", "--verify-rounds", "0"])
    assert out.exit_code == 0, out.output
    rows = {line.split()[0]: line.split() for line in out.output.splitlines() if line[:1].isalpha() and len(line.split()) > 5}
    assert rows["debug"][1] == "0"  # no repair round: no debug call, not even at the high end
    assert rows["verify"][1:4] == ["8", "-", "40"]  # every requirement judged once, nothing refined


def test_dry_run_counts_the_figures_a_vision_model_reads(tmp_path, monkeypatch):
    from tests.pipeline.test_figures_run import _png

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (tmp_path / "fig.png").write_bytes(_png((10, 10, 10), (1024, 1024)))
    (tmp_path / "main.tex").write_text("\\documentclass{article}\\begin{document}\\section{A}Text.\n"
                                       "\\begin{figure}\\includegraphics{fig}\\caption{The net.}\\end{figure}\\end{document}\n")

    def plan_row(model: str) -> tuple[list[str], str]:
        out = CliRunner().invoke(app, ["run", str(tmp_path), "-m", model, "--dry-run", "--stages", "plan"])
        assert out.exit_code == 0, out.output
        return next(line.split() for line in out.output.splitlines() if line.startswith("plan")), out.output

    seen, output = plan_row("openai:gpt-4.1")
    blind, blind_output = plan_row("openai:gpt-3.5-turbo")
    assert "1 figure(s) go to openai:gpt-4.1 in the planning turns and checklist requests, about 765 tokens each" in output
    assert "figure(s) go to" not in blind_output
    low = lambda row: int(row[4].replace(",", ""))  # noqa: E731  the input tokens' low end
    assert low(seen) == low(blind) + 5 * 765  # four conversation turns and one checklist request, each with the image
