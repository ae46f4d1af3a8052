"""Rubric trees: loading, Code-Dev filtering and weighted aggregation, checked by hand."""

import json

import pytest

from papercoder.errors import InputError
from papercoder.rubric import code_dev_only, load_rubric, node_from_dict, score_tree


def leaf(id, weight, category="Code Development"):
    return {"id": id, "requirements": f"requirement {id}", "weight": weight, "sub_tasks": [],
            "task_category": category, "finegrained_task_category": None}


def parent(id, weight, *children):
    return {"id": id, "requirements": f"group {id}", "weight": weight, "sub_tasks": list(children),
            "task_category": None, "finegrained_task_category": None}


# root
# ├── A (w=3): a1 (w=1, dev) a2 (w=2, dev) a3 (w=1, exec)
# ├── B (w=1): b1 (w=1, results) b2 (w=1, exec)        <- no dev leaf: gone under --code-dev
# └── c (w=2, dev)
TREE = parent(
    "root", 1,
    parent("A", 3, leaf("a1", 1), leaf("a2", 2), leaf("a3", 1, "Code Execution")),
    parent("B", 1, leaf("b1", 1, "Result Analysis"), leaf("b2", 1, "Code Execution")),
    leaf("c", 2),
)
GRADES = {"a1": 1, "a2": 0, "a3": 1, "b1": 1, "b2": 0, "c": 1}


def test_weighted_mean_on_a_hand_built_tree():
    scores = score_tree(node_from_dict(TREE), GRADES)
    # A = (1*1 + 0*2 + 1*1) / 4 = 0.5 ; B = (1 + 0) / 2 = 0.5 ; c = 1
    # root = (3*0.5 + 1*0.5 + 2*1) / 6 = 4 / 6
    assert scores["A"] == pytest.approx(0.5)
    assert scores["B"] == pytest.approx(0.5)
    assert scores["root"] == pytest.approx(4 / 6)


def test_code_dev_prunes_other_leaves_and_empty_subtrees():
    tree = code_dev_only(node_from_dict(TREE))
    assert [n.id for n, _, _ in tree.walk()] == ["root", "A", "a1", "a2", "c"]
    scores = score_tree(tree, GRADES)
    # A = (1*1 + 0*2) / 3 = 1/3 ; root = (3 * 1/3 + 2 * 1) / 5 = 3/5
    assert scores["A"] == pytest.approx(1 / 3)
    assert scores["root"] == pytest.approx(3 / 5)


def test_code_dev_of_a_tree_without_dev_leaves_is_none():
    assert code_dev_only(node_from_dict(parent("r", 1, leaf("x", 1, "Result Analysis")))) is None


def test_ungraded_leaves_score_zero_and_zero_weights_do_not_divide_by_zero():
    tree = node_from_dict(parent("r", 1, parent("z", 1, leaf("z1", 0), leaf("z2", 0)), leaf("y", 1)))
    scores = score_tree(tree, {"z1": 1, "z2": 1})
    assert scores["z"] == 0.0 and scores["y"] == 0.0 and scores["r"] == 0.0


@pytest.mark.parametrize(
    "bad, words",
    [
        (parent("r", 1, {"id": "x", "requirements": "", "weight": 1, "sub_tasks": [], "task_category": "Code Development"}), "requirements"),
        (parent("r", 1, leaf("x", -1)), "weight"),
        (parent("r", 1, leaf("x", 1, 42)), "task_category"),
        (parent("r", 1, leaf("x", 1), leaf("x", 1)), "unique"),
        ([1, 2], "JSON object"),
    ],
)
def test_malformed_rubrics_are_input_errors(tmp_path, bad, words):
    path = tmp_path / "rubric.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(InputError, match=words):
        load_rubric(path)


def test_missing_rubric_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_rubric(tmp_path / "nope.json")


def test_a_leaf_of_an_unknown_category_is_graded_but_not_code_dev():
    tree = node_from_dict(parent("r", 1, leaf("x", 1, "Vibes"), leaf("y", 1)))
    assert [n.id for n in tree.leaves()] == ["x", "y"]
    assert [n.id for n in code_dev_only(tree).leaves()] == ["y"]
