"""A scripted reviewer and editor for the verify stage, on the example paper's scripted code.

They behave like a model in what matters: the checklist (planning's, from run_answers) names what
the paper requires (each requirement quotes the code that meets it, in backticks); the judge passes a requirement only
when every quoted piece appears in the files its request shows; the editor, asked to meet a
requirement, rewrites the part of the file that differs from a faithful implementation (the
scripted code of run_answer_code.py) where the quoted piece belongs. Planted omissions are
edits of that code that the smoke run and the static checks do not catch.
"""

from __future__ import annotations

import difflib
import json
import re

from tests.pipeline.run_answer_code import CODE
from tests.pipeline.run_answers import CHECKLIST, answer

# (leaf id, file, the faithful text, the planted text)
PLANTS = [
    ("1.3", "model.py", "+ 0.5 * weight_decay * (self.W**2).sum()", ""),  # a loss term left out
    ("1.2", "model.py", "return float(np.exp(self.s))", "return float(np.exp(2 * self.s))"),  # a wrong constant
    ("3.2", "main.py", "results[name].append(evaluate(model.predict_proba(x_test), y_test, bins))",
     "results[name].append(evaluate(model.predict_proba(x_train), y_train, bins))"),  # the wrong split
    ("2.1", "main.py", 'results["nearest centroid"].append(evaluate(nearest_centroid_probs(x_train, y_train, x_test, k), y_test, bins))',
     'results["nearest centroid"].append((0.0, 0.0, 0.0))'),  # a baseline never run
]

__all__ = ["CHECKLIST", "PLANTS", "planted", "verify_answer"]  # CHECKLIST: planning's, from run_answers

_QUOTED = re.compile(r"`([^`]+)`")


def planted(files: dict[str, str] | None = None) -> dict[str, str]:
    """The scripted code with every omission of PLANTS made."""
    files = dict(files or CODE)
    for _, path, faithful, wrong in PLANTS:
        assert faithful in files[path], faithful
        files[path] = files[path].replace(faithful, wrong, 1)
    return files


def _section(text: str, start: str, end: str) -> str:
    head = text.find(start)
    if head < 0:
        return ""
    tail = text.find(end, head + len(start))
    return text[head + len(start) : tail if tail >= 0 else len(text)]


def judge(prompt: str) -> str:
    """A verdict on the requirement the prompt names, from the files it shows."""
    requirement = _section(prompt, "# The requirement to grade", "Give your JSON verdict").strip()
    shown = _section(prompt, "# Repository files relevant to this requirement", "# Where the requirement sits")
    quoted = _QUOTED.findall(requirement)
    missing = [q for q in quoted if q not in shown]
    if missing:
        return json.dumps({"explanation": f"The code never does {missing[0]!r}; the requirement is not met.", "score": 0})
    return json.dumps({"explanation": "The code does exactly this: " + "; ".join(quoted), "score": 1})


def _shown_files(prompt: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"(?m)^(\S+\.py)\n```\n(.*?)\n```", prompt, re.S)}


def edit(prompt: str) -> str:
    """SEARCH/REPLACE blocks that bring each failed requirement's quoted code back where it belongs."""
    files = _shown_files(prompt)
    blocks = []
    for line in re.findall(r"(?m)^- \[[\d.]+\] (.*)$", prompt):
        for quote in _QUOTED.findall(line):
            for path, reference in CODE.items():
                current = files.get(path)
                if quote not in reference or current is None or quote in current:
                    continue
                blocks += _hunks(path, current + "\n", reference, quote)
    return "\n".join(blocks) if blocks else "Nothing to change."


def _hunks(path: str, current: str, reference: str, quote: str) -> list[str]:
    """Edit blocks for the differences between ``current`` and ``reference`` that concern ``quote``."""
    have, want = current.splitlines(keepends=True), reference.splitlines(keepends=True)
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, have, want).get_opcodes():
        if tag == "equal" or quote not in "".join(want[j1:j2]):
            continue
        lo = max(0, i1 - 1)  # one line of context, so a pure insertion has something to find
        search = "".join(have[lo:i2])
        replace = "".join(have[lo:i1]) + "".join(want[j1:j2])
        out.append(f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n")
    return out


def verify_answer(messages: list[dict]) -> str:
    """The scripted model of the whole pipeline, verify included."""
    prompt = messages[-1]["content"]
    if "# The requirement to grade" in prompt:
        return judge(prompt)
    if prompt.startswith("A reviewer checked the repository below"):
        return edit(prompt)
    return answer(messages)
