"""Scripted answers of a capable model for the real stages on examples/prototype-classifier.md.

:func:`answer` recognises what the stages ask by the prompt templates themselves (rendered here
with marker values), so a change of wording in a template does not break the script, and
answers as a good model would: a plan, a 7-file design, a logic design in dependency order,
config.yaml, an analysis per file and working NumPy code (run_answer_code.py). Used by the
end-to-end tests and by benchmarks/pipeline.py, whose answers must be of realistic size.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from tests.pipeline.run_answer_code import CODE, CONFIG

from papercoder.pipeline.codeblocks import extract_interface
from papercoder.pipeline.filesections import file_marker
from papercoder.prompts import render

FILES = ["data.py", "model.py", "optim.py", "metrics.py", "baselines.py", "train.py", "main.py"]
DEPENDS = {
    "data.py": [],
    "model.py": [],
    "optim.py": [],
    "metrics.py": [],
    "baselines.py": ["model.py"],
    "train.py": ["model.py", "optim.py"],
    "main.py": ["data.py", "metrics.py", "baselines.py", "train.py"],
}
PURPOSE = {
    "data.py": "generates the synthetic Gaussian mixture of Section 2.1 and standardises it with the training statistics",
    "model.py": "holds the prototype classifier of Section 2.2: the embedding W, the log-temperature s, the prototypes and the gradients of Section 2.3",
    "optim.py": "implements Adam with bias correction for NumPy arrays and scalars",
    "metrics.py": "computes accuracy, the negative log-likelihood of the true class and the 15-bin expected calibration error",
    "baselines.py": "implements the nearest-centroid baseline in input space with tau fixed at 1",
    "train.py": "trains the classifier full-batch for the configured epochs, recomputing prototypes at every epoch",
    "main.py": "loads config.yaml, runs the three methods of Table 1 for every seed and prints mean and standard deviation",
}

PLAN = """\
# Reproduction plan: prototype classifiers with a learned temperature

## Method
- Linear embedding e = W^T x with W of shape (D, M) = (16, 8), initialised from N(0, 1/D) with
  a generator seeded by seed + 1.
- Prototypes: the mean embedding of each class's training samples, recomputed at the start of
  every epoch and treated as constants within the step.
- Logits z_k = -||e - c_k||^2 / tau with tau = exp(s), s a learned scalar initialised to 0.
- Loss: mean cross-entropy plus (lambda / 2) ||W||_F^2 with lambda = 1e-4.
- Gradients as given in Section 2.3; Adam (lr 0.01, betas 0.9 and 0.999, eps 1e-8) for 200
  full-batch epochs.

## Data
- K = 4 classes in D = 16 dimensions; only the first 4 dimensions carry class information,
  with class means drawn from N(0, 1.5^2); unit Gaussian noise.
- 200 training and 100 test samples per class, training set drawn first, each set shuffled.
- Features standardised with the training mean and standard deviation.

## Experiments
1. Nearest centroid in input space (tau = 1, no training).
2. Our model with s frozen at 0 (fixed temperature).
3. Our model with s learned (the proposed method).
Each for seeds 0 to 4; the seed fixes the data and the initialisation.

## Metrics
Accuracy, mean negative log-likelihood of the true class, and expected calibration error with
15 equal-width bins over (0, 1]; report mean and standard deviation over seeds.

## Unclear points
- Whether the standard deviation over seeds is the population or sample one: we use NumPy's
  default (population).
- The paper does not say how ties in confidence bins are assigned: a confidence of exactly 1.0
  falls in the last bin, 0 in none.

