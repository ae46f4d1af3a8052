"""The verify stage end to end with a scripted reviewer and editor: a faithful repository passes at
once; planted omissions are found, refined and checked again; a breaking refinement is undone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.pipeline.run_answer_code import CODE
from tests.verify.verify_answers import PLANTS, planted, verify_answer

from papercoder.llm import ScriptedProvider
from papercoder.run import run_paper, run_stage

ROOT = Path(__file__).resolve().parents[2]
PAPER = str(ROOT / "examples" / "prototype-classifier.md")
BUILD = ["plan", "analyze", "code", "debug"]


def _built(tmp_path: Path) -> Path:
    run_paper(PAPER, out_dir=tmp_path / "run", provider=ScriptedProvider(verify_answer), stages=BUILD, show_progress=False)
    return tmp_path / "run"


def _plant(run: Path) -> None:
    for path, text in planted({p: (run / "repo" / p).read_text() for p in CODE}).items():
        (run / "repo" / path).write_text(text)
    subprocess.run(["git", "commit", "-qam", "plant omissions"], cwd=run / "repo", check=True)


def test_a_faithful_repository_meets_its_checklist_without_refinement(tmp_path):
    provider = ScriptedProvider(verify_answer)
    result = run_paper(PAPER, out_dir=tmp_path / "run", provider=provider, show_progress=False)
    run = tmp_path / "run"
    assert result.status == "done", result.fallbacks
    report = json.loads((run / "verify" / "report.json").read_text())
    assert report["leaves"] == 9 and report["coverage_before"] == report["coverage_after"] == 1.0
    assert report["rounds"] == [] and report["failing"] == []
    checklist = json.loads((run / "verify" / "checklist.json").read_text())
    assert len(checklist["sub_tasks"]) == 3 and checklist["sub_tasks"][0]["sub_tasks"][0]["task_category"] == "Code Development"
    assert checklist == json.loads((run / "planning" / "checklist.json").read_text())  # planning's, judged as it was made
    assert report["checklist"] == "planning"
    assert result.verify_summary.startswith("verify: coverage 1.00 -> 1.00") and not result.still_failing
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["verify"]["detail"]["coverage_after"] == 1.0
    assert "not yet met" not in (run / "repo" / "README.md").read_text()
    # the checklist request starts with the run's shared prefix: the paper comes from the cache
    first = provider.calls[0]["request"].messages[0]
    checklist_call = next(c for c in provider.calls if c["request"].messages[-1]["content"].startswith("Write the checklist of requirements"))
    assert checklist_call["request"].messages[0] == first


def test_planted_omissions_are_found_refined_and_judged_again(tmp_path):
    run = _built(tmp_path)
    _plant(run)
    provider = ScriptedProvider(verify_answer)
    result = run_stage("verify", run, provider=provider, show_progress=False)
    report = json.loads((run / "verify" / "report.json").read_text())
    first = json.loads((run / "verify" / "grades-0.json").read_text())
    flagged = sorted(i for i, g in first.items() if g["score"] == 0)
    assert flagged == sorted(leaf for leaf, *_ in PLANTS)  # every planted omission, and nothing else
    assert report["coverage_before"] < 0.75 and report["coverage_after"] == 1.0
    assert sorted(report["rounds"][0]["fixed"]) == flagged and not report["rounds"][0]["undone"]
    for path in ("model.py", "main.py"):
        assert (run / "repo" / path).read_text() == CODE[path]
    # every requirement was judged again after the round, not only the failed ones
    judged = [c for c in provider.calls if "# The requirement to grade" in c["request"].messages[-1]["content"]]
    assert len(judged) == 9 + 9 and report["rounds"][0]["regressions"] == []
    # one refine request per owning file, each starting with the bytes of the run's code requests
    refines = [c["request"].messages for c in provider.calls if c["request"].messages[-1]["content"].startswith("A reviewer checked")]
    owners = sorted(m[-1]["content"].split("belong to `")[1].split("`")[0] for m in refines)
    assert owners == ["main.py", "model.py"]
    assert all("Complete the repository" in m[-1]["content"] and "change as few lines" not in m[-1]["content"] for m in refines)
    assert all(len(m) == 4 and m[0]["role"] == "system" and "interface skeleton" in m[2]["content"] for m in refines)
    subjects = subprocess.run(["git", "log", "--format=%s"], cwd=run / "repo", capture_output=True, text=True).stdout
    assert "papercoder verify: round 1" in subjects
    assert result.status == "done" and result.verify_summary.endswith("9 of 9 requirements met")
    assert report["smoke_before"] is True and report["smoke_after"] is True  # the plants and the fixes both run


def test_a_refinement_that_breaks_the_smoke_run_is_undone(tmp_path):
    run = _built(tmp_path)
    _plant(run)

    def breaking(messages):
        if messages[-1]["content"].startswith("A reviewer checked the repository below"):
            text = (run / "repo" / "main.py").read_text()
            line = text.splitlines()[0]
            return f"main.py\n<<<<<<< SEARCH\n{line}\n=======\nraise SystemExit(3)\n{line}\n>>>>>>> REPLACE\n"
        return verify_answer(messages)

    before = (run / "repo" / "main.py").read_text()
    run_stage("verify", run, provider=ScriptedProvider(breaking), show_progress=False)
    report = json.loads((run / "verify" / "report.json").read_text())
    assert "smoke run passed before and fails after" in report["rounds"][0]["undone_files"]["main.py"]
    assert (run / "repo" / "main.py").read_text() == before
    assert len(report["failing"]) == len(PLANTS) and report["coverage_after"] == report["coverage_before"]
    readme = (run / "repo" / "README.md").read_text()
    assert "## Requirements not yet met" in readme and "[1.3]" in readme


def test_an_unusable_checklist_degrades_planning_and_verify(tmp_path):
    def no_checklist(messages):
        if any(m["content"].startswith("Write the checklist of requirements") for m in messages if m["role"] == "user"):
            return "I would rather not."  # and the same when asked again for JSON
        return verify_answer(messages)

    result = run_paper(PAPER, out_dir=tmp_path / "run", provider=ScriptedProvider(no_checklist), show_progress=False)
    assert result.status == "degraded"
    assert any(stage == "plan" and "no usable checklist" in message for stage, message in result.fallbacks)
    assert any(stage == "verify" and "no usable checklist" in message for stage, message in result.fallbacks)


def _plant_only(run: Path, leaves: set[str]) -> None:
    """Plant the omissions of ``leaves`` only."""
    for leaf, path, faithful, wrong in PLANTS:
        if leaf in leaves:
            target = run / "repo" / path
            target.write_text(target.read_text().replace(faithful, wrong, 1))
    subprocess.run(["git", "commit", "-qam", "plant omissions"], cwd=run / "repo", check=True)


def _owner(messages) -> str:
    text = messages[-1]["content"]
    return text.split("belong to `")[1].split("`")[0] if text.startswith("A reviewer checked") and "belong to `" in text else ""


def test_a_refine_edit_that_breaks_a_requirement_that_had_passed_is_caught_and_undone(tmp_path):
    run = _built(tmp_path)
    _plant_only(run, {"3.2"})  # the learned models evaluated on the training split, in main.py
    softmax = "softmax(-self.distances(x) / self.temperature)"

    def overreaching(messages):
        answer = verify_answer(messages)
        if _owner(messages) == "main.py":  # fixes main.py, and "tidies" model.py, breaking requirement 1.4
            answer += f"\nmodel.py\n<<<<<<< SEARCH\n        return {softmax}\n=======\n        return softmax(-(self.distances(x)) * (1 / self.temperature))\n>>>>>>> REPLACE\n"
        return answer

    result = run_stage("verify", run, provider=ScriptedProvider(overreaching), show_progress=False)
    report = json.loads((run / "verify" / "report.json").read_text())
    first = report["rounds"][0]
    assert first["regressions"] == ["1.4"] and "1.4" in first["undone_files"]["model.py"]
    assert "main.py" not in first["undone_files"] and first["fixed"] == ["3.2"]
    assert (run / "repo" / "model.py").read_text() == CODE["model.py"]  # the breaking edit undone
    assert (run / "repo" / "main.py").read_text() == CODE["main.py"]  # the good one kept
    assert report["coverage_after"] == 1.0 and result.status == "done"
    subjects = subprocess.run(["git", "log", "--format=%s"], cwd=run / "repo", capture_output=True, text=True).stdout
    assert "undo model.py (regressions 1.4)" in subjects


def test_one_files_edits_that_break_the_smoke_run_are_undone_and_another_files_good_edits_stay(tmp_path):
    run = _built(tmp_path)
    _plant_only(run, {"1.3", "3.2"})  # a loss term left out of model.py, the wrong split in main.py

    def half_breaking(messages):
        if _owner(messages) == "main.py":
            line = (run / "repo" / "main.py").read_text().splitlines()[0]
            return f"main.py\n<<<<<<< SEARCH\n{line}\n=======\nraise SystemExit(3)\n{line}\n>>>>>>> REPLACE\n"
        return verify_answer(messages)

    run_stage("verify", run, provider=ScriptedProvider(half_breaking), show_progress=False)
    report = json.loads((run / "verify" / "report.json").read_text())
    first = report["rounds"][0]
    assert list(first["undone_files"]) == ["main.py"] and "smoke run passed before" in first["undone_files"]["main.py"]
    assert first["fixed"] == ["1.3"] and first["commit"]
    assert (run / "repo" / "model.py").read_text() == CODE["model.py"]  # the good edit stayed
    assert "raise SystemExit(3)" not in (run / "repo" / "main.py").read_text()
    assert [f["id"] for f in report["failing"]] == ["3.2"] and report["smoke_after"] is True


def test_a_judge_model_other_than_the_coder_judges_every_requirement(tmp_path, monkeypatch):
    from papercoder.testing.fake_openai import FakeOpenAIServer

    run = _built(tmp_path)
    _plant_only(run, {"1.3"})
    coder = ScriptedProvider(verify_answer)

    def judged(body: dict) -> str:
        return verify_answer(body["messages"])

    with FakeOpenAIServer(judged) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-judge-key")
        result = run_stage("verify", run, provider=coder, show_progress=False, judge_model="openai:judge-model")
        requests = list(server.requests)
    report = json.loads((run / "verify" / "report.json").read_text())
    assert report["judge"] == "openai:judge-model" and report["coverage_after"] == 1.0 and result.status == "done"
    judge_prompts = [r.body["messages"][-1]["content"] for r in requests]
    assert all("# The requirement to grade" in p for p in judge_prompts)
    from papercoder.llm import CallLog

    with CallLog(run / "calls.sqlite") as log:
        rows = [r for r in log.calls() if r.model == "openai:judge-model"]
    # every requirement judged twice (before and after the round); a prompt that did not change
    # (its files untouched by the round) is answered from the call log instead of the judge
    assert len(rows) == 9 + 9 and len(judge_prompts) == sum(not r.cached for r in rows) >= 9 + 1
    assert not any("# The requirement to grade" in c["request"].messages[-1]["content"] for c in coder.calls)  # the coder only edits


def test_a_condensed_paper_sends_the_passages_the_failed_requirements_quote(tmp_path):
    run = _built(tmp_path)
    _plant_only(run, {"1.3"})
    full = (run / "paper.md").read_text()
    (run / "paper.full.md").write_text(full)  # as the fit step leaves it when it condensed the paper
    provider = ScriptedProvider(verify_answer)
    run_stage("verify", run, provider=provider, show_progress=False)
    refine = next(c["request"].messages[-1]["content"] for c in provider.calls
                  if c["request"].messages[-1]["content"].startswith("A reviewer checked"))
    assert "these are the passages that state them, word for word" in refine
    assert "The loss is the mean cross-entropy over the training set plus an L2 penalty on the embedding" in refine
