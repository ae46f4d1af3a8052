"""The correctness judge end to end with a scripted model: samples, aggregation, packing."""

import asyncio
import json
import statistics

import pytest

from papercoder.evaluate.files import collect_files
from papercoder.evaluate.paper2code import evaluate_repo
from papercoder.llm import FakeReply, LLMError
from papercoder.tokens import estimate_tokens

from tests.evaluate.evalkit import PAPER, judge, make_repo


def verdict(score, *critiques):
    items = ", ".join(
        f'{{"file": "{f}", "function": "{fn}", "severity": "{sev}", "critique": "{text}"}}'
        for f, fn, sev, text in critiques
    )
    return f'{{"critiques": [{items}], "score": {score}}}'


def test_n_samples_are_distinct_calls_and_aggregate(small_repo):
    replies = [
        verdict(4, ("loss.py", "prototype_loss", "medium", "no temperature")),
        verdict(3, ("loss.py", "prototype_loss", "medium", "no temperature"), ("train.py", "train", "high", "no epochs loop")),
        "I would give it a four.",  # no JSON: invalid
        verdict(6),  # out of range: invalid
        verdict(5),
        FakeReply(text='{"critiques": [', finish_reason="length"),  # cut: invalid
    ]
    llm = judge(replies)
    result = asyncio.run(evaluate_repo(small_repo, PAPER, llm, n=6))
    calls = llm.provider.calls
    assert len(calls) == 6
    assert sorted(c["request"].sample for c in calls) == list(range(6))
    s = result.summary
    assert (s.valid, s.invalid) == (3, 3)
    assert s.mean == pytest.approx(4.0)
    assert s.std == pytest.approx(statistics.stdev([4, 3, 5]))
    assert any("outside 1-5" in r for r in s.invalid_reasons)
    assert any("cut at the output limit" in r for r in s.invalid_reasons)
    # critiques: the high one first, the repeated one counted twice
    assert result.critiques[0]["severity"] == "high"
    assert result.critiques[1]["samples"] == 2
    assert result.mode == "reference-free"
    assert result.usage.calls == 6 and result.usage.failed == 0
    data = result.to_dict()
    assert data["score"]["valid"] == 3 and len(data["verdicts"]) == 6


def test_by_default_the_judge_sees_code_and_config_not_the_readme(small_repo):
    llm = judge(lambda messages: verdict(4))
    result = asyncio.run(evaluate_repo(small_repo, PAPER, llm, n=1))
    prompt = llm.provider.calls[0]["request"].messages[-1]["content"]
    assert "File: model.py" in prompt and "File: config.yaml" in prompt and "File: README.md" not in prompt
    assert result.skipped["README.md"].startswith("not judged: documentation")


def test_prompt_holds_paper_and_every_file_when_it_fits(small_repo):
    llm = judge(lambda messages: verdict(4))
    result = asyncio.run(evaluate_repo(small_repo, PAPER, llm, n=2, all_files=True))
    prompt = llm.provider.calls[0]["request"].messages[-1]["content"]
    assert "Prototype Networks for Tiny Classification" in prompt
    assert "Long appendix text" in prompt  # nothing cut when it fits
    for name in ("model.py", "loss.py", "train.py", "config.yaml", "README.md"):
        assert f"File: {name}" in prompt
    assert result.omitted == [] and result.notes == []
    # code first, then configuration, then prose
    assert result.included.index("config.yaml") > result.included.index("train.py")
    assert result.included[-1] == "README.md"


def test_reference_based_mode_shows_the_authors_code(small_repo, tmp_path):
    gold = make_repo(tmp_path / "gold", {"official_proto.py": "def official_prototypes():\n    pass\n"})
    llm = judge(lambda messages: verdict(2))
    result = asyncio.run(evaluate_repo(small_repo, PAPER, llm, reference=gold, n=1))
    request = llm.provider.calls[0]["request"]
    assert "official_proto.py" in request.messages[-1]["content"]
    assert "authors' implementation" in request.messages[0]["content"]
    assert result.mode == "reference-based" and result.reference_included == ["official_proto.py"]


def test_a_repository_too_large_for_the_context_keeps_the_most_relevant_files(tmp_path):
    filler = "\n".join(f"def unrelated_helper_{i}(value):\n    return value * {i}" for i in range(150))
    files = {f"utils/helper_{i}.py": filler for i in range(12)}
    files["prototype_loss.py"] = "def prototype_loss(embeddings, prototypes):\n    return softmax(-squared_distance(embeddings, prototypes))\n"
    repo = make_repo(tmp_path / "big", files)
    window = 12_000
    llm = judge(lambda messages: verdict(3), context_window=window)
    result = asyncio.run(evaluate_repo(repo, PAPER, llm, n=1))
    assert result.included[0] == "prototype_loss.py"
    assert result.omitted, "some helpers must have been left out"
    assert set(result.included) | set(result.omitted) == set(files)
    assert any("left out" in note for note in result.notes)
    request = llm.provider.calls[0]["request"]
    prompt = "".join(m["content"] for m in request.messages)
    assert estimate_tokens(prompt) + request.max_tokens <= window
    assert f"File: {result.omitted[0]}" not in prompt
    assert result.omitted[0] in prompt  # named in the note to the judge


