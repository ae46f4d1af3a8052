"""A graded rubric: each leaf's grade and every node's score, whichever protocol judged it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from papercoder.evaluate.calls import UsageTally
from papercoder.rubric import RubricNode, category_counts


@dataclass
class LeafGrade:
    """The judge's decision on one leaf, and what it was shown."""

    id: str
    score: int  # 0 or 1; 0 when the answer was invalid
    explanation: str
    valid: bool
    error: str = ""
    files: list[str] = field(default_factory=list)
    omitted: int = 0  # readable files not shown (not relevant, or no room)
    attempts: int = 1  # answers asked for; more than 1 when an answer was unusable

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class GradeResult:
    """A graded rubric: the (possibly Code-Dev) tree, leaf grades, and every node's score."""

    tree: RubricNode
    grades: dict[str, LeafGrade]
    scores: dict[str, float]
    code_dev: bool
    model: str
    usage: UsageTally
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return self.scores[self.tree.id]

    @property
    def invalid(self) -> int:
        return sum(1 for g in self.grades.values() if not g.valid)

    def to_dict(self) -> dict[str, Any]:
        def node(n: RubricNode) -> dict[str, Any]:
            out: dict[str, Any] = {
                "id": n.id, "requirements": n.requirements, "weight": n.weight,
                "task_category": n.task_category, "finegrained_task_category": n.finegrained_task_category,
                "score": self.scores[n.id],
            }
            if n.is_leaf:
                out["grade"] = self.grades[n.id].to_dict()
            else:
                out["sub_tasks"] = [node(c) for c in n.sub_tasks]
            return out

        return {
            "kind": "grade", "model": self.model, "code_dev": self.code_dev, "total": self.total,
            "leaves": len(self.grades), "passed": sum(g.score for g in self.grades.values()),
            "invalid": self.invalid, "categories": category_counts(self.tree),
            "notes": self.notes, "usage": self.usage.to_dict(), "tree": node(self.tree),
        }
