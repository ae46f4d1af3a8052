"""Grading against rubric trees with a scripted judge, down to the CLI on PaperBench's real rubric."""

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.evaluate.evalkit import PAPER, SMALL_REPO, judge, make_repo
from papercoder.cli import app
from papercoder.evaluate import inputs
from papercoder.evaluate.lexical import grade_repo
from papercoder.rubric import node_from_dict
from papercoder.tokens import estimate_tokens

REAL_RUBRIC = Path(__file__).resolve().parents[3] / "shared" / "rubrics" / "stochastic-interpolants.rubric.json"
if not REAL_RUBRIC.exists():
    REAL_RUBRIC = Path("/work/shared/rubrics/stochastic-interpolants.rubric.json")
START, END = "# The requirement to grade\n\n", "\n\nGive your JSON verdict"


def requirement_of(messages) -> str:
    text = messages[-1]["content"]
    return text[text.index(START) + len(START): text.index(END)].strip()


def passes(requirement: str) -> bool:
    return hashlib.sha256(requirement.encode()).digest()[0] % 2 == 0


def hash_judge(messages):
    verdict = 1 if passes(requirement_of(messages)) else 0
    return json.dumps({"explanation": f"decided by hash ({verdict})", "score": verdict})


def hand_score(node: dict, code_dev: bool) -> float | None:
    """PaperBench's arithmetic written out independently: None for a pruned subtree."""
    if not node["sub_tasks"]:
        if code_dev and node["task_category"] != "Code Development":
            return None
        return 1.0 if passes(node["requirements"].strip()) else 0.0
    parts = [(hand_score(c, code_dev), c["weight"]) for c in node["sub_tasks"]]
    parts = [(s, w) for s, w in parts if s is not None]
    if not parts:
        return None
    total = sum(w for _, w in parts)
    return sum(s * w for s, w in parts) / total if total else 0.0


@pytest.fixture
def scripted(monkeypatch):
    """Route the CLI's judge and paper to stand-ins; return what the judge was opened with."""
    opened = {}

    def open_judge(model, **kwargs):
        opened.update(kwargs, model=model)
        opened["llm"] = judge(hash_judge, concurrency=8)
        return opened["llm"]

    monkeypatch.setattr(inputs, "open_judge", open_judge)
    monkeypatch.setattr(inputs, "load_paper", lambda source: PAPER)
    return opened