def test_the_paper_is_cut_appendix_first_when_it_alone_is_too_long(small_repo):
    llm = judge(lambda messages: verdict(3), context_window=1200)
    result = asyncio.run(evaluate_repo(small_repo, PAPER, llm, n=1))
    assert any("appendix" in note for note in result.notes)
    assert "Long appendix text" not in llm.provider.calls[0]["request"].messages[-1]["content"]


def test_one_failed_call_is_an_invalid_sample_but_all_failing_raises(small_repo):
    boom = FakeReply(error=LLMError("server said no"))
    result = asyncio.run(evaluate_repo(small_repo, PAPER, judge([verdict(4), boom]), n=2))
    assert (result.summary.valid, result.summary.invalid) == (1, 1)
    assert result.usage.failed == 1
    with pytest.raises(LLMError, match="server said no"):
        asyncio.run(evaluate_repo(small_repo, PAPER, judge(lambda m: boom), n=3))


def test_file_filters(tmp_path):
    repo = make_repo(tmp_path / "r", {
        "src/model.py": "x = 1\n",
        "run.sh": "python train.py\n",
        "configs/a.yml": "a: 1\n",
        "small.json": '{"a": 1}',
        "big.json": '{"a": "' + "x" * 30_000 + '"}',
        "requirements.txt": "torch\n",
        "notes.txt": "not code\n",
        "weights.pt": b"\x00\x01binary",
        "image.png": b"\x89PNG\x00",
        "fake.py": b"\x00\x00\x00 binary disguised",
        "huge.py": "# " + "y" * 200_000,
        ".git/config": "[core]\n",
        ".venv/lib/x.py": "x = 2\n",
        "myenv/pyvenv.cfg": "home = /usr\n",
        "myenv/lib/y.py": "y = 3\n",
        "__pycache__/m.py": "z = 1\n",
        "pkg.egg-info/PKG-INFO.md": "meta\n",
        ".papercoder/eval/eval.json": "{}",
    })
    found = collect_files(repo)
    assert [f.path for f in found.files] == [
        "configs/a.yml", "requirements.txt", "run.sh", "small.json", "src/model.py",
    ]
    assert found.skipped["big.json"].startswith("too large")
    assert found.skipped["huge.py"].startswith("too large")
    assert found.skipped["fake.py"] == "binary"
    with_logs = collect_files(repo, include_logs=True)
    assert "notes.txt" in [f.path for f in with_logs.files]


