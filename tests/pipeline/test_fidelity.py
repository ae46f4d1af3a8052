"""Faithful on reasoning models, and honest when something falls back: the run's status says so."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from papercoder.pipeline.inventory import parse_inventory
from papercoder.pipeline.analysis import ANALYSIS_GROUP, group_files
from papercoder.rundir.manifest import Manifest
from papercoder.pipeline.plancheck import review_logic
from papercoder.pipeline.schemas import Design, LogicDesign
from papercoder.run import run_paper
from papercoder.testing.fake_openai import FakeOpenAIServer
from tests.pipeline.run_answers import FILES, answer, kind_of, long_answer

PAPER = str(Path(__file__).resolve().parents[2] / "examples" / "prototype-classifier.md")


def test_a_reasoning_model_with_long_designs_gives_the_full_plan_and_done(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    with FakeOpenAIServer(lambda body: long_answer(body["messages"]), hidden_tokens=6000) as server:
        result = run_paper(PAPER, out_dir=tmp_path / "run", model="openai:o3-mini", base_url=server.base_url,
                           stages=["plan", "analyze", "code"], show_progress=False)
    assert result.status == "done" and result.fallbacks == []
    assert json.loads((tmp_path / "run" / "planning" / "tasks.json").read_text())["task_list"] == FILES
    for path in FILES:
        code = (result.repo / path).read_text()
        assert code.strip(), path
        ast.parse(code)
    readme = (result.repo / "README.md").read_text()
    assert "| B1 |" in readme and "`baselines.py`" in readme  # the inventory is mapped to code
    assert "```mermaid\nclassDiagram" in readme and "```mermaid\nsequenceDiagram" in readme  # GitHub draws them
    # every request had room for the hidden tokens and the whole answer
    assert all(r.body["max_completion_tokens"] > 6000 for r in server.requests)
    assert all(r.body["reasoning_effort"] == "high" for r in server.requests)


def _garbage_design(body):
    if kind_of(body["messages"])[0] in ("design", "other"):
        return "I would rather describe the design in words: it has some files."
    return answer(body["messages"])


def test_a_garbage_design_is_degraded_with_a_nonzero_exit_and_the_reason_in_the_summary(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "NO_COLOR": "1", "OPENAI_API_KEY": "sk-test-not-a-real-key"}
    with FakeOpenAIServer(_garbage_design) as server:
        done = subprocess.run(
            [sys.executable, "-m", "papercoder", "run", PAPER, "-o", str(tmp_path / "run"), "--stages", "plan",
             "-m", "openai:fake-model", "--base-url", server.base_url],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )
    assert done.returncode == 1, done.stderr
    assert "status: degraded" in done.stdout
    assert "not valid JSON" in done.stdout and "one-file plan" in done.stdout
    manifest = Manifest.load(tmp_path / "run" / "manifest.json")
    assert manifest.status == "degraded" and manifest.stage("plan").status == "degraded"
    assert manifest.stage("plan").detail["fallbacks"]


def _design(files):
    return Design(implementation_approach="", file_list=files, entry_point="main.py", class_diagram="",
                  sequence_diagram="")


def _logic(deps):
    return LogicDesign(
        required_packages=[], task_list=list(deps),
        logic_analysis=[{"path": f, "analysis": "x", "depends_on": d} for f, d in deps.items()],
    )


def test_a_plan_where_nothing_depends_on_anything_is_sent_back_then_fixed():
    review = review_logic(_logic({"main.py": [], "model.py": [], "data.py": []}), _design(["main.py", "model.py", "data.py"]))
    assert any("depends_on" in p for p in review.problems) and review.fallbacks
    assert review.value.task_list[-1] == "main.py"
    assert review.value.logic_of("main.py").depends_on == ["model.py", "data.py"]


def test_an_entry_point_that_depends_on_nothing_is_sent_back():
    review = review_logic(_logic({"model.py": [], "data.py": ["model.py"], "main.py": []}),
                          _design(["model.py", "data.py", "main.py"]))
    assert any("entry point main.py depends on no file" in p for p in review.problems)
    fine = review_logic(_logic({"model.py": [], "main.py": ["model.py"]}), _design(["model.py", "main.py"]))
    assert not fine.problems and not fine.fallbacks


def test_uncovered_inventory_items_are_sent_back_unless_explained():
    items = parse_inventory("- [E1] experiment: Table 1\n- [B1] baseline: kNN\n- [D1] dataset: MNIST")
    logic = _logic({"model.py": [], "main.py": ["model.py"]})
    logic.logic_analysis[1].covers = ["E1", "d1"]
    review = review_logic(logic, _design(["model.py", "main.py"]), items)
    assert any("B1" in p for p in review.problems) and "D1" not in review.problems[0]
    logic.unclear_points = ["B1 is left out: the paper gives no details of the kNN baseline"]
    assert not review_logic(logic, _design(["model.py", "main.py"]), items).problems


@pytest.mark.parametrize(
    "line, ident, kind, text",
    [
        ("- [E1] experiment: Table 2 (Sec. 4): accuracy", "E1", "experiment", "Table 2 (Sec. 4): accuracy"),
        ("* **[B12]** baseline - PPO with GAE", "B12", "baseline", "PPO with GAE"),
        ("3. [d-2] datasets: CIFAR-10 (torchvision)", "D2", "dataset", "CIFAR-10 (torchvision)"),
        ("- [M1] top-1 accuracy", "M1", "metric", "top-1 accuracy"),
    ],
)
def test_inventory_lines_as_models_write_them(line, ident, kind, text):
    (item,) = parse_inventory("## Inventory\n" + line + "\nSome prose [not an item].")
    assert (item.id, item.kind, item.text) == (ident, kind, text)


def test_the_addendum_goes_right_after_the_paper_in_every_request(tmp_path):
    from papercoder.llm import ScriptedProvider

    note = tmp_path / "addendum.md"
    note.write_text("Use the dataset at https://example.org/mixture.npz; Table 2 is out of scope.\n")
    provider = ScriptedProvider(answer)
    result = run_paper(PAPER, out_dir=tmp_path / "run", provider=provider, stages=["plan", "analyze", "code"],
                       show_progress=False, addendum=note)
    assert (tmp_path / "run" / "addendum.md").read_text() == note.read_text()
    for call in provider.calls:
        text = "\n".join(m["content"] for m in call["request"].messages)
        assert "https://example.org/mixture.npz" in text
        assert text.index("mixture.npz") > text.index("Prototype Classifiers")  # after the paper
    assert result.status == "done"
    other = tmp_path / "other.md"
    other.write_text("Something else.\n")
    from papercoder.errors import InputError

    with pytest.raises(InputError, match="another addendum"):
        run_paper(PAPER, out_dir=tmp_path / "run", provider=ScriptedProvider(answer), resume=True, addendum=other,
                  show_progress=False)


@pytest.mark.parametrize("content", [b"", b"\xff\xfe bad", b"a\x00b"])
def test_an_unusable_addendum_is_one_clear_error_before_anything_is_made(tmp_path, content):
    from papercoder.errors import InputError
    from papercoder.llm import ScriptedProvider

    bad = tmp_path / "addendum.md"
    bad.write_bytes(content)
    with pytest.raises(InputError, match="addendum"):
        run_paper(PAPER, out_dir=tmp_path / "run", provider=ScriptedProvider([]), show_progress=False, addendum=bad)
    assert not (tmp_path / "run").exists()


def test_every_request_of_a_run_shares_one_prefix_up_to_the_papers_end(tmp_path):
    from papercoder.llm import ScriptedProvider

    provider = ScriptedProvider(answer)
    run_paper(PAPER, out_dir=tmp_path / "run", provider=provider, stages=["plan", "analyze", "code"],
              show_progress=False)
    requests = [call["request"] for call in provider.calls]
    first = requests[0].messages[0]
    assert first["role"] == "system" and "</paper>" in first["content"]
    assert all(r.messages[0] == first for r in requests)  # byte for byte, in every stage
    # the skeleton request, the analyses and the code files also share the planning artifacts as
    # their second message; analyses and code files the skeleton as their third
    later = [r for r in requests if r.messages[1]["content"].startswith("The plan for the repository")]
    analyses = len(group_files(FILES, ANALYSIS_GROUP))
    assert len(later) == 1 + analyses + len(FILES)
    assert len({r.messages[1]["content"] for r in later}) == 1
    waves = [r for r in later if len(r.messages) == 4]
    assert len(waves) == analyses + len(FILES)
    assert len({r.messages[2]["content"] for r in waves}) == 1 and "interface skeleton" in waves[0].messages[2]["content"]
