"""Judge agreement on PaperBench's JudgeEval cases: ``papercoder grade --judge-eval DIR``.

JudgeEval ships submissions graded by hand: ``<DIR>/<paper>/<n>/submission.tar`` (or a
``submission/`` folder) with ``grading/expected_result.json``, the human-graded tree; the papers
themselves live in PaperBench's ``data/papers/<paper>/`` (``paper.md``, ``addendum.md``,
``judge.addendum.md``), given with ``--papers``. Each case is graded by our PaperBench-protocol
judge on the tree of the human grades, and every leaf's verdict is compared with the human one:
accuracy, and precision, recall and F1 macro-averaged over the two classes, overall and per task
category, as PaperBench's own judge evaluation reports them.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papercoder.errors import InputError
from papercoder.rubric import node_from_dict
from papercoder.evaluate.paperbench import grade_paperbench
from papercoder.llm import LLM
from papercoder.paper.markdown import parse_markdown


@dataclass
class Metrics:
    """Agreement of predicted with true 0/1 labels."""

    n: int
    accuracy: float
    precision: float
    recall: float
    f1: float


def agreement(y_true: list[int], y_pred: list[int]) -> Metrics:
    """Accuracy, and precision, recall and F1 averaged over the labels present (a class with
    nothing predicted or nothing true counts 0 for that class, as scikit-learn's zero_division=0)."""
    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred differ in length")
    n = len(y_true)
    if not n:
        return Metrics(0, 0.0, 0.0, 0.0, 0.0)
    accuracy = sum(t == p for t, p in zip(y_true, y_pred)) / n
    precisions, recalls, f1s = [], [], []
    for label in sorted(set(y_true) | set(y_pred)):
        tp = sum(t == label and p == label for t, p in zip(y_true, y_pred))
        predicted = sum(p == label for p in y_pred)
        actual = sum(t == label for t in y_true)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        precisions.append(precision)
        recalls.append(recall)
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    k = len(precisions)
    return Metrics(n, accuracy, sum(precisions) / k, sum(recalls) / k, sum(f1s) / k)


@dataclass
class JudgeEvalResult:
    """Per case and overall agreement with the human grades."""

    cases: list[dict[str, Any]] = field(default_factory=list)
    overall: Metrics | None = None
    by_category: dict[str, Metrics] = field(default_factory=dict)


def find_cases(root: Path) -> list[Path]:
    """Every ``<paper>/<n>/`` under ``root`` holding ``grading/expected_result.json``."""
    cases = sorted(p.parent.parent for p in Path(root).glob("*/*/grading/expected_result.json"))
    if not cases:
        raise InputError(f"{root} holds no JudgeEval case (<paper>/<n>/grading/expected_result.json)")
    return cases


async def judge_eval(root: Path, papers: Path, llm: LLM, *, parser: LLM | None = None) -> JudgeEvalResult:
    """Grade every case under ``root`` and compare with the human grades."""
    result = JudgeEvalResult()
    all_true: list[int] = []
    all_pred: list[int] = []
    per_category: dict[str, tuple[list[int], list[int]]] = {}
    for case in find_cases(root):
        paper_id = case.parent.name
        folder = Path(papers) / paper_id
        if not (folder / "paper.md").is_file():
            raise InputError(f"no {folder / 'paper.md'} for the case {case}; give PaperBench's data/papers with --papers")
        expected = json.loads((case / "grading" / "expected_result.json").read_text(encoding="utf-8"))
        tree = node_from_dict(expected, where=str(case))
        human = {}
        _leaf_scores(expected, human)
        paper = parse_markdown((folder / "paper.md").read_text(encoding="utf-8"), source=str(folder / "paper.md"))
        addendum = _read(folder / "addendum.md")
        judge_addendum = _read(folder / "judge.addendum.md")
        with tempfile.TemporaryDirectory(prefix="papercoder-judgeeval-") as tmp:
            submission = _submission(case, Path(tmp))
            graded = await grade_paperbench(submission, paper, tree, llm, code_dev=False, addendum=addendum,
                                            judge_addendum=judge_addendum, parser=parser)
        y_true, y_pred = [], []
        for leaf in tree.leaves():
            truth, predicted = int(human.get(leaf.id, 0) >= 0.5), graded.grades[leaf.id].score
            y_true.append(truth)
            y_pred.append(predicted)
            lists = per_category.setdefault(leaf.task_category or "(none)", ([], []))
            lists[0].append(truth)
            lists[1].append(predicted)
        all_true += y_true
        all_pred += y_pred
        result.cases.append({"case": str(case), "paper": paper_id, "metrics": agreement(y_true, y_pred).__dict__,
                             "score": graded.total, "human_score": float(expected.get("score", 0.0))})
    result.overall = agreement(all_true, all_pred)
    result.by_category = {name: agreement(t, p) for name, (t, p) in sorted(per_category.items())}
    return result


def _leaf_scores(node: dict, out: dict[str, float]) -> None:
    children = node.get("sub_tasks") or []
    if not children:
        out[str(node.get("id"))] = float(node.get("score") or 0.0)
    for child in children:
        _leaf_scores(child, out)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _submission(case: Path, tmp: Path) -> Path:
    """The case's submission folder: as it is, or extracted safely from ``submission.tar``."""
    if (case / "submission").is_dir():
        return case / "submission"
    archive = case / "submission.tar"
    if not archive.is_file():
        raise InputError(f"{case} has neither submission/ nor submission.tar")
    from papercoder.paper.archive import extract_archive

    extract_archive(archive, tmp, max_bytes=2_000_000_000)
    inner = [p for p in tmp.iterdir()]
    return inner[0] if len(inner) == 1 and inner[0].is_dir() else tmp


def format_judge_eval(result: JudgeEvalResult) -> str:
    """A table: each case, each category and the whole, with accuracy and macro F1."""
    lines = [f"{'':<28}{'leaves':>7}{'accuracy':>10}{'precision':>11}{'recall':>8}{'F1':>7}"]

    def row(name: str, m: Metrics) -> str:
        return f"{name[:28]:<28}{m.n:>7}{m.accuracy:>10.3f}{m.precision:>11.3f}{m.recall:>8.3f}{m.f1:>7.3f}"

    for case in result.cases:
        lines.append(row(case["paper"], Metrics(**case["metrics"])))
    for name, metrics in result.by_category.items():
        lines.append(row(name, metrics))
    if result.overall is not None:
        lines.append(row("overall", result.overall))
    return "\n".join(lines)
