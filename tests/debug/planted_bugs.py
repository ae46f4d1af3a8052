"""Planted-bug repositories and the scripted answers that repair them.

A small numpy experiment (linear regression by gradient descent on synthetic data, with a
``--smoke`` mode) is written sound, then one bug is planted per case. Each case carries the
replies a scripted model gives; a reply may be a function of the messages, to answer feedback.
Used by the tests and by ``measure.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SOUND: dict[str, str] = {
    "main.py": '''import argparse

import yaml

from data import make_data
from model import LinearModel
from train import train


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    with open(args.config) as handle:
        config = yaml.safe_load(handle)
    steps = config["training"]["smoke_steps"] if args.smoke else config["training"]["steps"]
    x, y = make_data(config["data"]["n_samples"], config["data"]["n_features"], seed=config["seed"])
    model = LinearModel(config["data"]["n_features"])
    loss = train(model, x, y, lr=config["training"]["lr"], steps=steps)
    print(f"final loss {loss:.4f}")


if __name__ == "__main__":
    main()
''',
    "data.py": '''import numpy as np


def make_data(n_samples, n_features, seed=0):
    """Synthetic regression data: y = x w + noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_samples, n_features))
    w = rng.normal(size=(n_features,))
    y = x @ w + 0.01 * rng.normal(size=n_samples)
    return x, y
''',
    "model.py": '''import numpy as np


class LinearModel:
    def __init__(self, n_features):
        self.w = np.zeros(n_features)

    def predict(self, x):
        return x @ self.w

    def gradient(self, x, y):
        error = self.predict(x) - y
        return x.T @ error / len(y)
''',
    "train.py": '''import numpy as np


def train(model, x, y, lr, steps):
    loss = float("nan")
    for _ in range(steps):
        model.w -= lr * model.gradient(x, y)
        loss = float(np.mean((model.predict(x) - y) ** 2))
    return loss
''',
    "config.yaml": '''seed: 0
data:
  n_samples: 64
  n_features: 5
training:
  lr: 0.1
  steps: 500
  smoke_steps: 3
''',
    "requirements.txt": "numpy>=1.24\npyyaml>=6\n",
    "smoke.sh": '''#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")"
python main.py --config config.yaml --smoke "$@"
''',
}

def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


@dataclass
class Case:
    """One planted bug: how to break the sound repository, and the scripted repair."""

    name: str
    file: str
    before: str  # text in the sound file...
    after: str  # ...replaced by this to plant the bug
    replies: list[str] | Callable[[list[dict]], str] = field(default_factory=list)
    calls: int = 1  # model calls the repair takes

    def provider(self):
        """A scripted provider answering this case."""
        from papercoder.llm import ScriptedProvider

        return ScriptedProvider(self.replies if callable(self.replies) else list(self.replies))

    def build(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        for name, text in SOUND.items():
            if name == self.file:
                assert self.before in text, f"{self.name}: planting text not found"
                text = text.replace(self.before, self.after, 1)
            (root / name).write_text(text)
        return root


def _after_feedback(first_wrong: str, then: str) -> Callable[[list[dict]], str]:
    """A reply that is wrong the first time and corrected once the feedback arrives."""

    def reply(messages: list[dict]) -> str:
        return then if "was not applied" in messages[-1]["content"] else first_wrong

    return reply


CASES: list[Case] = [
    Case(
        "syntax-error",
        "model.py",
        "    def predict(self, x):\n",
        "    def predict(self, x)\n",
        # the first answer quotes a line that is not in the file; the feedback shows the closest lines
        replies=_after_feedback(
            "The colon is missing.\n\n" + block("model.py", "def predict(self, inputs)\n", "def predict(self, inputs):\n"),
            "Quoting the line exactly this time.\n\n" + block("model.py", "    def predict(self, x)\n", "    def predict(self, x):\n"),
        ),
        calls=2,
    ),
    Case(
        "wrong-import-name",
        "main.py",
        "from model import LinearModel\n",
        "from model import LinearModle\n",
        replies=["The class is LinearModel.\n\n```python\n" + block("main.py", "from model import LinearModle\n", "from model import LinearModel\n") + "```\n"],
    ),
    Case(
        "missing-config-key",
        "config.yaml",
        "  smoke_steps: 3\n",
        "",
        replies=["config.yaml has no smoke_steps.\n\n" + block("config.yaml", "  steps: 500\n", "  steps: 500\n  smoke_steps: 3\n")],
    ),
    Case(
        "numpy-shape-mismatch",
        "model.py",
        "        return x.T @ error / len(y)\n",
        "        return x @ error / len(y)\n",
        # indentation dropped by the model: the whitespace-tolerant match still applies it
        replies=["The gradient needs the transpose.\n\n" + block("**model.py**", "return x @ error / len(y)\n", "return x.T @ error / len(y)\n")],
    ),
    Case(
        "missing-requirement",
        "requirements.txt",
        "pyyaml>=6\n",
        "",
        replies=[],  # papercoder adds the requirement itself: no model call
        calls=0,
    ),
    Case(
        "undefined-name",
        "train.py",
        "import numpy as np\n\n\n",
        "",
        replies=[
            "numpy is used but not imported.\n\n"
            + block("train.py", "def train(model, x, y, lr, steps):\n", "import numpy as np\n\n\ndef train(model, x, y, lr, steps):\n")
        ],
    ),
    Case(
        "bug-off-the-smoke-path",
        "train.py",
        "    return loss\n",
        "    return loss\n\n\ndef evaluate(model, x, y):\n    return mean_squared_error(model.predict(x), y)\n",
        # the smoke run passes; the static check still sees an undefined name in unreached code
        replies=[
            "mean_squared_error is never defined.\n\n"
            + block("train.py", "    return mean_squared_error(model.predict(x), y)\n", "    return float(np.mean((model.predict(x) - y) ** 2))\n")
        ],
    ),
]
