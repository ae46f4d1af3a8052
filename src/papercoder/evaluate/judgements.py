"""Recompute a graded PaperBench tree from its leaves: ``papercoder grade --from-judgements``.

PaperBench writes a graded tree (``expected_result.json`` in its judge-eval data, the grader's
output for a submission) where every node has ``score`` and ``valid_score``; a parent's score is
the weighted mean of its children's. Reading such a file, taking only the leaves' scores and
aggregating them with the same code ``grade`` uses shows that our aggregation is PaperBench's,
and gives the Code-Dev score of a tree graded in full.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papercoder.errors import InputError
from papercoder.rubric import RubricNode, code_dev_only, node_from_dict, read_tree_json, score_tree

TOLERANCE = 1e-9


@dataclass
class Recomputed:
    """A graded tree's leaves, every node's score recomputed, and where the file disagrees."""

    tree: RubricNode
    leaf_scores: dict[str, float]
    scores: dict[str, float]
    recorded: dict[str, float]
    invalid: list[str] = field(default_factory=list)  # leaves the file marks valid_score false
    differences: list[tuple[str, float, float]] = field(default_factory=list)  # (id, in the file, recomputed)
    code_dev: bool = False

    @property
    def root(self) -> float:
        return self.scores[self.tree.id]


def recompute(path: str | Path, *, code_dev: bool = False) -> Recomputed:
    """Read a graded tree and recompute it from its leaves (only Code Development ones with ``code_dev``)."""
    path = Path(path)
    data = read_tree_json(path, "a graded tree such as PaperBench's expected_result.json")
    if isinstance(data, dict) and isinstance(data.get("tree"), dict):
        data = data["tree"]  # papercoder's own grade output holds the tree under "tree"
    recorded: dict[str, float] = {}
    valid: dict[str, bool] = {}
    _collect(data, recorded, valid, where=str(path))
    full = node_from_dict(data, where=str(path))
    tree = code_dev_only(full) if code_dev else full
    if tree is None:
        raise InputError(f"{path} has no Code Development leaves; recompute it without --code-dev")
    leaf_scores = {leaf.id: recorded.get(leaf.id, 0.0) for leaf in tree.leaves()}
    scores = score_tree(tree, leaf_scores)
    result = Recomputed(tree=tree, leaf_scores=leaf_scores, scores=scores, recorded=recorded, code_dev=code_dev,
                        invalid=[leaf.id for leaf in tree.leaves() if not valid.get(leaf.id, True)])
    if not code_dev:  # a pruned tree's parents are expected to differ from the full tree's
        result.differences = [
            (node_id, recorded[node_id], score)
            for node_id, score in scores.items()
            if node_id in recorded and abs(recorded[node_id] - score) > TOLERANCE
        ]
    return result


def _collect(node: Any, recorded: dict[str, float], valid: dict[str, bool], *, where: str) -> None:
    if not isinstance(node, dict):
        raise InputError(f"{where}: a node is not a JSON object; this is not a graded PaperBench tree")
    node_id = str(node.get("id") or "")
    score = node.get("score")
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise InputError(f"{where}: node {node_id or '(no id)'} has no numeric 'score'; this is a rubric, not a graded tree")
    if not math.isfinite(score) or not 0 <= score <= 1:
        raise InputError(f"{where}: node {node_id or '(no id)'} has score {score!r}; scores run from 0 to 1, fix the file")
    recorded[node_id] = float(score)
    valid[node_id] = bool(node.get("valid_score", True))
    for child in node.get("sub_tasks") or []:
        _collect(child, recorded, valid, where=where)


def format_recomputed(result: Recomputed, *, max_depth: int | None = None) -> str:
    """The recomputed tree (score, weight, requirement), the root, and any disagreement."""
    lines = []
    for node, depth, _ in result.tree.walk():
        if max_depth is not None and depth > max_depth:
            continue
        text = " ".join(node.requirements.split())
        text = text if len(text) <= 90 else text[:87] + "..."
        lines.append(f"{'  ' * depth}{result.scores[node.id]:.3f}  (w {node.weight:g})  {text}")
    kind = "Code-Dev score" if result.code_dev else "score"
    lines.append(f"root {kind}: {result.root:.6f} from {len(result.leaf_scores)} leaves"
                 + (f" ({len(result.invalid)} marked invalid, scored as recorded)" if result.invalid else ""))
    if result.code_dev:
        lines.append(f"(the file's root score, for the full tree: {result.recorded.get(result.tree.id, float('nan')):.6f})")
    elif result.differences:
        lines.append(f"{len(result.differences)} node(s) differ from the file:")
        lines += [f"  {node_id}: file {old:.6f}, recomputed {new:.6f}" for node_id, old, new in result.differences[:20]]
    else:
        lines.append("every node's score agrees with the file")
    return "\n".join(lines)