@pytest.mark.skipif(not REAL_RUBRIC.exists(), reason="the shared PaperBench rubric is not on this machine")
@pytest.mark.parametrize("code_dev", [False, True])
def test_grade_cli_on_the_real_rubric_matches_a_hand_computation(tmp_path, scripted, code_dev):
    repo = make_repo(tmp_path / "repo", SMALL_REPO)
    args = ["grade", str(repo), "--rubric", str(REAL_RUBRIC), "--paper", "paper.md", "--judge", "lexical"] + (["--code-dev"] if code_dev else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    raw = json.loads(REAL_RUBRIC.read_text())
    expected = hand_score(raw, code_dev)
    assert 0 < expected < 1
    kind = "Code-Dev score" if code_dev else "score"
    assert f"{kind}: {expected * 100:.2f}%" in result.output
    assert "[PASS]" in result.output and "[FAIL]" in result.output
    assert raw["requirements"][:40] in result.output  # the tree is printed from its root
    assert "-> decided by hash" not in result.output
    leaves = 58 if code_dev else 69
    assert len(scripted["llm"].provider.calls) == leaves
    saved = json.loads(next((repo / ".papercoder" / "eval").glob("grade-*.json")).read_text())
    assert saved["total"] == pytest.approx(expected)
    assert saved["leaves"] == leaves and saved["code_dev"] is code_dev
    assert scripted["log_path"] == repo / ".papercoder" / "eval" / "calls.sqlite"
    explained = CliRunner().invoke(app, args + ["--explain", "--depth", "2"])
    assert explained.exit_code == 0 and "-> decided by hash (" in explained.output
    assert len(explained.output.splitlines()) < len(result.output.splitlines())


def test_each_leaf_sees_the_files_relevant_to_it(tmp_path):
    repo = make_repo(tmp_path / "repo", {
        "fid.py": "def frechet_inception_distance(real, fake):\n    return trace_term(real, fake)\n",
        "unet.py": "class UNet:\n    def downsample(self, x):\n        return x\n",
        "filler.py": "\n".join(f"def filler_{i}(): return {i}" for i in range(400)),
    })
    rubric = node_from_dict({
        "id": "root", "requirements": "Replicate the paper", "weight": 1, "task_category": None, "sub_tasks": [
            {"id": "fid", "requirements": "The Frechet Inception Distance (FID) metric has been implemented",
             "weight": 1, "task_category": "Code Development", "sub_tasks": []},
            {"id": "unet", "requirements": "The UNet architecture with downsample blocks has been implemented",
             "weight": 3, "task_category": "Code Development", "sub_tasks": []},
        ]})
    seen = {}

    def script(messages):
        req = requirement_of(messages)
        seen[req] = messages[-1]["content"]
        return json.dumps({"explanation": "ok", "score": 1 if "FID" in req else 0})

    llm = judge(script, context_window=3000)
    result = asyncio.run(grade_repo(repo, PAPER, rubric, llm))
    assert result.grades["fid"].files[0] == "fid.py"
    assert result.grades["unet"].files[0] == "unet.py"
    assert result.grades["fid"].omitted >= 1  # the filler did not fit a 3000-token window
    for call in llm.provider.calls:
        request = call["request"]
        assert estimate_tokens("".join(m["content"] for m in request.messages)) + request.max_tokens <= 3000
    assert result.total == pytest.approx(1 / 4)  # (1*1 + 0*3) / 4
    roomy = asyncio.run(grade_repo(repo, PAPER, rubric, judge(script, context_window=128_000)))
    assert roomy.grades["fid"].files == ["fid.py"]  # files sharing no term with the requirement stay out
    assert roomy.grades["fid"].omitted == 2
    assert "filler.py" in seen["The Frechet Inception Distance (FID) metric has been implemented"]  # named, not shown
    capped = asyncio.run(grade_repo(repo, PAPER, rubric, judge(script, context_window=128_000), files_tokens=10))
    assert all(g.files == [] for g in capped.grades.values())


def test_invalid_leaf_answers_score_zero_and_are_counted(tmp_path):
    repo = make_repo(tmp_path / "repo", SMALL_REPO)
    rubric = node_from_dict({
        "id": "r", "requirements": "all", "weight": 1, "sub_tasks": [
            {"id": "a", "requirements": "prototype loss", "weight": 1, "task_category": "Code Development", "sub_tasks": []},
            {"id": "b", "requirements": "encoder", "weight": 1, "task_category": "Code Development", "sub_tasks": []},
        ]})
    llm = judge(lambda m: "looks fine to me" if "encoder" in requirement_of(m) else '{"explanation": "yes", "score": 1}')
    result = asyncio.run(grade_repo(repo, PAPER, rubric, llm))
    assert result.invalid == 1 and not result.grades["b"].valid and result.grades["b"].score == 0
    assert result.total == pytest.approx(0.5)
    assert result.grades["b"].attempts == 2 and result.grades["a"].attempts == 1
    assert sorted(c["request"].sample for c in llm.provider.calls) == [0, 0, 1]  # the retry is a new sample


def test_an_unusable_leaf_answer_is_asked_again_once(tmp_path):
    repo = make_repo(tmp_path / "repo", SMALL_REPO)
    rubric = node_from_dict({"id": "r", "requirements": "all", "weight": 1, "sub_tasks": [
        {"id": "a", "requirements": "prototype loss", "weight": 1, "task_category": "Code Development", "sub_tasks": []}]})
    llm = judge(["Sure! The loss is implemented.", '{"explanation": "loss.py computes it", "score": 1}'])
    result = asyncio.run(grade_repo(repo, PAPER, rubric, llm))
    assert result.grades["a"].valid and result.total == 1.0 and result.grades["a"].attempts == 2
    assert asyncio.run(grade_repo(repo, PAPER, rubric, judge(["no", "still no"]), retries=0)).total == 0.0


def test_a_regrade_is_answered_from_the_call_log(tmp_path):
    calllog = pytest.importorskip("papercoder.llm.calllog")
    from papercoder.llm import LLM, ScriptedProvider

    repo = make_repo(tmp_path / "repo", SMALL_REPO)
    rubric = node_from_dict({"id": "r", "requirements": "all", "weight": 1, "sub_tasks": [
        {"id": f"l{i}", "requirements": f"requirement number {i}", "weight": i + 1,
         "task_category": "Code Development", "sub_tasks": []} for i in range(6)]})
    log = tmp_path / "calls.sqlite"
    first = asyncio.run(grade_repo(repo, PAPER, rubric, LLM(ScriptedProvider(hash_judge), log=calllog.CallLog(log))))
    silent = LLM(ScriptedProvider([]), log=calllog.CallLog(log))
    again = asyncio.run(grade_repo(repo, PAPER, rubric, silent))
    assert silent.provider.calls == [] and again.usage.cached == 6
    assert again.total == pytest.approx(first.total)
