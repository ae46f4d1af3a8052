"""Splitting one answer that analyses several files into a section per file.

Models mark the files in many ways; sub-headings inside an analysis often name other files too.
"""

from papercoder.pipeline.filesections import file_marker, split_by_file

FILES = ["data.py", "src/model.py", "train.py"]


def test_the_asked_for_markers():
    text = (
        "# File: data.py\n## Purpose\nLoads the data.\n\n"
        "# File: src/model.py\n## Purpose\nThe network.\n"
    )
    sections = split_by_file(text, FILES[:2])
    assert sections == {"data.py": "## Purpose\nLoads the data.", "src/model.py": "## Purpose\nThe network."}


def test_markup_around_the_marker_is_tolerated():
    text = (
        "Here are the analyses.\n\n"
        "## File: `data.py`\nA.\n"
        "**File: src/model.py**\nB.\n"
        "### FILE: `train.py`:\nC.\n"
    )
    assert split_by_file(text, FILES) == {"data.py": "A.", "src/model.py": "B.", "train.py": "C."}


def test_a_top_level_heading_naming_the_file_starts_it():
    text = "# `data.py`\nA.\n\n# Analysis of src/model.py\nB.\n"
    assert split_by_file(text, FILES[:2]) == {"data.py": "A.", "src/model.py": "B."}


def test_sub_headings_naming_other_files_do_not_split():
    text = (
        "# File: train.py\n## How it uses the other files\n### `data.py`\nIt calls load().\n"
        "**src/model.py**\nIt builds the model.\n"
        "# File: data.py\nD.\n"
    )
    sections = split_by_file(text, ["train.py", "data.py"])
    assert "It calls load()." in sections["train.py"] and "It builds the model." in sections["train.py"]
    assert sections["data.py"] == "D."


def test_a_basename_names_its_file_when_unique():
    text = "# File: model.py\nM.\n# File: data.py\nD.\n"
    assert split_by_file(text, FILES[:2]) == {"src/model.py": "M.", "data.py": "D."}
    # two planned files share the basename: the bare name names neither
    assert split_by_file("# File: model.py\nM.\n", ["a/model.py", "b/model.py"]) == {}


def test_a_file_outside_the_group_ends_the_section_before_it():
    text = "# File: data.py\nD.\n# File: helpers.py\nNot asked for.\n"
    assert split_by_file(text, ["data.py"]) == {"data.py": "D."}


def test_missing_and_empty_sections_are_absent():
    text = "# File: data.py\n\n# File: src/model.py\nB.\n"
    assert split_by_file(text, FILES) == {"src/model.py": "B."}
    assert split_by_file("", FILES) == {}
    assert split_by_file("Just prose about data.py and train.py.", FILES) == {}


def test_a_file_given_twice_keeps_both_parts_in_order():
    text = "# File: data.py\nFirst.\n# File: train.py\nT.\n# File: data.py\nMore.\n"
    assert split_by_file(text, ["data.py", "train.py"]) == {"data.py": "First.\n\nMore.", "train.py": "T."}


def test_markers_inside_code_blocks_are_content():
    text = "# File: data.py\n```text\n# File: train.py\n```\nEnd.\n"
    assert split_by_file(text, ["data.py", "train.py"]) == {"data.py": "```text\n# File: train.py\n```\nEnd."}


def test_the_marker_the_prompt_asks_for_is_one_the_splitter_reads():
    text = "\n".join(f"{file_marker(path)}\nAbout {path}.\n" for path in FILES)
    assert split_by_file(text, FILES) == {path: f"About {path}." for path in FILES}


def test_an_answer_wrapped_in_one_markdown_fence_is_unwrapped():
    text = "```markdown\n# File: data.py\nD.\n\n# File: train.py\nT.\n```\n"
    assert split_by_file(text, ["data.py", "train.py"]) == {"data.py": "D.", "train.py": "T."}


def test_a_section_that_is_one_markdown_block_is_unwrapped():
    text = "# File: data.py\n```md\n## Purpose\nD.\n```\n# File: train.py\n```python\nx = 1\n```\n"
    sections = split_by_file(text, ["data.py", "train.py"])
    assert sections == {"data.py": "## Purpose\nD.", "train.py": "```python\nx = 1\n```"}


def test_words_after_the_path_on_the_marker_line_are_allowed():
    text = "# File: data.py (loading the mixture)\nD.\n**File: `train.py`** - the training loop\nT.\n"
    assert split_by_file(text, ["data.py", "train.py"]) == {"data.py": "D.", "train.py": "T."}
    # but a sentence that merely starts with a file name is content
    assert split_by_file("# File: data.py\ntrain.py calls it.\n", ["data.py", "train.py"]) == {"data.py": "train.py calls it."}


def test_without_the_asked_for_markers_headings_naming_the_files_split_at_their_level():
    text = (
        "## 1. `data.py`\nLoads.\n### How it uses the other files\n### `src/model.py`\nIt feeds the model.\n"
        "## 2. `src/model.py`\nThe network.\n"
        "## 3. train.py\nThe loop.\n"
    )
    sections = split_by_file(text, FILES)
    assert sections["data.py"].endswith("### `src/model.py`\nIt feeds the model.")
    assert sections["src/model.py"] == "The network." and sections["train.py"] == "The loop."


def test_the_asked_for_markers_win_over_plain_headings():
    text = "# File: data.py\n## `train.py`\nIt is called by the training loop.\n# File: train.py\nT.\n"
    sections = split_by_file(text, ["data.py", "train.py"])
    assert sections == {"data.py": "## `train.py`\nIt is called by the training loop.", "train.py": "T."}
