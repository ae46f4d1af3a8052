"""SEARCH/REPLACE parsing and applying: models say odd things, and edits never leave the folder."""

from pathlib import Path

import pytest

from papercoder.repo.edits import (
    EditBlock,
    apply_edits,
    count_changed_lines,
    parse_edits,
    replace_text,
)


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def test_parses_plain_block():
    result = parse_edits("Fix:\n\n" + block("train.py", "x = 1\n", "x = 2\n"))
    assert result.problems == []
    assert [(b.path, b.search, b.replace) for b in result.blocks] == [("train.py", "x = 1\n", "x = 2\n")]


@pytest.mark.parametrize(
    "name_line",
    ["train.py", "`train.py`", "**train.py**", "### train.py", "File: train.py", "train.py:", "  ./train.py  "],
)
def test_file_name_decorations(name_line):
    result = parse_edits(f"{name_line}\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n")
    assert result.problems == []
    assert result.blocks[0].path.lstrip("./") == "train.py"


def test_name_above_fence_and_fence_with_name():
    text = "src/model.py\n```python\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```\n"
    text += "```python src/data.py\n<<<<<<< SEARCH\nc\n=======\nd\n>>>>>>> REPLACE\n```\n"
    result = parse_edits(text)
    assert [b.path for b in result.blocks] == ["src/model.py", "src/data.py"]


def test_block_without_name_reuses_previous_file():
    text = block("a.py", "1\n", "2\n") + "\nand also\n\n<<<<<<< SEARCH\n3\n=======\n4\n>>>>>>> REPLACE\n"
    result = parse_edits(text)
    assert [b.path for b in result.blocks] == ["a.py", "a.py"]


def test_first_block_without_name_is_a_problem():
    result = parse_edits("<<<<<<< SEARCH\n3\n=======\n4\n>>>>>>> REPLACE\n")
    assert result.blocks == []
    assert "no file name" in result.problems[0]


def test_marker_lengths_and_case_vary():
    text = "m.py\n<<<<<<<< search\nold\n========\nnew\n>>>>>>>>> replace\n"
    assert [(b.search, b.replace) for b in parse_edits(text).blocks] == [("old\n", "new\n")]


def test_unterminated_blocks_are_reported():
    result = parse_edits("m.py\n<<<<<<< SEARCH\nold\n=======\nnew\n")
    assert result.blocks == [] and "REPLACE" in result.problems[0]
    result = parse_edits("m.py\n<<<<<<< SEARCH\nold\n")
    assert result.blocks == [] and "=======" in result.problems[0]


def test_unterminated_block_does_not_swallow_the_next():
    text = "m.py\n<<<<<<< SEARCH\nold\n" + block("n.py", "a\n", "b\n")
    result = parse_edits(text)
    assert [b.path for b in result.blocks] == ["n.py"]
    assert len(result.problems) == 1


def test_empty_search_creates_and_empty_replace_deletes(tmp_path: Path):
    (tmp_path / "m.py").write_text("keep\ndrop\nkeep2\n")
    blocks = parse_edits(block("new/util.py", "", "def f():\n    return 1\n") + block("m.py", "drop\n", "")).blocks
    result = apply_edits(tmp_path, blocks)
    assert result.failed == []
    assert (tmp_path / "new/util.py").read_text() == "def f():\n    return 1\n"
    assert (tmp_path / "m.py").read_text() == "keep\nkeep2\n"


def test_exact_then_trailing_whitespace_then_indentation():
    content = "def f(x):\n    if x:   \n        return 1\n    return 0\n"
    new, problem = replace_text(content, "    if x:\n        return 1\n", "    if x > 0:\n        return 2\n")
    assert problem is None and new == "def f(x):\n    if x > 0:\n        return 2\n    return 0\n"
    # the model quoted the lines without their indentation: the replacement is shifted the same way
    new, problem = replace_text(content, "if x:\nreturn 1\n", "if x:\n    return 3\n")
    assert problem is not None  # not a uniform shift: the inner line lost 8 spaces, the outer 4
    new, problem = replace_text(content, "if x:\n    return 1\n", "if x > 1:\n    return 3\n")
    assert problem is None
    assert new == "def f(x):\n    if x > 1:\n        return 3\n    return 0\n"


def test_extra_indentation_in_search_is_removed():
    content = "a = 1\nb = 2\n"
    new, problem = replace_text(content, "    b = 2\n", "    b = 3\n")
    assert problem is None and new == "a = 1\nb = 3\n"


def test_ambiguous_match_is_refused():
    new, problem = replace_text("x = 1\ny = 0\nx = 1\n", "x = 1\n", "x = 2\n")
    assert "2 places" in problem


def test_mismatch_shows_closest_lines():
    content = "import numpy as np\n\ndef loss(pred, target):\n    return ((pred - target) ** 2).mean()\n"
    _, problem = replace_text(content, "def loss(pred, tgt):\n    return ((pred - tgt) ** 2).mean()\n", "x\n")
    assert "does not match" in problem
    assert "3| def loss(pred, target):" in problem


@pytest.mark.parametrize("name", ["../outside.py", "/etc/passwd", "a/../../x.py", ".git/config"])
def test_edits_never_leave_the_folder(tmp_path: Path, name):
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".git").mkdir()
    (root / ".git/config").write_text("x\n")
    result = apply_edits(root, [EditBlock(name, "", "pwned\n", 1)])
    assert result.applied == [] and len(result.failed) == 1
    assert not (tmp_path / "outside.py").exists()
    assert (root / ".git/config").read_text() == "x\n"


def test_symlink_escape_is_refused(tmp_path: Path):
    root = tmp_path / "repo"
    root.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("secret\n")
    (root / "link.txt").symlink_to(outside)
    result = apply_edits(root, [EditBlock("link.txt", "secret\n", "changed\n", 1)])
    assert result.failed and outside.read_text() == "secret\n"


def test_missing_file_and_existing_file_with_empty_search(tmp_path: Path):
    (tmp_path / "a.py").write_text("x = 1\n")
    result = apply_edits(tmp_path, [EditBlock("b.py", "x\n", "y\n", 1), EditBlock("a.py", "", "y = 2\n", 2)])
    reasons = [f.reason for f in result.failed]
    assert "does not exist" in reasons[0] and "already exists" in reasons[1]
    assert (tmp_path / "a.py").read_text() == "x = 1\n"


def test_count_changed_lines():
    assert count_changed_lines("a\nb\nc\n", "a\nB\nc\n") == 1
    assert count_changed_lines("a\n", "a\nb\nc\n") == 2
    assert count_changed_lines("same\n", "same\n") == 0
