"""Code extraction, interfaces and dependency layers: what a model's code answer flows through."""

import ast

import pytest

from papercoder.pipeline.codeblocks import (
    dependency_layers,
    extract_code,
    extract_interface,
    fenced_blocks,
    find_cycles,
    has_open_fence,
    imported_top_level,
    join_continuation,
)


def test_code_from_fence_with_prose_around():
    answer = "Here is the file:\n\n```python\nimport os\n\nprint(os.name)\n```\n\nIt prints the OS name."
    assert extract_code(answer, "main.py") == "import os\n\nprint(os.name)\n"


def test_prefers_block_in_the_files_language_then_longest():
    answer = "```bash\npython main.py --config config.yaml --smoke --verbose\n```\n```python\nx = 1\n```\n"
    assert extract_code(answer, "model.py") == "x = 1\n"
    two = "```python\nshort = 1\n```\ntext\n```python\nlonger = 1\nlonger += 1\n```"
    assert extract_code(two, "model.py") == "longer = 1\nlonger += 1\n"


def test_no_fence_takes_whole_answer():
    assert extract_code("\n\nx = 1\ny = 2\n\n", "a.py") == "x = 1\ny = 2\n"


def test_markdown_block_keeps_nested_fences():
    answer = "````markdown\n# Title\n\n```bash\nrun\n```\n\nend\n````"
    assert extract_code(answer, "README.md") == "# Title\n\n```bash\nrun\n```\n\nend\n"
    same_length = "```markdown\n# T\n```python\nx = 1\n```\nafter\n```\n"
    assert extract_code(same_length, "docs.md") == "# T\n```python\nx = 1\n```\nafter\n"


def test_fence_closed_at_the_end_of_the_last_line():
    assert extract_code("```python\nx = 1\nprint(x)```\n", "a.py") == "x = 1\nprint(x)\n"


def test_fence_opened_mid_line():
    assert extract_code("Here it is: ```python\nx = 1\n```\nDone.", "a.py") == "x = 1\n"


def test_tilde_fences_and_longer_closing_fence():
    assert extract_code("~~~python\na = 1\n~~~", "a.py") == "a = 1\n"
    assert extract_code("```python\na = 1\n`````\n", "a.py") == "a = 1\n"


def test_unclosed_fence_is_kept_and_detected():
    answer = "```python\ndef f():\n    return 1\n"
    assert has_open_fence(answer)
    assert not has_open_fence("```python\nx\n```")
    assert extract_code(answer, "a.py") == "def f():\n    return 1\n"
    assert fenced_blocks(answer)[0].closed is False


def test_join_continuation_drops_reopened_fence_and_repeated_cut_line():
    partial = "```python\ndef f():\n    return 1\n\ndef g(x):\n    y = x +"
    continuation = "```python\n    y = x + 1\n    return y\n```"
    joined = join_continuation(partial, continuation)
    code = extract_code(joined, "a.py")
    ast.parse(code)
    assert code.count("def g") == 1 and "y = x + 1" in code and "y = x +\n" not in code


def test_join_continuation_plain_midline():
    joined = join_continuation("```python\nvalue = 12", "34\nprint(value)\n```")
    assert extract_code(joined, "a.py") == "value = 1234\nprint(value)\n"


def test_interface_keeps_signatures_and_docstrings_not_bodies():
    source = '''"""Models."""
import torch
SECRET = 3
_private = 4

class Net(Base):
    """A network."""
    hidden: int = 4

    def __init__(self, hidden: int = 4) -> None:
        self.hidden = hidden
        self.layers = [i for i in range(100)]

    def forward(self, x):
        """Run it."""
        return x * 2

    def _helper(self):
        return 1

async def train(model: "Net", *, steps: int = 10) -> float:
    total = 0
    for _ in range(steps):
        total += 1
    return total
'''
    iface = extract_interface(source)
    ast.parse(iface)
    assert "class Net(Base):" in iface and "def __init__(self, hidden: int=4) -> None:" in iface
    assert '"""Run it."""' in iface and iface.startswith('"""Models."""') and "async def train(model: 'Net', *, steps: int=10) -> float:" in iface
    assert "SECRET = 3" in iface and "_private" not in iface and "_helper" not in iface
    assert "range(100)" not in iface and "total += 1" not in iface
    assert "import torch" not in iface


def test_interface_of_broken_file_falls_back_to_def_lines():
    iface = extract_interface("def ok(a, b):\n    return (\nclass C:\n  pass\n")
    assert iface == "def ok(a, b):\nclass C:\n"


def test_imported_top_level():
    src = "import torch.nn as nn\nfrom sklearn.metrics import f1_score\nfrom . import local\nimport os, numpy\n"
    assert imported_top_level(src) == ["torch", "sklearn", "os", "numpy"]


def test_layers_follow_dependencies_and_keep_order():
    order = ["main.py", "model.py", "data.py", "train.py"]
    deps = {"main.py": ["train.py"], "train.py": ["model.py", "data.py"], "model.py": ["utils.py"]}
    assert dependency_layers(order, deps) == [["model.py", "data.py"], ["train.py"], ["main.py"]]


def test_layers_raise_on_cycle_and_cycles_are_found():
    order = ["a.py", "b.py", "c.py", "d.py"]
    deps = {"a.py": ["b.py"], "b.py": ["c.py"], "c.py": ["a.py"], "d.py": ["d.py"]}
    with pytest.raises(ValueError):
        dependency_layers(order, deps)
    assert find_cycles(order, deps) == [["a.py", "b.py", "c.py"], ["d.py"]]
    assert find_cycles(order, {"a.py": ["b.py"]}) == []


def test_requirements_from_plan_and_imports():
    from papercoder.pipeline.extras import requirements_text

    sources = {
        "main.py": "import os\nimport yaml\nfrom sklearn.metrics import f1_score\nfrom models.net import Net\nimport utils\n",
        "models/net.py": "import torch.nn as nn\nimport numpy as np\nfrom google.protobuf import message\n",
        "utils.py": "import json\n",
        "notes.md": "import fake\n",
    }
    planned = ["torch>=2.0", "os", "json", "sklearn", "Numpy"]
    # pip names from the one import-to-distribution table (repo/importmap.py), as the sandbox and check use
    assert requirements_text(planned, sources) == "torch>=2.0\nscikit-learn\nNumpy\npyyaml\n"


def test_requirements_txt_the_sandbox_and_check_read_one_table():
    from papercoder.pipeline.extras import requirements_text
    from papercoder.repo.importmap import distribution_for

    sources = {"main.py": "import cv2\nimport PIL\nimport gymnasium\nimport torch_geometric\nimport transformers\n"
                          "from sentence_transformers import util\nimport yaml\nimport sklearn\n"}
    written = requirements_text([], sources).split()
    assert written == [distribution_for(name) for name in
                       ("PIL", "cv2", "gymnasium", "sentence_transformers", "sklearn", "torch_geometric", "transformers", "yaml")]
    assert written[:2] == ["pillow", "opencv-python"] and "torch-geometric" in written