def test_eval_cli_reports_and_writes_json_next_to_a_run(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from papercoder.cli import app
    from papercoder.evaluate import inputs

    run_dir = tmp_path / "runs" / "proto"
    repo = make_repo(run_dir / "repo", {"loss.py": "def prototype_loss(): pass\n"})
    (run_dir / "manifest.json").write_text("{}")
    replies = iter([verdict(5, ("loss.py", "prototype_loss", "high", "empty body")), verdict(3), "no idea", verdict(0)])
    opened = {}

    def open_judge(model, **kwargs):
        opened.update(kwargs, model=model)
        return judge(lambda messages: next(replies))

    monkeypatch.setattr(inputs, "open_judge", open_judge)
    monkeypatch.setattr(inputs, "load_paper", lambda source: PAPER)
    result = CliRunner().invoke(app, ["eval", str(repo), "--paper", "p.md", "-n", "4", "-m", "fake:judge"])
    assert result.exit_code == 0, result.output
    assert "score: 4.00 / 5  (std 1.41; 2 valid, 2 invalid)" in result.output
    assert "[high] loss.py :: prototype_loss: empty body" in result.output
    saved = json.loads((run_dir / "eval" / "eval.json").read_text())
    assert saved["score"]["mean"] == 4 and saved["score"]["invalid"] == 2 and saved["samples"] == 4
    assert opened["model"] == "fake:judge" and opened["log_path"] == run_dir / "eval" / "calls.sqlite"
    assert (run_dir / "eval" / "eval.md").is_file()


def test_eval_cli_errors_are_one_line(tmp_path):
    import subprocess
    import sys

    missing = tmp_path / "nowhere"
    done = subprocess.run([sys.executable, "-m", "papercoder", "eval", str(missing), "--paper", "p.md"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [f"error: repository {missing} does not exist; give the folder of the code to judge"]


def test_a_rerun_is_answered_from_the_call_log(small_repo, tmp_path):
    calllog = pytest.importorskip("papercoder.llm.calllog")
    from papercoder.llm import LLM, ScriptedProvider

    def fresh(replies):
        return LLM(ScriptedProvider(replies=replies), log=calllog.CallLog(tmp_path / "calls.sqlite"))

    first = asyncio.run(evaluate_repo(small_repo, PAPER, fresh([verdict(4), verdict(2), "junk"]), n=3))
    again_llm = fresh([])  # no replies left: any real call would fail the test
    again = asyncio.run(evaluate_repo(small_repo, PAPER, again_llm, n=3))
    assert again_llm.provider.calls == []
    assert again.usage.cached == 3 and again.usage.calls == 0
    assert again.summary.scores == first.summary.scores and again.summary.invalid == 1


def test_an_answer_cut_after_a_whole_verdict_still_counts(small_repo):
    rambling = FakeReply(text=verdict(2) + "\nAnd furthermore, let me explain at length why", finish_reason="length")
    result = asyncio.run(evaluate_repo(small_repo, PAPER, judge([rambling]), n=1))
    assert result.summary.valid == 1 and result.summary.mean == 2


def test_results_go_next_to_a_run_or_inside_any_other_repository(tmp_path):
    from papercoder.evaluate.inputs import check_repo
    from papercoder.evaluate.report import results_dir

    run_dir = tmp_path / "run"
    make_repo(run_dir / "repo", {"a.py": "x = 1\n"})
    (run_dir / "manifest.json").write_text("{}")
    assert check_repo(run_dir) == run_dir / "repo"  # a run directory means its repo/
    assert results_dir(check_repo(run_dir)) == (run_dir / "eval").resolve()
    plain = make_repo(tmp_path / "plain", {"a.py": "x = 1\n"})
    assert results_dir(plain) == (plain / ".papercoder" / "eval").resolve()
    assert results_dir(plain, tmp_path / "out") == tmp_path / "out"


@pytest.mark.parametrize("window, wanted, expected", [(8192, 4096, 2048), (8192, 1024, 1024), (128_000, 1024, 8000), (1000, 4096, 256)])
def test_answer_reserve_grows_with_the_window_but_never_past_a_quarter(window, wanted, expected):
    from papercoder.evaluate.judgecontext import make_budget

    budget = make_budget(window, answer_tokens=wanted, overhead_text="x" * 400)
    assert budget.output == expected
    assert budget.available == max(0, window - expected - 100 - 64)


def test_an_openai_judge_draws_the_n_samples_in_one_request_and_a_rerun_reads_them_from_the_log(small_repo, tmp_path):
    import json as _json

    from papercoder.llm import calllog
    from papercoder.llm.models import open_model
    from papercoder.testing.fake_openai import FakeOpenAIServer

    def verdict(score):
        return _json.dumps({"critique_list": [{"file_name": "model.py", "func_name": "forward", "severity_level": "low",
                                                "critique": f"sample {score}"}], "score": score})

    answers = [verdict(4), verdict(5), "not a verdict at all", verdict(3)]
    with FakeOpenAIServer(answers) as server:
        llm = open_model("openai:o3-mini", base_url=server.base_url, log_path=tmp_path / "calls.sqlite")
        result = asyncio.run(evaluate_repo(small_repo, PAPER, llm, n=4))
        assert len(server.requests) == 1 and server.requests[0].body["n"] == 4
    assert result.summary.valid == 3 and result.summary.invalid == 1 and result.summary.mean == 4.0
    assert result.usage.calls == 1  # the prompt was sent, and billed, once
    with FakeOpenAIServer([]) as server:  # a rerun asks nothing
        llm = open_model("openai:o3-mini", base_url=server.base_url, log_path=tmp_path / "calls.sqlite")
        again = asyncio.run(evaluate_repo(small_repo, PAPER, llm, n=4))
        assert server.requests == []
    assert again.summary.scores == result.summary.scores and again.usage.cached == 1
    with calllog.CallLog(tmp_path / "calls.sqlite") as log:
        assert log.schema_version() == 2


def test_a_short_reply_of_fewer_answers_than_asked_counts_the_missing_ones_invalid():
    from papercoder.evaluate.calls import CallOutcome, split_choices
    from papercoder.llm import Completion

    first = Completion(text="a", others=[("b", "length")])
    outcomes = split_choices(CallOutcome(text="a", completion=first), 4)
    assert [o.text for o in outcomes[:2]] == ["a", "b"] and outcomes[1].truncated
    assert all("2 of the 4 answers" in o.error for o in outcomes[2:])
