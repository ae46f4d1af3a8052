"""grade --from-judgements: PaperBench's graded trees recomputed from their leaves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from papercoder.cli import app
from papercoder.evaluate.judgements import recompute

SHARED = Path(__file__).resolve().parents[3] / "shared" / "rubrics"


def _leaf(node_id, score, weight=1, category="Code Development", valid=True):
    return {"id": node_id, "requirements": f"requirement {node_id}", "weight": weight, "score": score,
            "valid_score": valid, "task_category": category, "explanation": "x", "judge_metadata": None, "sub_tasks": []}


def _parent(node_id, score, children, weight=1):
    return {"id": node_id, "requirements": f"group {node_id}", "weight": weight, "score": score, "valid_score": True,
            "task_category": None, "explanation": "Aggregated score from sub-tasks.", "judge_metadata": None,
            "sub_tasks": children}


# a: (1*1 + 3*0) / 4 = 0.25; b: code dev 1, execution 0 -> 0.5; c: weights 0 -> 0
# root: (2*0.25 + 1*0.5 + 1*0) / 4 = 0.25
TREE = _parent("root", 0.25, [
    _parent("a", 0.25, [_leaf("a1", 1), _leaf("a2", 0, weight=3, valid=False)], weight=2),
    _parent("b", 0.5, [_leaf("b1", 1), _leaf("b2", 0, category="Code Execution")]),
    _parent("c", 0.0, [_leaf("c1", 1, weight=0)]),
])


def test_the_root_score_is_reproduced_from_the_leaves(tmp_path):
    path = tmp_path / "expected_result.json"
    path.write_text(json.dumps(TREE))
    result = recompute(path)
    assert result.root == pytest.approx(0.25) and result.differences == [] and result.invalid == ["a2"]
    # Code-Dev: b keeps only b1 (1.0); root = (2*0.25 + 1*1 + 1*0) / 4
    assert recompute(path, code_dev=True).root == pytest.approx(0.375)


def test_a_parent_that_disagrees_is_named_and_the_command_exits_1(tmp_path):
    wrong = json.loads(json.dumps(TREE))
    wrong["sub_tasks"][1]["score"] = 0.9
    path = tmp_path / "graded.json"
    path.write_text(json.dumps(wrong))
    done = CliRunner().invoke(app, ["grade", "--from-judgements", str(path)])
    assert done.exit_code == 1 and "b: file 0.900000, recomputed 0.500000" in done.stdout
    path.write_text(json.dumps(TREE))
    done = CliRunner().invoke(app, ["grade", "--from-judgements", str(path), "--code-dev"])
    assert done.exit_code == 0 and "root Code-Dev score: 0.375000" in done.stdout


def test_a_rubric_without_scores_is_one_clear_error(tmp_path):
    path = tmp_path / "rubric.json"
    path.write_text(json.dumps({"id": "r", "requirements": "x", "weight": 1, "sub_tasks": []}))
    done = CliRunner().invoke(app, ["grade", "--from-judgements", str(path)])
    assert done.exit_code != 0 and "not a graded tree" in str(done.exception or done.output)


@pytest.mark.parametrize("path", sorted(SHARED.glob("*expected_result*.json")) if SHARED.is_dir() else [], ids=lambda p: p.name)
def test_real_paperbench_graded_trees_when_present(path):
    result = recompute(path)
    assert result.differences == [] and result.root == pytest.approx(result.recorded[result.tree.id])
