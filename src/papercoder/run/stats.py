"""Per-stage figures for the progress bars, the summary table, the manifest and RunResult.

The model layer keeps running totals (``llm.total()``); a stage's figures are the difference
between the totals after and before it, so they do not depend on the labels stages give calls.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class StageStats:
    """Calls, tokens, cost and time of one stage (or of a whole run)."""

    calls: int = 0
    cached_calls: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0  # USD of the calls whose price is known
    cost_unknown: bool = False  # some call had no known price: ``cost`` is a lower bound
    seconds: float = 0.0  # a stage's wall time; read from the model's totals, the sum of call latencies

    @classmethod
    def from_totals(cls, totals: Any) -> "StageStats":
        """Read the model layer's StageTotals (or anything with the same attributes)."""
        if totals is None:
            return cls()
        usage = getattr(totals, "usage", None)
        unknown = getattr(totals, "cost_unknown", False)
        return cls(
            calls=int(getattr(totals, "calls", 0) or 0),
            cached_calls=int(getattr(totals, "cached_calls", 0) or 0),
            input_tokens=int(getattr(usage, "input_tokens", 0) or 0),
            cached_input_tokens=int(getattr(usage, "cached_input_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
            cost=float(getattr(totals, "cost", 0.0) or 0.0),
            cost_unknown=bool(unknown),
            seconds=float(getattr(totals, "seconds", 0.0) or 0.0),
        )

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: "StageStats") -> "StageStats":
        return StageStats(
            self.calls + other.calls,
            self.cached_calls + other.cached_calls,
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.output_tokens + other.output_tokens,
            self.cost + other.cost,
            self.cost_unknown or other.cost_unknown,
            self.seconds + other.seconds,
        )

    def since(self, before: "StageStats") -> "StageStats":
        """What happened between two snapshots of running totals (time is left at zero)."""
        return StageStats(
            self.calls - before.calls,
            self.cached_calls - before.cached_calls,
            self.input_tokens - before.input_tokens,
            self.cached_input_tokens - before.cached_input_tokens,
            self.output_tokens - before.output_tokens,
            max(0.0, self.cost - before.cost),
            self.cost_unknown and (self.calls - self.cached_calls) > (before.calls - before.cached_calls),
        )

    def cost_text(self) -> str:
        """``$0.0123``; ``unknown`` (or ``$0.01 + unknown``) when some call's price is unknown."""
        if self.cost_unknown and self.cost == 0:
            return "unknown"
        return f"${self.cost:.4f}" + (" + unknown" if self.cost_unknown else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def snapshot(llm: Any) -> StageStats:
    """The model's running totals now."""
    return StageStats.from_totals(llm.total())
