"""PaperBench rubric trees: loading, Code-Dev filtering, and weighted aggregation of leaf grades.

A rubric is a tree of requirements. Every node has ``id``, ``requirements`` (the text),
``weight`` and ``sub_tasks``; leaves also have a ``task_category`` (Code Development, Code
Execution or Result Analysis). A leaf is graded 0 or 1; a parent scores the weighted mean of
its children. Pure functions only: the judge that grades leaves lives in ``protocols.py`` and its modules.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papercoder.errors import InputError

CATEGORIES = ("Code Development", "Code Execution", "Result Analysis")
CODE_DEV = "Code Development"


@dataclass
class RubricNode:
    """One requirement of a rubric tree."""

    id: str
    requirements: str
    weight: float = 1.0
    task_category: str | None = None
    finegrained_task_category: str | None = None
    sub_tasks: list["RubricNode"] = field(default_factory=list)

    @property
    def is_leaf(self) -> bool:
        return not self.sub_tasks

    def walk(self, depth: int = 0, parents: tuple["RubricNode", ...] = ()) -> Iterator[tuple["RubricNode", int, tuple["RubricNode", ...]]]:
        """Every node, parents before children: (node, depth, ancestors from the root)."""
        yield self, depth, parents
        for child in self.sub_tasks:
            yield from child.walk(depth + 1, parents + (self,))

    def leaves(self) -> list["RubricNode"]:
        return [n for n, _, _ in self.walk() if n.is_leaf]


def load_rubric(path: str | Path) -> RubricNode:
    """Read a rubric JSON file; a malformed tree is an :class:`InputError` naming the bad node."""
    path = Path(path)
    data = read_tree_json(path, "a PaperBench rubric.json")
    root = node_from_dict(data, where=str(path))
    seen: set[str] = set()
    for node, _, _ in root.walk():
        if not node.id or node.id in seen:
            raise InputError(f"{path}: node ids must be present and unique ({node.id or 'missing'!r}); fix the rubric file")
        seen.add(node.id)
    return root


MAX_WEIGHT = 1e6  # PaperBench's weights are small integers; more is a broken file
MAX_DEPTH = 100  # levels of a rubric tree; PaperBench's have about six


def read_tree_json(path: Path, expected: str) -> Any:
    """The JSON of a rubric or graded tree file; any problem is one InputError naming ``expected``."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} does not exist; give the path of {expected}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not readable JSON ({exc}); give {expected}") from None
    except RecursionError:
        raise InputError(f"{path} nests deeper than {MAX_DEPTH} levels; PaperBench trees have a handful") from None


def node_from_dict(data: Any, *, where: str = "rubric", depth: int = 0) -> RubricNode:
    """Build a tree from PaperBench's JSON shape, checking what grading relies on."""
    if depth > MAX_DEPTH:
        raise InputError(f"{where}: the rubric nests deeper than {MAX_DEPTH} levels; PaperBench rubrics have a handful")
    if not isinstance(data, Mapping):
        raise InputError(f"{where}: a rubric node must be a JSON object; this is not a PaperBench rubric")
    node_id = str(data.get("id") or "")
    label = f"{where}: node {node_id or '(no id)'}"
    requirements = data.get("requirements")
    if not isinstance(requirements, str) or not requirements.strip():
        raise InputError(f"{label} has no 'requirements' text; fix the rubric file")
    weight = data.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0 \
            or weight > MAX_WEIGHT:
        raise InputError(f"{label} has weight {weight!r}; weights must be finite numbers from 0 to {MAX_WEIGHT:g}")
    children = data.get("sub_tasks") or []
    if not isinstance(children, list):
        raise InputError(f"{label} has 'sub_tasks' that is not a list; fix the rubric file")
    category = data.get("task_category")
    if category is not None and not isinstance(category, str):
        raise InputError(f"{label} has task_category {category!r}; expected one of {', '.join(CATEGORIES)}")
    # A leaf of another category (or none) is still graded, with generic instructions; only
    # --code-dev leaves it out, since it is not Code Development.
    return RubricNode(
        id=node_id,
        requirements=requirements.strip(),
        weight=float(weight),
        task_category=category,
        finegrained_task_category=data.get("finegrained_task_category"),
        sub_tasks=[node_from_dict(c, where=where, depth=depth + 1) for c in children],
    )


def code_dev_only(node: RubricNode) -> RubricNode | None:
    """The tree with only Code Development leaves, as PaperBench Code-Dev grades it.

    A parent left without any leaf is removed entirely (not kept at score 0), so the weights
    of its siblings are renormalised among what remains. This is PaperBench's own choice, and
    it keeps a Code-Dev score comparable with published Code-Dev scores. ``None`` when no
    Code Development leaf is left at all.
    """
    if node.is_leaf:
        return node if node.task_category == CODE_DEV else None
    kept = [c for c in (code_dev_only(child) for child in node.sub_tasks) if c is not None]
    if not kept:
        # as PaperBench prunes: a parent itself labelled Code Development stays, as a leaf
        return RubricNode(node.id, node.requirements, node.weight, node.task_category, node.finegrained_task_category) if node.task_category == CODE_DEV else None
    return RubricNode(node.id, node.requirements, node.weight, node.task_category,
                      node.finegrained_task_category, kept)


def score_tree(node: RubricNode, leaf_scores: Mapping[str, float]) -> dict[str, float]:
    """The score of every node: a leaf's grade (0 when ungraded), a parent's weighted mean.

    A parent whose children all weigh 0 scores 0. Returns ``{node id: score}``.
    """
    scores: dict[str, float] = {}

    def visit(n: RubricNode) -> float:
        if n.is_leaf:
            value = float(leaf_scores.get(n.id, 0.0))
        else:
            largest = max((c.weight for c in n.sub_tasks), default=0.0) or 1.0
            child_scores = [(visit(c), c.weight / largest) for c in n.sub_tasks]  # scaled: no overflow
            total = sum(w for _, w in child_scores)
            value = sum(s * w for s, w in child_scores) / total if total > 0 else 0.0
        scores[n.id] = value
        return value

    visit(node)
    return scores


def category_counts(node: RubricNode) -> dict[str, int]:
    """How many leaves of each task category the tree has."""
    counts: dict[str, int] = {}
    for leaf in node.leaves():
        key = leaf.task_category or "?"
        counts[key] = counts.get(key, 0) + 1
    return counts
