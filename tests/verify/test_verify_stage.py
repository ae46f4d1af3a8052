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
    assert result.verify_summary.startswith("verify: coverage 1.00 -> 1.00") and not result.still_failing
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["verify"]["detail"]["coverage_after"] == 1.0
    assert "not yet met" not in (run / "repo" / "README.md").read_text()
    # the checklist request starts with the run's shared prefix: the paper comes from the cache
    first = provider.calls[0]["request"].messages[0]
    checklist_call = next(c for c in provider.calls if c["request"].messages[-1]["content"].startswith("Before this repository"))
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
    # only the failed leaves were judged again
    judged = [c for c in provider.calls if "# The requirement to grade" in c["request"].messages[-1]["content"]]
    assert len(judged) == 9 + len(PLANTS)
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
    assert "smoke run passed before and fails after" in report["rounds"][0]["undone"]
    assert (run / "repo" / "main.py").read_text() == before
    assert len(report["failing"]) == len(PLANTS) and report["coverage_after"] == report["coverage_before"]
    readme = (run / "repo" / "README.md").read_text()
    assert "## Requirements not yet met" in readme and "[1.3]" in readme


def test_an_unusable_checklist_degrades_the_stage(tmp_path):
    run = _built(tmp_path)

    def no_checklist(messages):
        if any(m["content"].startswith("Before this repository is called a reproduction") for m in messages if m["role"] == "user"):
            return "I would rather not."  # and the same when asked again for JSON
        return verify_answer(messages)

    result = run_stage("verify", run, provider=ScriptedProvider(no_checklist), show_progress=False)
    assert result.status == "degraded"
    assert any("no usable checklist" in message for _, message in result.fallbacks)
