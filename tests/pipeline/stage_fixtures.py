"""Fixtures of the stage tests: a small paper, a run directory, and a scripted model that answers
each request by what it asks (so concurrent calls get the right answer whatever their order)."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.pipeline.run_answers import skeleton_text

from papercoder.llm import LLM, FakeReply, ScriptedProvider
from papercoder.pipeline.analysis import run_analysis
from papercoder.pipeline.coding import run_coding
from papercoder.rundir.paths import RunPaths
from papercoder.rundir.context import StageContext
from papercoder.pipeline.filesections import file_marker
from papercoder.pipeline.planning import run_planning

PAPER = """# Tiny Ridge Networks for Noisy Regression

## Abstract

We propose a two-layer network trained with an L2 penalty on noisy synthetic regression data.

## Method

The model is f(x) = W2 relu(W1 x + b1) + b2 with hidden width 16. The loss is the mean squared
error plus lambda times the squared norm of the weights, with lambda = 0.01.

## Experiments

We train for 200 epochs with Adam, learning rate 0.001 and batch size 32, on 1000 points drawn
from y = sin(3x) + noise with noise standard deviation 0.1. We report the test mean squared error.
"""

PLAN = """## Method
A two-layer MLP with width 16, MSE loss plus an L2 penalty (lambda 0.01).
## Data
1000 synthetic points, y = sin(3x) + N(0, 0.1).
## Training
Adam, lr 0.001, batch 32, 200 epochs.
## Evaluation
Test MSE.
## Unclear points
Train/test split ratio: use 80/20.
## Inventory
- [E1] experiment: the regression experiment (Section 3): train and report test MSE
- [D1] dataset: 1000 synthetic points y = sin(3x) + noise
- [M1] metric: test mean squared error
"""

# the checklist a capable model writes for PAPER: quotes from it, owners among FILES
CHECKLIST = {"groups": [
    {"requirement": "The model and loss of the Method section", "weight": 3, "items": [
        {"requirement": "The hidden width is 16", "section": "Method", "quote": "W2 relu(W1 x + b1) + b2 with hidden width 16",
         "files": ["model.py"]},
        {"requirement": "The loss is the MSE plus 0.01 times the squared norm of the weights", "weight": 2, "section": "Method",
         "quote": "error plus lambda times the squared norm of the weights, with lambda = 0.01", "files": ["model.py"]},
    ]},
    {"requirement": "The regression experiment", "weight": 2, "items": [
        {"requirement": "1000 points from y = sin(3x) with noise of standard deviation 0.1", "section": "Experiments",
         "quote": "on 1000 points drawn from y = sin(3x) + noise", "files": ["data.py"]},
        {"requirement": "Adam with learning rate 0.001 and batch size 32 for 200 epochs; test MSE reported", "section": "Experiments",
         "quote": "We train for 200 epochs with Adam, learning rate 0.001 and batch size 32", "files": ["main.py"]},
    ]},
]}

# which inventory items each planned file implements
DEFAULT_COVERS = {"data.py": ["D1"], "model.py": ["M1"], "main.py": ["E1"]}

FILES = ["data.py", "model.py", "main.py"]

DATA_PY = '''"""Synthetic data: y = sin(3x) + noise."""
import math
import random


def make_data(n, noise, seed=0):
    """Return a list of (x, y) pairs."""
    rng = random.Random(seed)
    xs = [rng.uniform(-1, 1) for _ in range(n)]
    return [(x, math.sin(3 * x) + rng.gauss(0, noise)) for x in xs]
'''

MODEL_PY = '''"""The model: a linear fit standing in for the paper's network."""


class Model:
    """Fits y = a x + b by gradient descent."""

    def __init__(self, lr=0.001):
        self.a = 0.0
        self.b = 0.0
        self.lr = lr

    def step(self, x, y):
        """One gradient step on one point; returns the squared error."""
        err = self.a * x + self.b - y
        self.a -= self.lr * err * x
        self.b -= self.lr * err
        return err * err
'''

MAIN_PY = '''"""Entry point: train on synthetic data and report the error."""
import argparse

