"""The pure parts of the PaperBench-protocol judge: preceding nodes, the file tree, the ranked list."""

from __future__ import annotations

import os
import time

from papercoder.rubric import RubricNode
from papercoder.evaluate.paperbench import file_tree, judge_files, parse_ranking, prior_nodes


def _tree():
    leaf = lambda i: RubricNode(i, f"req {i}", task_category="Code Development")  # noqa: E731
    return RubricNode("A", "req A", sub_tasks=[
        RubricNode("B", "req B", sub_tasks=[leaf("D"), leaf("E")]),
        RubricNode("C", "req C", sub_tasks=[leaf("F"), leaf("G")]),
    ])


def test_prior_nodes_are_ancestors_and_preceding_siblings_of_the_path():
    tree = _tree()
    g = tree.sub_tasks[1].sub_tasks[1]
    assert [n.id for n in prior_nodes(tree, g)] == ["A", "B", "C", "F"]
    assert [n.id for n in prior_nodes(tree, g, limit=2)] == ["C", "F"]
    assert [n.id for n in prior_nodes(tree, tree.sub_tasks[0].sub_tasks[0])] == ["A", "B"]


def test_the_file_tree_is_drawn_with_branches():
    drawn = file_tree(["README.md", "src/model.py", "src/data/load.py", "main.py"])
    assert drawn.splitlines()[0] == "├── README.md"
    assert "│   ├── model.py" in drawn or "│   └── model.py" in drawn
    assert drawn.splitlines()[-1] == "└── main.py"


def test_a_ranked_list_as_models_write_it():
    answer = "1. `src/model.py`\n- ./main.py\n\nREADME.md\nmissing.py\nsrc/model.py\n"
    known = {"src/model.py", "main.py", "README.md"}
    assert parse_ranking(answer, known) == ["src/model.py", "main.py", "README.md"]


def test_files_by_category_and_reproduce_log_time(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / ".venv").mkdir()
    for name in ("main.py", "README.md", "results.csv", "old.csv", "src/model.py", ".venv/x.py", "image.png"):
        (tmp_path / name).write_text("x")
    past = time.time() - 3600
    os.utime(tmp_path / "old.csv", (past, past))
    marker = time.time() - 60
    assert judge_files(tmp_path, "Code Development") == ["README.md", "main.py", "src/model.py"]
    assert judge_files(tmp_path, "Result Analysis", log_created=marker) == ["README.md", "results.csv"]
