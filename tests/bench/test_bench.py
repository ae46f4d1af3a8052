"""``papercoder bench`` end to end on a small dataset in PaperBench's exact layout, against the fake
server: the table, two variants, a resume that makes no new call, a budget stop, a broken rubric
listed and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.verify.verify_answers import verify_answer
from tests.pipeline.run_fixtures import EXAMPLE_PAPER

from papercoder.bench.layout import read_papers, read_split
from papercoder.bench.variants import parse_variant
from papercoder.cli import app
from papercoder.errors import InputError
from papercoder.export.paperbench import check_submission
from papercoder.testing.fake_openai import FakeOpenAIServer


def _rubric(n: int) -> dict:
    """A rubric of ``n`` Code Development leaves about the example paper (and one of another category)."""
    leaves = [{"id": f"c{i}", "requirements": f"The code implements part {i} of the prototype classifier with a learned temperature",
               "weight": 1, "task_category": "Code Development", "sub_tasks": []} for i in range(n)]
    leaves.append({"id": "r", "requirements": "Table 1 is reproduced", "weight": 1, "task_category": "Result Analysis", "sub_tasks": []})
    return {"id": "root", "requirements": "Reproduce the paper", "weight": 1, "sub_tasks": leaves}


def make_dataset(root: Path) -> Path:
    """``data/papers/<id>/`` for three papers (one with a broken rubric) and ``experiments/splits/``."""
    papers = root / "data" / "papers"
    text = Path(EXAMPLE_PAPER).read_text()
    for paper_id, leaves in (("proto-a", 12), ("proto-b", 20), ("broken", 0)):
        folder = papers / paper_id
        folder.mkdir(parents=True)
        (folder / "paper.md").write_text(text)
        (folder / "addendum.md").write_text("Use the synthetic data of Section 2.1; no download is needed.\n")
        (folder / "judge.addendum.md").write_text("Grade the method's code, not its results.\n")
        (folder / "blacklist.txt").write_text("https://github.com/none/none\n")
        (folder / "config.yaml").write_text(f"id: {paper_id}\ntitle: Prototype classifiers ({paper_id})\n")
        (folder / "rubric.json").write_text(json.dumps(_rubric(leaves)) if leaves else "{not json")
    splits = root / "experiments" / "splits"
    splits.mkdir(parents=True)
    (splits / "dev.txt").write_text("proto-a\nproto-b\nbroken\n")
    (splits / "lite.txt").write_text("proto-a\n")
    return papers


def reply(body: dict) -> str:
    """The pipeline's scripted answers, and a PaperBench-protocol grader that passes every other leaf."""
    messages = body["messages"]
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    if system.startswith("You help a reviewer"):
        return "model.py\ntrain.py\nmain.py"
    if system.startswith("The user message is a judge's answer"):
        verdict = messages[-1]["content"]
        return json.dumps({"valid_score": True, "score": int(verdict.rsplit("Score:", 1)[1].strip()[0]), "explanation": "read"})
    if any("<criterion>" in m["content"] for m in messages):
        criterion = messages[-2]["content"].split("<criterion>")[1] if len(messages) > 1 else messages[-1]["content"]
        number = int("".join(ch for ch in criterion.split("part ", 1)[-1][:3] if ch.isdigit()) or 0)
        return f"I looked for it in model.py. Score: {1 if number % 2 == 0 else 0}"
    return verify_answer(messages)  # the pipeline's scripted answers, verify's reviewer and editor included


def test_the_layout_is_read_with_its_splits_and_a_broken_paper_is_listed(tmp_path):
    papers_dir = make_dataset(tmp_path)
    papers = read_papers(papers_dir, read_split("dev", tmp_path / "experiments" / "splits"))
    assert [p.id for p in papers] == ["proto-a", "proto-b", "broken"]
    assert papers[0].leaves == 12 and papers[0].title == "Prototype classifiers (proto-a)" and papers[0].addendum
    assert "rubric does not parse" in papers[2].problem
    with pytest.raises(InputError, match="no split 'nope'.*there: dev, lite"):
        read_split("nope", tmp_path / "experiments" / "splits")
    with pytest.raises(InputError, match="holds no PaperBench paper folders"):
        read_papers(tmp_path)


@pytest.mark.parametrize("spec, message", [
    ('fast="--analysis-group"', "needs a value"), ('fast="--warp 9"', "unknown option"), ("no-equals", "NAME="),
    ('x="--analysis-group two"', "takes a int"),
])
def test_a_bad_variant_is_one_line(spec, message):
    with pytest.raises(InputError, match=message):
        parse_variant(spec)