## Inventory
- [E1] experiment: Table 1 (Section 3): the three methods for seeds 0 to 4, mean and standard deviation
- [B1] baseline: nearest centroid in input space with tau = 1 (Section 3)
- [A1] ablation: the temperature frozen at s = 0 (Table 1, second row)
- [D1] dataset: the synthetic Gaussian mixture of Section 2.1, K = 4, D = 16
- [M1] metric: accuracy
- [M2] metric: negative log-likelihood of the true class
- [M3] metric: expected calibration error, 15 equal-width bins
"""

COVERS = {
    "data.py": ["D1"], "model.py": [], "optim.py": [], "metrics.py": ["M1", "M2", "M3"],
    "baselines.py": ["B1"], "train.py": ["A1"], "main.py": ["E1"],
}

DESIGN = {
    "implementation_approach": (
        "A NumPy-only implementation in seven small modules. data.py draws the synthetic mixture; "
        "model.py holds the classifier and its closed-form gradients; optim.py is a minimal Adam; "
        "metrics.py computes accuracy, NLL and ECE; baselines.py is the nearest-centroid rule; "
        "train.py runs the full-batch loop; main.py reads config.yaml and prints Table 1."
    ),
    "file_list": FILES,
    "entry_point": "main.py",
    "class_diagram": (
        "classDiagram\n"
        "    class PrototypeClassifier {\n"
        "        +ndarray W\n        +float s\n        +ndarray prototypes\n"
        "        +embed(x) ndarray\n        +fit_prototypes(x, y)\n        +predict_proba(x) ndarray\n"
        "        +gradients(x, y, weight_decay) tuple\n    }\n"
        "    class Adam {\n        +float lr\n        +int t\n        +step(name, value, grad)\n        +tick()\n    }\n"
        "    PrototypeClassifier <.. Adam : updates"
    ),
    "sequence_diagram": (
        "sequenceDiagram\n"
        "    participant Main as main.py\n    participant Data as data.py\n    participant Train as train.py\n"
        "    participant Model as PrototypeClassifier\n    participant Metrics as metrics.py\n"
        "    Main->>Data: make_data(config, seed)\n    Main->>Train: train(config, x, y, seed, learn)\n"
        "    Train->>Model: fit_prototypes / gradients\n    Train-->>Main: model\n"
        "    Main->>Model: predict_proba(x_test)\n    Main->>Metrics: accuracy, nll, ece"
    ),
    "unclear_points": ["Population or sample standard deviation over seeds."],
}


def _logic() -> dict:
    return {
        "required_packages": ["numpy>=1.24", "pyyaml>=6"],
        "logic_analysis": [
            {"path": path, "analysis": f"{path} {PURPOSE[path]}.", "depends_on": DEPENDS[path], "covers": COVERS[path]}
            for path in FILES
        ],
        "task_list": FILES,
        "shared_knowledge": (
            "config.yaml has the sections data, model, training and evaluation; arrays are float64 "
            "with samples in rows; labels are integers 0..K-1."
        ),
        "unclear_points": [],
    }


def analysis_of(path: str) -> str:
    """A detailed analysis of realistic length (about 500 tokens)."""
    deps = ", ".join(DEPENDS[path]) or "no other file of the repository"
    functions = re.findall(r"^(?:def|class) (\w+)", CODE[path], re.M)
    keys = sorted(set(re.findall(r'\["(\w+)"\]', CODE[path])))
    lines = [
        f"# Analysis of {path}",
        "",
        "## Purpose",
        f"This file {PURPOSE[path]}. It uses {deps}.",
        "",
        "## Definitions",
    ]
    for name in functions:
        lines.append(
            f"- `{name}`: follows the paper's notation; inputs are NumPy arrays with samples in rows, "
            "outputs are float64 arrays or Python floats. It keeps no hidden state beyond its arguments, "
            "so calling it twice with the same inputs gives the same result."
        )
    lines += [
        "",
        "## Algorithm",
        "1. Read the values it needs from the configuration dictionary loaded from config.yaml.",
        "2. Compute with vectorised NumPy operations; avoid Python loops over samples.",
        "3. Keep the equations of Sections 2.2 and 2.3 exactly: squared Euclidean distances, the",
        "   temperature tau = exp(s), the mean cross-entropy and the L2 penalty lambda / 2 ||W||^2.",
        "",
        "## Configuration keys",
        ", ".join(f"`{k}`" for k in keys) or "none",
        "",
        "## Smoke mode",
        "Sizes come from the configuration, so the smoke run of main.py works with the same code;",
        "nothing is downloaded and everything runs on the CPU in well under a second.",
        "",
        "## Edge cases",
        "A class without training samples would make its prototype undefined; the data generator",
        "always draws every class, so the code does not guard against it.",
    ]
    return "\n".join(lines) + "\n"


def _first_line(template: str, **variables) -> str:
    return render(template, **variables).strip().splitlines()[0]


@lru_cache(maxsize=1)
def _markers() -> dict[str, object]:
    """Recognisers of each request, built from the templates the stages render."""
    marker = "QQPATHQQ"

    def path_pattern(template: str, **variables) -> re.Pattern:
        text = render(template, parts=[], path=marker, entry_point="main.py", **variables)
        line = next(line for line in text.splitlines() if marker in line)
        return re.compile(re.escape(line).replace(re.escape(marker), r"(\S+?)"))

    return {
        "plan": _first_line("planning/overall_plan", paper="", addendum=""),
        "design": _first_line("planning/architecture_design"),
        "logic": _first_line("planning/logic_design", files=[], entry_point="main.py", inventory=[]),
        "config": _first_line("planning/config"),
        "analysis": path_pattern("analysis/file", is_entry=False),
        "code": path_pattern("coding/file", is_entry=False, language="python", requirements=False),
        "checklist": _first_line("planning/checklist", sections=[], files={}, inventory=[], addendum_only=False, figures=False),
        "quotes": _first_line("planning/checklist_quotes", requirements=[]),
        "condense": _first_line("fit/condense", title="", heading="", text="", words=1, part=1, part_count=1),
    }


# The checklist a capable model writes at the end of planning: each requirement quotes the code
# that meets it, in backticks (the scripted judge of tests/verify reads those), names the section
# and a verbatim passage of the example paper that states it, and the files that own it.
CHECKLIST = {"groups": [
    {"requirement": "The prototype classifier of Section 2.2 and its loss", "weight": 5, "items": [
        {"requirement": "Prototypes are the class means of the embedded points (`self.prototypes = np.stack([e[y == k].mean(axis=0)`)", "weight": 3,
         "section": "2 Method", "quote": "The prototype of class k is the mean embedding of its training samples", "files": ["model.py"]},
        {"requirement": "The temperature is tau = exp(s) (`return float(np.exp(self.s))`)", "weight": 3,
         "section": "2 Method", "quote": "divided by the temperature tau = exp(s), where s is a learned scalar", "files": ["model.py"]},
        {"requirement": "The loss adds the L2 penalty on the embedding (`+ 0.5 * weight_decay * (self.W**2).sum()`)", "weight": 3,
         "section": "2 Method", "quote": "plus an L2 penalty on the embedding", "files": ["model.py"]},
        {"requirement": "Class probabilities are a softmax over negative squared distances over tau (`softmax(-self.distances(x) / self.temperature)`)", "weight": 2,
         "section": "2 Method", "quote": "the class probabilities are a softmax over negative squared distances", "files": ["model.py"]},
    ]},
    {"requirement": "The nearest-centroid baseline of Section 2.5", "weight": 3, "items": [
        {"requirement": "The baseline is evaluated for every seed (`evaluate(nearest_centroid_probs(x_train, y_train, x_test, k), y_test, bins)`)", "weight": 2,
         "section": "2 Method", "quote": "Each configuration is run with seeds 0 to 4", "files": ["main.py"]},
        {"requirement": "It uses centroids in input space (`centroids = np.stack([x_train[y_train == k].mean(axis=0)`)", "weight": 1,
         "section": "2 Method", "quote": "class means of the standardised inputs", "files": ["baselines.py"]},
    ]},
    {"requirement": "The evaluation of Table 1", "weight": 4, "items": [
        {"requirement": "Expected calibration error with equal-width bins (`edges = np.linspace(0.0, 1.0, bins + 1)`)", "weight": 2,
         "section": "2 Method", "quote": "the expected calibration error (ECE) with 15 equal-width confidence bins", "files": ["metrics.py"]},
        {"requirement": "The learned models are evaluated on the test split (`model.predict_proba(x_test), y_test`)", "weight": 3,
         "section": "2 Method", "quote": "prototypes are computed once more from the training set and the test set is classified", "files": ["main.py"]},
        {"requirement": "Adam with bias correction (`m_hat = m / (1 - self.beta1**self.t)`)", "weight": 1,
         "section": "3 Hyperparameters", "quote": "Both W and s are updated with Adam", "files": ["optim.py"]},
    ]},
]}


def skeleton_text(code: dict[str, str]) -> str:
    """The interface skeleton a model would give for files ``code``: imports and stubs per file."""
    import ast

    sections = []
    for path, source in code.items():
        if not path.endswith(".py"):
            continue
        tree = ast.parse(source)
        imports = [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        stubs = "\n".join(imports) + "\n\n\n" + extract_interface(source)
        sections.append(f"### `{path}`\n```python\n{stubs.strip()}\n```\n")
    return "The interface skeleton of the repository.\n\n" + "\n".join(sections)


GROUP_LINE = re.compile(r"^Write the detailed implementation analysis of each of these \d+ files, .*$", re.M)


def group_of(messages: list[dict]) -> list[str] | None:
    """The files a request for several analyses at once names, or None for another request."""
    found = GROUP_LINE.search(messages[-1]["content"])
    return re.findall(r"`([^`]+)`", found.group(0).split(":", 1)[1]) if found else None


def grouped(paths: list[str], analyses: list[str]) -> str:
    """One answer holding the analyses of ``paths``, each after its marker line."""
    return "\n".join(f"{file_marker(path)}\n\n{text.strip()}\n" for path, text in zip(paths, analyses))


def kind_of(messages: list[dict]) -> tuple[str, str | None]:
    """What a request asks for: ("plan"|"design"|"logic"|"config"|"analysis"|"analyses"|"code"|..., path).

    For "analyses" (several files at once) the files are in :func:`group_of`.
    """
    prompt = messages[-1]["content"]
    if group_of(messages):
        return "analyses", None
    markers = _markers()
    for kind in ("analysis", "code"):
        found = markers[kind].search(prompt)
        if found:
            return kind, found.group(1)
    if "Write the interface skeleton of every Python file" in prompt:
        return "interfaces", None
    for kind in ("plan", "design", "logic", "config", "checklist", "quotes", "condense"):
        if prompt.strip().startswith(markers[kind]):
            return kind, None
    return "other", None


def answer(messages: list[dict]) -> str:
    """The answer a capable model would give to any request of the stages on the example paper."""
    kind, path = kind_of(messages)
    if kind == "plan":
        return PLAN
    if kind == "design":
        return "```json\n" + json.dumps(DESIGN, indent=2) + "\n```"
    if kind == "logic":
        return json.dumps(_logic(), indent=2)
    if kind == "config":
        return "```yaml\n" + CONFIG + "```"
    if kind == "interfaces":
        return skeleton_text(CODE)
    if kind == "analysis":
        return analysis_of(path)
    if kind == "analyses":
        paths = group_of(messages)
        return grouped(paths, [analysis_of(p) for p in paths])
    if kind == "code":
        return f"```python\n{CODE[path]}```"
    if kind == "checklist":
        return json.dumps(CHECKLIST)
    if kind == "quotes":
        return json.dumps({"quotes": {}})
    if kind == "condense":
        section = re.search(r"<section>\n(.*)\n</section>", messages[-1]["content"], re.S).group(1)
        return section[: len(section) // 3]
    raise AssertionError("the scripted model was asked something unexpected: " + messages[-1]["content"][:300])


_PADDING = (
    "The implementation keeps every quantity of the paper explicit: shapes are stated at each step, "
    "the configuration names every hyperparameter, and each function says which equation it follows. "
)


def long_answer(messages: list[dict], design_tokens: int = 6000, logic_tokens: int = 7000) -> str:
    """As :func:`answer`, but with the design and logic design as long as a capable model writes
    them for a large paper (about ``design_tokens`` and ``logic_tokens`` tokens)."""
    kind, _ = kind_of(messages)
    if kind == "other" and len(messages) > 2:  # a repair turn: answer the question it repairs again
        return long_answer(messages[:-2], design_tokens, logic_tokens)
    if kind == "design":
        design = dict(DESIGN)
        design["implementation_approach"] += "\n\n" + _PADDING * (design_tokens * 4 // len(_PADDING))
        return "```json\n" + json.dumps(design, indent=2) + "\n```"
    if kind == "logic":
        logic = _logic()
        each = logic_tokens * 4 // len(FILES) // len(_PADDING)
        for item in logic["logic_analysis"]:
            item["analysis"] += " " + _PADDING * each
        return json.dumps(logic, indent=2)
    return answer(messages)


# Answer sizes of issue 11's side-by-side measurement, in tokens (characters / 4). The skeleton
# has no counterpart in PaperCoder; 1,500 tokens is about 200 per file of the 7-file plan.
ISSUE_SIZES = {"plan": 1500, "design": 1200, "logic": 1500, "config": 300, "interfaces": 1500, "analysis": 1200, "code": 2000}


def _padded(text: str, tokens: int, line: str = "", prefix: str = "") -> str:
    """``text`` grown to about ``tokens`` tokens with whole lines of padding."""
    missing = tokens * 4 - len(text)
    if missing <= 0:
        return text
    unit = prefix + (line or _PADDING).strip() + "\n"
    return text.rstrip("\n") + "\n" + unit * max(1, round(missing / len(unit)))


def sized_answer(messages: list[dict], sizes: dict[str, int] | None = None) -> str:
    """As :func:`answer`, with every answer grown to the size ``sizes`` gives its kind."""
    sizes = sizes or ISSUE_SIZES
    kind, path = kind_of(messages)
    if kind == "other" and len(messages) > 2:
        return sized_answer(messages[:-2], sizes)
    if kind == "analyses":
        paths = group_of(messages)
        return grouped(paths, [_padded(analysis_of(p), sizes["analysis"]) for p in paths])
    want = sizes.get(kind)
    if want is None:
        return answer(messages)
    if kind == "design":
        design = dict(DESIGN)
        base = len(json.dumps(design, indent=2))
        design["implementation_approach"] += "\n" + _padded("", want - base // 4)
        return "```json\n" + json.dumps(design, indent=2) + "\n```"
    if kind == "logic":
        logic = _logic()
        items = logic["logic_analysis"]
        k = 0
        while len(json.dumps(logic, indent=2)) < want * 4 - len(_PADDING) // 2:
            items[k % len(items)]["analysis"] += " " + _PADDING.strip()
            k += 1
        return json.dumps(logic, indent=2)
    if kind == "config":
        return "```yaml\n" + _padded(CONFIG, want - 4, prefix="# ") + "```"
    if kind == "code":
        return f"```python\n{_padded(CODE[path], want - 4, prefix='# ')}```"
    if kind == "interfaces":
        return _padded(skeleton_text(CODE), want)
    return _padded(answer(messages), want)
