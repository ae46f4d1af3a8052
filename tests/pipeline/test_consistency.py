"""The coding wave's cross-file check: a planted mismatch between two files is caught and repaired
before any debugging, with the code as written and the repair as two commits."""

from __future__ import annotations

import json
import subprocess

from tests.pipeline.stage_fixtures import MAIN_PY, PaperModel, fenced, make_run

from papercoder.llm import FakeReply

# main.py calls the model's step with the arguments the wrong way: three where step takes two
PLANTED = MAIN_PY.replace("model.step(x, y)", "model.step(x, y, 1.0)")
FIX = """main.py
<<<<<<< SEARCH
    loss = sum(model.step(x, y, 1.0) for x, y in points) / len(points)
=======
    loss = sum(model.step(x, y) for x, y in points) / len(points)
>>>>>>> REPLACE
"""


def _coded(tmp_path, answers):
    run = make_run(tmp_path / "run", PaperModel(answers))
    run.all()
    return run


def test_a_planted_mismatch_is_caught_and_repaired_before_debugging(tmp_path):
    run = _coded(tmp_path, {"code:main.py": fenced(PLANTED), "reconcile": FIX})
    assert (run.paths.repo / "main.py").read_text() == MAIN_PY
    record = json.loads((run.paths.coding / "consistency.json").read_text())
    assert [f["kind"] for f in record["before"]] == ["interface"]
    assert "Model.step" in record["before"][0]["message"] and "at most 2" in record["before"][0]["message"]
    assert record["after"] == [] and record["applied"] == ["main.py (block 1)"]
    assert not run.fallbacks
    assert any("repaired 1 mismatch" in n for n in run.notes)
    # the repair request names the mismatch; it starts with the bytes every code request starts with
    # (the paper, the plan, the skeleton as the contract), so the provider's cache serves them
    repair = next(c["request"] for c in run.provider.calls if "has not been run yet" in c["request"].messages[-1]["content"])
    text = repair.messages[-1]["content"]
    assert "main.py:" in text and "Model.step" in text
    coding = next(c["request"] for c in run.provider.calls if "Write the complete file" in c["request"].messages[-1]["content"])
    assert repair.messages[:-1] == coding.messages[:-1] and "interface skeleton" in repair.messages[-2]["content"]
    subjects = subprocess.run(["git", "log", "--format=%s"], cwd=run.paths.repo, capture_output=True, text=True).stdout
    assert subjects.splitlines() == [
        "papercoder coding: reconcile 1 mismatch(es) between files (0 left)",
        "papercoder: the code as written",
    ]


def test_a_mismatch_the_repair_leaves_degrades_the_stage(tmp_path):
    run = _coded(tmp_path, {"code:main.py": fenced(PLANTED), "reconcile": "I see no problem."})
    assert "model.step(x, y, 1.0)" in (run.paths.repo / "main.py").read_text()
    assert any("1 mismatch(es) between files remain" in f and "Model.step" in f for f in run.fallbacks)
    record = json.loads((run.paths.coding / "consistency.json").read_text())
    assert len(record["after"]) == 1


def test_files_that_agree_ask_nothing_more(tmp_path):
    run = _coded(tmp_path, {})
    assert "reconcile" not in run.provider.replies.seen
    assert json.loads((run.paths.coding / "consistency.json").read_text())["before"] == []
    assert not (run.paths.repo / ".git").exists()  # the debug stage makes the first commit, as before


def test_a_skeleton_missing_a_file_gets_one_repair_turn(tmp_path):
    from tests.pipeline.run_answers import skeleton_text
    from tests.pipeline.stage_fixtures import CODE

    partial = skeleton_text({k: v for k, v in CODE.items() if k != "data.py"})
    run = _coded(tmp_path, {"interfaces": partial, "interfaces_repair": skeleton_text({"data.py": CODE["data.py"]})})
    assert run.provider.replies.seen.count("interfaces_repair") == 1
    document = run.paths.interfaces.read_text()
    assert "### `data.py`" in document and "def make_data(n, noise, seed=0):" in document
    assert document.index("data.py") < document.index("model.py") < document.index("main.py")  # task order
    assert not run.fallbacks


def test_a_skeleton_still_missing_a_file_after_repair_is_a_fallback(tmp_path):
    from tests.pipeline.run_answers import skeleton_text
    from tests.pipeline.stage_fixtures import CODE

    partial = skeleton_text({k: v for k, v in CODE.items() if k != "data.py"})
    run = _coded(tmp_path, {"interfaces": partial, "interfaces_repair": "Sorry."})
    assert any("data.py: no skeleton was given" in f for f in run.fallbacks)
    assert (run.paths.repo / "data.py").read_text()  # still written, from its analysis


def test_no_skeleton_at_all_is_a_fallback_and_the_files_are_still_written(tmp_path):
    run = _coded(tmp_path, {"interfaces": FakeReply("I would rather not."), "interfaces_repair": "No."})
    assert any("no usable skeleton" in f for f in run.fallbacks)
    assert all((run.paths.repo / name).is_file() for name in ("data.py", "model.py", "main.py"))
