"""grade --judge-eval: agreement of our judge with human grades, on a tiny case in JudgeEval's layout."""

from __future__ import annotations

import asyncio
import json
import tarfile

import pytest
from tests.evaluate.evalkit import SMALL_REPO, judge, make_repo

from papercoder.evaluate.judgeeval import agreement, find_cases, format_judge_eval, judge_eval


def test_agreement_matches_the_usual_definitions():
    m = agreement([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert m.accuracy == pytest.approx(0.6)
    # class 1: precision 2/3, recall 2/3; class 0: precision 1/2, recall 1/2
    assert m.precision == pytest.approx((2 / 3 + 1 / 2) / 2) and m.recall == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert m.f1 == pytest.approx((2 / 3 + 1 / 2) / 2)
    only_ones = agreement([1, 1], [0, 0])  # a class never predicted counts 0, as zero_division=0
    assert only_ones.accuracy == 0 and only_ones.f1 == 0


def _leaf(node_id, requirement, score):
    return {"id": node_id, "requirements": requirement, "weight": 1, "score": score, "valid_score": True,
            "task_category": "Code Development", "explanation": "human", "judge_metadata": None, "sub_tasks": []}


def _scripted(messages):
    system = messages[0]["content"]
    if system.startswith("You help a reviewer"):
        return "loss.py\nmodel.py"
    if system.startswith("The user message is a judge's answer"):
        text = messages[-1]["content"]
        return json.dumps({"valid_score": True, "score": int(text.rsplit("Score:", 1)[1]), "explanation": text[:30]})
    criterion = messages[-2]["content"].split("<criterion>")[1]
    return f"Looked at the files. Score: {int('softmax' in criterion)}"


def test_a_case_in_judgeeval_layout_is_graded_and_compared(tmp_path):
    papers = tmp_path / "papers" / "tiny"
    papers.mkdir(parents=True)
    (papers / "paper.md").write_text("# Tiny\n\n## Method\n\nA softmax over distances.\n")
    (papers / "judge.addendum.md").write_text("Grade the loss strictly.")
    case = tmp_path / "judge_eval" / "tiny" / "0"
    (case / "grading").mkdir(parents=True)
    repo = make_repo(tmp_path / "build" / "submission", SMALL_REPO)
    with tarfile.open(case / "submission.tar", "w") as tar:
        tar.add(repo, arcname="submission")
    expected = {"id": "root", "requirements": "Reproduce Tiny", "weight": 1, "score": 0.5, "valid_score": True,
                "task_category": None, "explanation": "", "judge_metadata": None, "sub_tasks": [
                    _leaf("a", "The loss is a softmax over negative distances", 1),
                    _leaf("b", "Dropout is applied", 0),
                    _leaf("c", "The encoder is a two-layer MLP", 1),
                ]}
    (case / "grading" / "expected_result.json").write_text(json.dumps(expected))
    assert find_cases(tmp_path / "judge_eval") == [case]
    llm = judge(_scripted)
    result = asyncio.run(judge_eval(tmp_path / "judge_eval", tmp_path / "papers", llm))
    assert result.overall.n == 3 and result.overall.accuracy == pytest.approx(2 / 3)
    assert result.cases[0]["score"] == pytest.approx(1 / 3) and result.cases[0]["human_score"] == 0.5
    assert "Code Development" in result.by_category
    judged = [c["request"].messages for c in llm.provider.calls if "Grade the loss strictly." in c["request"].messages[0]["content"]]
    assert len(judged) == 3  # the judge addendum of the paper reached every verdict
    assert "overall" in format_judge_eval(result)


def test_judge_eval_without_papers_is_one_clear_error(tmp_path):
    from typer.testing import CliRunner

    from papercoder.cli import app

    done = CliRunner().invoke(app, ["grade", "--judge-eval", str(tmp_path)])
    assert done.exit_code != 0 and "--papers" in str(done.exception)
