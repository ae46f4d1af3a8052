"""The PaperBench-protocol judge against the fake OpenAI server: what each leaf is sent, in which
order, what is parsed, and how the tree is aggregated."""

from __future__ import annotations

import asyncio
import json
import os
import time

from tests.evaluate.evalkit import PAPER, SMALL_REPO, make_repo

from papercoder.rubric import RubricNode
from papercoder.evaluate.paperbench import grade_paperbench
from papercoder.llm import open_model
from papercoder.config import Config
from papercoder.testing.fake_openai import FakeOpenAIServer

RUBRIC = RubricNode("root", "Reproduce the paper", sub_tasks=[
    RubricNode("m", "The method", weight=2, sub_tasks=[
        RubricNode("m1", "The prototype loss is a softmax over negative squared distances", task_category="Code Development"),
        RubricNode("m2", "The encoder is a two-layer MLP with dropout", task_category="Code Development"),
    ]),
    RubricNode("x", "The experiments", sub_tasks=[
        RubricNode("x1", "Training has been run for 10 epochs", task_category="Code Execution"),
        RubricNode("x2", "The accuracy of Table 1 is reproduced", task_category="Result Analysis"),
    ]),
])


def _kind(messages):
    system = messages[0]["content"]
    if system.startswith("You help a reviewer"):
        return "rank"
    if system.startswith("The user message is a judge's answer"):
        return "parse"
    return "judge"


def _reply(body):
    messages = body["messages"]
    kind = _kind(messages)
    if kind == "rank":
        return "loss.py\n2. model.py\n- `README.md`\nnot-a-file.py"
    if kind == "judge":
        criterion = messages[-2]["content"].split("<criterion>")[1]
        met = "softmax" in criterion or "10 epochs" in criterion
        return f"I expected the code to do this. The submission does {'it' if met else 'not'}. Score: {int(met)}"
    answer = messages[-1]["content"]
    if "Score:" not in answer:
        return json.dumps({"valid_score": False, "score": 0, "explanation": "no score"})
    return json.dumps({"valid_score": True, "score": int(answer.rsplit("Score:", 1)[1]), "explanation": answer[:40]})


def _grade(repo, server, **kw):
    llm = open_model("openai:gpt-4.1", base_url=server.base_url, config=Config(), quiet=True)

    async def go():
        try:
            return await grade_paperbench(repo, PAPER, RUBRIC, llm, **kw)
        finally:
            await llm.aclose()

    return asyncio.run(go())


def test_code_dev_mode_ranks_files_judges_in_free_text_and_parses(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    repo = make_repo(tmp_path / "repo", {**SMALL_REPO, "reproduce.sh": "python train.py\n"})
    with FakeOpenAIServer(_reply) as server:
        result = _grade(repo, server, code_dev=True, addendum="Use the held-out split.", judge_addendum="Be strict about MLP depth.")
        bodies = [r.body for r in server.requests]
    kinds = [_kind(b["messages"]) for b in bodies]
    assert kinds == ["rank", "judge", "parse"] * 2  # the first leaf alone, then the other
    rank, judge = bodies[0]["messages"], bodies[1]["messages"]
    assert [m["role"] for m in rank] == ["system", "user", "user", "user"]
    assert "<paper>" in rank[1]["content"] and "Use the held-out split." in rank[2]["content"]
    assert "├── " in rank[3]["content"] and "loss.py" in rank[3]["content"] and "10 files" in rank[3]["content"]
    # system, paper, addendum, files, criterion, grading: no reproduce.sh in Code-Dev mode
    assert len(judge) == 6 and "Be strict about MLP depth." in judge[0]["content"]
    assert judge[3]["content"].index('path="loss.py"') < judge[3]["content"].index('path="model.py"')
    assert "reproduce.sh" not in judge[3]["content"] + judge[4]["content"]
    criterion = judge[4]["content"]
    assert "-> Reproduce the paper" in criterion and "-> The method" in criterion and "Code Development" in criterion
    assert "code" in criterion.lower() and "The prototype loss" in criterion
    second = bodies[4]["messages"][4]["content"]
    assert "-> The prototype loss is a softmax" in second  # an earlier sibling is a preceding node
    assert {i: g.score for i, g in result.grades.items()} == {"m1": 1, "m2": 0}
    assert result.total == 0.5 and result.grades["m1"].files == ["loss.py", "model.py", "README.md"]


def test_full_mode_sends_the_log_to_execution_leaves_and_results_need_files_the_run_wrote(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    repo = make_repo(tmp_path / "repo", {**SMALL_REPO, "reproduce.sh": "python train.py\n", "reproduce.log": "epoch 10 done\n",
                                         "reproduce.log.creation_time": str(time.time() - 5), "old.csv": "a\n"})
    past = time.time() - 3600
    for path in repo.rglob("*"):  # the code and old.csv were there before reproduce.sh ran
        os.utime(path, (past, past))
    with FakeOpenAIServer(_reply) as server:
        result = _grade(repo, server, code_dev=False)
        bodies = [r.body for r in server.requests]
    judged = [b["messages"] for b in bodies if _kind(b["messages"]) == "judge"]
    assert len(judged) == 3  # the Result Analysis leaf is scored without a call: the run wrote no results
    execution = next(m for m in judged if "10 epochs" in m[-2]["content"].split("<criterion>")[1])
    assert any("<reproduce.log>" in m["content"] and "epoch 10 done" in m["content"] for m in execution)
    development = next(m for m in judged if "prototype loss" in m[-2]["content"].split("<criterion>")[1])
    assert any("<reproduce.sh>" in m["content"] for m in development)
    assert not any("<reproduce.log>" in m["content"] for m in development)
    assert result.grades["x2"].score == 0 and "wrote no files" in result.grades["x2"].explanation
    # root = (2 * 0.5 + 1 * (1 + 0) / 2) / 3
    assert abs(result.total - 0.5) < 1e-9


def test_an_answer_without_a_score_is_invalid_and_scores_0(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")

    def vague(body):
        if _kind(body["messages"]) == "judge":
            return "It is hard to say."
        return _reply(body)

    repo = make_repo(tmp_path / "repo", SMALL_REPO)
    with FakeOpenAIServer(vague) as server:
        result = _grade(repo, server, code_dev=True)
    assert all(not g.valid and g.score == 0 for g in result.grades.values()) and result.total == 0


def test_result_leaves_read_docs_and_the_files_the_run_wrote(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    repo = make_repo(tmp_path / "repo", {**SMALL_REPO, "reproduce.sh": "python train.py\n", "reproduce.log": "done\n"})
    past = time.time() - 3600
    for path in repo.rglob("*"):
        os.utime(path, (past, past))
    (repo / "reproduce.log.creation_time").write_text(str(time.time() - 60))
    (repo / "results.csv").write_text("accuracy,0.9\n")  # written by the run
    with FakeOpenAIServer(_reply) as server:
        _grade(repo, server, code_dev=False)
        bodies = [r.body["messages"] for r in server.requests]
    ranking = next(m for m in bodies if _kind(m) == "rank" and "Table 1" in m[-1]["content"])
    tree = ranking[-1]["content"]
    assert "results.csv" in tree and "README.md" in tree and "loss.py" not in tree and "config.yaml" not in tree
    judged = next(m for m in bodies if _kind(m) == "judge" and "Table 1" in m[-2]["content"].split("<criterion>")[1])
    assert "modified or created" in judged[3]["content"]
