"""Parsing and checking the interface skeleton the model writes before any code."""

from __future__ import annotations

from papercoder.pipeline.skeleton import diagram_names, parse_skeleton, review_skeleton, skeleton_document

FILES = ["main.py", "model.py", "src/data.py"]

GOOD = '''Here is the skeleton.

### `model.py`
```python
"""The model."""
import torch


class Transformer:
    """Encoder-decoder; reads config keys model.d_model, model.n_heads."""

    def __init__(self, config: dict) -> None: ...

    def forward(self, src, tgt):
        """Returns logits of shape (batch, tgt_len, vocab)."""
        ...
```

**File: src/data.py**

```python
def load_batches(config: dict, split: str) -> list:
    """Returns a list of dicts with keys 'src' and 'tgt'."""
    ...
```

```python
# main.py
from model import Transformer
from src.data import load_batches


def main(argv: list[str] | None = None) -> int: ...
```
'''


def test_sections_named_by_heading_bold_line_or_first_comment():
    skeleton = parse_skeleton(GOOD, FILES)
    assert set(skeleton) == set(FILES)
    assert "class Transformer" in skeleton["model.py"]
    assert "def load_batches" in skeleton["src/data.py"]
    assert skeleton["main.py"].lstrip().startswith("# main.py")


def test_a_good_skeleton_has_no_problems():
    skeleton = parse_skeleton(GOOD, FILES)
    assert review_skeleton(skeleton, FILES, ["Transformer"], {"Transformer": ["forward"]}) == []


def test_missing_files_bad_syntax_and_unknown_imports_are_problems():
    text = GOOD.replace("def load_batches(config: dict, split: str) -> list:", "def load_batches(config: dict, split: str) -> list")
    text = text.replace("from model import Transformer", "from model import Transformer, Decoder")
    problems = review_skeleton(parse_skeleton(text, FILES + ["utils.py"]), FILES + ["utils.py"], [], {})
    joined = "\n".join(problems)
    assert "utils.py" in joined and "no skeleton" in joined
    assert "src/data.py" in joined and "parse" in joined
    assert "Decoder" in joined


def test_design_names_missing_from_the_skeleton_are_problems():
    skeleton = parse_skeleton(GOOD, FILES)
    problems = review_skeleton(skeleton, FILES, ["Transformer", "Trainer"], {"Transformer": ["forward", "generate"]})
    joined = "\n".join(problems)
    assert "Trainer" in joined and "generate" in joined and "forward" not in joined


def test_calls_between_skeleton_files_are_checked():
    text = GOOD.replace("def main(argv: list[str] | None = None) -> int: ...",
                        "def main() -> int:\n    return len(load_batches({}))")
    problems = review_skeleton(parse_skeleton(text, FILES), FILES, [], {})
    assert any("split" in p for p in problems), problems


def test_unknown_paths_and_prose_are_ignored_and_the_first_block_of_a_file_wins():
    text = "### notes.py\n```python\nx = 1\n```\n### model.py\n```python\nA = 1\n```\n```python\n# model.py\nB = 2\n```\n"
    skeleton = parse_skeleton(text, ["model.py"])
    assert skeleton == {"model.py": "A = 1\n"}


def test_no_blocks_gives_nothing():
    assert parse_skeleton("I cannot do that.", FILES) == {}
    assert parse_skeleton("", FILES) == {}


def test_names_from_a_mermaid_class_diagram():
    diagram = """classDiagram
    class Transformer {
        +int d_model
        +forward(src, tgt) Tensor
        +encode(src)
    }
    class Trainer
    Trainer : +train(epochs)
    Trainer --> Transformer : uses
    class `Odd Name`
"""
    classes, methods = diagram_names(diagram)
    assert classes == ["Transformer", "Trainer"]
    assert methods == {"Transformer": ["forward", "encode"], "Trainer": ["train"]}


def test_the_document_lists_files_in_task_order():
    skeleton = {"model.py": "A = 1\n", "main.py": "import model\n"}
    doc = skeleton_document(skeleton, ["main.py", "model.py", "data.yaml"])
    assert doc.index("main.py") < doc.index("model.py")
    assert "```python\nA = 1\n```" in doc
    assert parse_skeleton(doc, ["main.py", "model.py"]) == skeleton