def test_bench_tabulates_two_variants_resumes_without_a_call_and_stops_at_its_budget(tmp_path, monkeypatch):
    papers_dir = make_dataset(tmp_path)
    out = tmp_path / "out"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-bench-test-key")
    runner = CliRunner()
    with FakeOpenAIServer(reply, models=("fake-model",)) as server:
        argv = ["bench", str(papers_dir), "-o", str(out), "--split", "dev", "-m", "openai:fake-model", "--base-url", server.base_url,
                "--judge-model", "openai:fake-model", "--judge-base-url", server.base_url,
                "--variant", "default=", "--variant", 'paper="--analysis-group 1 --stages plan,analyze,code"']
        first = runner.invoke(app, argv)
        calls = len(server.requests)
        again = runner.invoke(app, argv)
        assert len(server.requests) == calls  # the resumed benchmark asks nothing
        # a priced model and a budget far below one paper's cost: the run stops at the budget, said so
        stopped = runner.invoke(app, ["bench", str(papers_dir), "-o", str(tmp_path / "out2"), "--papers", "proto-a",
                                      "-m", "openai:gpt-4.1", "--base-url", server.base_url, "--judge-model", "openai:fake-model",
                                      "--judge-base-url", server.base_url, "--max-cost", "0.001"])
    assert first.exit_code == 1 and "broken" in first.output  # the broken paper is listed, the others ran
    results = json.loads((out / "results.json").read_text())
    for name in ("default", "paper"):
        papers = results["variants"][name]["papers"]
        assert papers["proto-a"]["graded"] == 1 and papers["proto-a"]["mean"] == pytest.approx(6 / 12)
        assert papers["proto-b"]["mean"] == pytest.approx(10 / 20)
    assert results["variants"]["paper"]["difference"]["mean"] == pytest.approx(0.0)
    summary = (out / "summary.md").read_text()
    assert "reference, not measured here" in summary and "**overall**" in summary and "50.0" in summary
    assert "already done" in again.output
    for submission in out.glob("*/*/seed-1/submission"):
        assert check_submission(submission) == []  # what PaperBench's own grader would take
    assert stopped.exit_code == 1 and "budget" in stopped.output, stopped.output
    record = json.loads((tmp_path / "out2" / "records" / "default" / "proto-a-1.json").read_text())
    assert record["score"] is None and "budget" in record["error"] and not record.get("complete")


def test_bench_on_a_local_ray_instance_grades_the_same(tmp_path, monkeypatch):
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'papercoder[ray]')")
    from tests.batch.test_ray_batch import RAY_TEST_ENV

    from papercoder.bench.driver import BenchOptions, run_bench
    from papercoder.bench.variants import Variant

    for name, value in RAY_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-bench-test-key")
    papers = read_papers(make_dataset(tmp_path), ["proto-a"])
    with FakeOpenAIServer(reply, models=("fake-model",)) as server:
        options = BenchOptions(out=tmp_path / "out", variants=[Variant("fast", {"stages": "plan,analyze,code"})],
                               model="openai:fake-model", base_url=server.base_url, judge_model="openai:fake-model",
                               judge_base_url=server.base_url, executor="ray")
        results = run_bench(papers, options)
    assert results["variants"]["fast"]["papers"]["proto-a"]["mean"] == pytest.approx(0.5)


def test_bench_puts_the_graders_f1_on_human_grades_beside_the_scores(tmp_path, monkeypatch):
    import tarfile

    from tests.evaluate.evalkit import SMALL_REPO, make_repo

    papers_dir = make_dataset(tmp_path)
    case = tmp_path / "judge_eval" / "proto-a" / "0"
    (case / "grading").mkdir(parents=True)
    repo = make_repo(tmp_path / "build" / "submission", SMALL_REPO)
    with tarfile.open(case / "submission.tar", "w") as tar:
        tar.add(repo, arcname="submission")
    leaves = [{"id": f"h{i}", "requirements": f"The code implements part {i} of the method", "weight": 1, "score": int(i % 2 == 0),
               "valid_score": True, "task_category": "Code Development", "explanation": "human", "judge_metadata": None,
               "sub_tasks": []} for i in range(4)]
    (case / "grading" / "expected_result.json").write_text(json.dumps(
        {"id": "root", "requirements": "r", "weight": 1, "score": 0.5, "valid_score": True, "task_category": None,
         "explanation": "", "judge_metadata": None, "sub_tasks": leaves}))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-bench-test-key")
    with FakeOpenAIServer(reply, models=("fake-model",)) as server:
        result = CliRunner().invoke(app, [
            "bench", str(papers_dir), "-o", str(tmp_path / "out"), "--papers", "proto-a", "-m", "openai:fake-model",
            "--base-url", server.base_url, "--judge-model", "openai:fake-model", "--judge-base-url", server.base_url,
            "--variant", 'fast="--stages plan,analyze,code"', "--judge-eval", str(tmp_path / "judge_eval")])
    assert result.exit_code == 0, result.output
    assert "on PaperBench's human-graded cases: F1 1.00" in (tmp_path / "out" / "summary.md").read_text()
    assert json.loads((tmp_path / "out" / "results.json").read_text())["judge_eval"]["overall"]["f1"] == pytest.approx(1.0)