import yaml

from data import make_data
from model import Model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    with open(args.config) as f:
        config = yaml.safe_load(f) or {}
    n = 20 if args.smoke else config["data"]["n"]
    points = make_data(n, config["data"]["noise"])
    model = Model(config["training"]["lr"])
    loss = sum(model.step(x, y) for x, y in points) / len(points)
    print(f"mse {loss:.4f}")


if __name__ == "__main__":
    main()
'''

CODE = {"data.py": DATA_PY, "model.py": MODEL_PY, "main.py": MAIN_PY}

CONFIG = """```yaml
data:
  n: 1000
  noise: 0.1  # Section 3
training:
  lr: 0.001
  batch_size: 32
  epochs: 200
model:
  hidden: 16
  weight_decay: 0.01
```"""


def design_json(files=FILES, entry="main.py", **overrides) -> str:
    data = {
        "implementation_approach": "Plain Python: a data generator, a model, a training entry point.",
        "file_list": list(files),
        "entry_point": entry,
        "class_diagram": "classDiagram\n  class Model {\n    +step(x, y) float\n  }",
        "sequence_diagram": "sequenceDiagram\n  main->>data: make_data\n  main->>Model: step",
        "unclear_points": ["split ratio"],
    }
    data.update(overrides)
    return "```json\n" + json.dumps(data, indent=1) + "\n```"


DEFAULT_DEPS = {"data.py": [], "model.py": [], "main.py": ["data.py", "model.py"]}


def logic_json(tasks=FILES, deps=None, packages=("numpy", "pyyaml"), **overrides) -> str:
    deps = DEFAULT_DEPS if deps is None else deps
    data = {
        "required_packages": list(packages),
        "logic_analysis": [
            {"path": path, "analysis": f"Logic of {path}: implements its part of the paper.", "depends_on": d,
             "covers": DEFAULT_COVERS.get(path, [])}
            for path, d in deps.items()
        ],
        "task_list": list(tasks),
        "shared_knowledge": "config keys: data.n, data.noise, training.lr",
        "unclear_points": [],
    }
    data.update(overrides)
    return json.dumps(data)


def fenced(code: str, language: str = "python") -> str:
    return f"Here is the file.\n\n```{language}\n{code}```\n"


_FILE = re.compile(r"Write the complete file `([^`]+)`")
_ANALYSIS = re.compile(r"implementation analysis of `([^`]+)`")
_ANALYSES = re.compile(r"implementation analysis of each of these \d+ files, [^:]*:(.*)$", re.M)
_BROKEN_FILE = re.compile(r"The file `([^`]+)` you wrote does not parse")
_EMPTY_FILE = re.compile(r"Your answer held no code for `([^`]+)`")


def classify(messages: list[dict]) -> str:
    """The kind of request: which turn, which file."""
    last = messages[-1]["content"]
    if "Your previous answer could not be used" in last:
        return "json_repair"
    if "cut off at the output limit" in last:
        code = next((m["content"] for m in messages if _FILE.search(m["content"])), "")
        return "continue:" + (_FILE.search(code).group(1) if code else "?")
    if match := _EMPTY_FILE.search(last):
        return "empty_retry:" + match.group(1)
    if match := _BROKEN_FILE.search(last):
        return "syntax_repair:" + match.group(1)
    if match := _FILE.search(last):
        return "code:" + match.group(1)
    if "has not been run yet. Checks that compare the files" in last or "had no SEARCH/REPLACE block" in last:
        return "reconcile"
    if "The skeleton has problems" in last:
        return "interfaces_repair"
    if "Write the interface skeleton of every Python file" in last:
        return "interfaces"
    if last.startswith("Write the checklist of requirements"):
        return "checklist"
    if "The quotes given for these requirements are not in the paper" in last:
        return "quotes"
    if match := _ANALYSES.search(last):
        return "analyses:" + ",".join(re.findall(r"`([^`]+)`", match.group(1)))
    if match := _ANALYSIS.search(last):
        return "analysis:" + match.group(1)
    if "Your architecture design has problems" in last:
        return "design_repair"
    if "Your logic design has problems" in last:
        return "logic_repair"
    if "That config.yaml cannot be used" in last:
        return "config_repair"
    if "write config.yaml for the repository" in last:
        return "config"
    if "Next, the logic design" in last:
        return "logic"
    if "design the architecture" in last:
        return "design"
    if "overall implementation plan" in last:
        return "plan"
    raise AssertionError("unexpected request: " + last[:300])


@dataclass
class PaperModel:
    """Answers by request kind. A list is consumed in order (the last answer repeats)."""

    answers: dict = field(default_factory=dict)
    delay: float = 0.0
    seen: list = field(default_factory=list)

    def __post_init__(self) -> None:
        defaults = {
            "plan": PLAN,
            "design": design_json(),
            "logic": logic_json(),
            "config": CONFIG,
            "analysis": "## Analysis\nDetailed steps for this file.",
            **{f"code:{path}": fenced(code) for path, code in CODE.items()},
            "interfaces": skeleton_text(CODE),
            "interfaces_repair": skeleton_text(CODE),
            "reconcile": "The files agree; no edits.",
            "checklist": json.dumps(CHECKLIST),
            "quotes": json.dumps({"quotes": {}}),
        }
        self.answers = {**defaults, **self.answers}

    def __call__(self, messages: list[dict]) -> FakeReply:
        kind = classify(messages)
        self.seen.append(kind)
        key = kind if kind in self.answers else kind.split(":")[0]
        if key == "analyses" and key not in self.answers:  # each file's scripted analysis, marked
            return FakeReply(text=self._grouped(kind.split(":", 1)[1].split(",")), delay=self.delay)
        if key not in self.answers:
            raise AssertionError(f"no scripted answer for {kind}")
        answer = self.answers[key]
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, str):
            answer = FakeReply(text=answer)
        if self.delay and not answer.delay:
            answer = FakeReply(answer.text, answer.finish_reason, self.delay, answer.error, answer.usage)
        return answer


    def _grouped(self, paths: list[str]) -> str:
        texts = []
        for path in paths:
            answer = self.answers.get(f"analysis:{path}", self.answers["analysis"])
            if isinstance(answer, list):
                answer = answer.pop(0) if len(answer) > 1 else answer[0]
            texts.append(f"{file_marker(path)}\n{getattr(answer, 'text', answer)}\n")
        return "\n".join(texts)


@dataclass
class Run:
    """A run directory with the paper, a context, and what the stages reported."""

    ctx: StageContext
    provider: ScriptedProvider
    notes: list = field(default_factory=list)
    progress: list = field(default_factory=list)

    @property
    def paths(self) -> RunPaths:
        return self.ctx.paths

    @property
    def fallbacks(self) -> list[str]:
        return self.ctx.fallbacks

    def stage(self, stage: str) -> None:
        func = {"planning": run_planning, "analysis": run_analysis, "coding": run_coding}[stage]
        asyncio.run(func(self.ctx))

    def all(self) -> None:
        for stage in ("planning", "analysis", "coding"):
            self.stage(stage)


def make_run(root: Path, model: PaperModel | None = None, *, window: int = 128_000, concurrency: int = 4,
             paper: str = PAPER, coding: str = "wave", analysis_group: int | None = None) -> Run:
    root.mkdir(parents=True, exist_ok=True)
    (root / "paper.md").write_text(paper, encoding="utf-8")
    provider = ScriptedProvider(model or PaperModel(), context_window=window)
    run = Run(ctx=None, provider=provider)  # type: ignore[arg-type]
    run.ctx = StageContext(
        paths=RunPaths(root),
        llm=LLM(provider, concurrency=concurrency),
        concurrency=concurrency,
        coding=coding,
        analysis_group=analysis_group,
        progress=lambda stage, done, total: run.progress.append((stage, done, total)),
        note=run.notes.append,
    )
    return run


def request_key(request) -> str:
    """A request as the call log would hash it."""
    return json.dumps(
        {"messages": request.messages, "max_tokens": request.max_tokens, "schema": request.schema_name},
        sort_keys=True,
    )
