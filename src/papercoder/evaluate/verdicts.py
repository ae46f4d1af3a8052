"""Reading what a judge answers: one verdict per sample, and the aggregate over samples.

An answer that does not parse, lacks a score, or scores outside the scale is an invalid
sample: it is kept with the reason and counted, never raised. This is the protocol of the
Paper2Code evaluation (n samples, invalid ones dropped, mean of the rest).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from papercoder.llm.structured import extract_json

SEVERITIES = ("high", "medium", "low")
SCORE_MIN, SCORE_MAX = 1, 5

_ALIASES = {
    "critiques": ("critiques", "critique_list", "issues", "problems"),
    "file": ("file", "file_name", "filename", "path"),
    "function": ("function", "func_name", "function_name", "func"),
    "severity": ("severity", "severity_level", "level"),
    "critique": ("critique", "comment", "description", "issue"),
}


@dataclass
class Critique:
    """One problem the judge found."""

    file: str
    function: str
    severity: str  # high, medium or low
    critique: str


@dataclass
class Verdict:
    """One sample of the judge: a score and critiques, or the reason it is invalid."""

    score: float | None
    critiques: list[Critique] = field(default_factory=list)
    error: str = ""  # why the sample is invalid; empty when valid
    text: str = ""  # the answer as given, for the record

    @property
    def valid(self) -> bool:
        return not self.error

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "valid": self.valid, "error": self.error,
                "critiques": [asdict(c) for c in self.critiques], "text": self.text}


@dataclass
class ScoreSummary:
    """The aggregate of n samples: mean and spread over the valid ones, and the counts."""

    mean: float | None
    std: float | None  # sample standard deviation (n-1); 0 for a single valid sample
    valid: int
    invalid: int
    scores: list[float]
    invalid_reasons: list[str]


def parse_verdict(text: str) -> Verdict:
    """Read one correctness verdict (JSON with ``critiques`` and a 1-5 ``score``) leniently."""
    data, error = _json_object(text)
    if error:
        return Verdict(score=None, error=error, text=text)
    score, error = _number(_pick(data, ("score", "correctness_score", "rating")))
    if error:
        return Verdict(score=None, error=error, text=text)
    if not SCORE_MIN <= score <= SCORE_MAX:
        return Verdict(score=None, error=f"score {score:g} is outside 1-5", text=text)
    if not float(score).is_integer():  # the scale has five points, as in the paper's protocol
        return Verdict(score=None, error=f"score {score:g} is not a whole number from 1 to 5", text=text)
    raw = _pick(data, _ALIASES["critiques"])
    critiques = [c for c in (_critique(item) for item in (raw if isinstance(raw, list) else [])) if c]
    return Verdict(score=score, critiques=critiques, text=text)


def parse_leaf_verdict(text: str) -> Verdict:
    """Read one rubric-leaf verdict (JSON with ``explanation`` and a 0/1 ``score``).

    An invalid answer scores 0: a requirement the judge could not confirm is not met.
    """
    data, error = _json_object(text)
    if not error:
        score, error = _number(_pick(data, ("score", "grade", "passed")))
        if not error and score not in (0, 1):
            error = f"score {score:g} is not 0 or 1"
    if error:
        return Verdict(score=0, error=error, text=text)
    explanation = _pick(data, ("explanation", "reason", "reasoning", "justification"))
    if not isinstance(explanation, str) or not explanation.strip():
        return Verdict(score=0, error="no explanation", text=text)
    note = Critique(file="", function="", severity="", critique=explanation.strip())
    return Verdict(score=int(score), critiques=[note], text=text)


def aggregate(verdicts: list[Verdict]) -> ScoreSummary:
    """Mean and spread of the valid samples, with how many were valid and invalid."""
    scores = [v.score for v in verdicts if v.valid and v.score is not None]
    reasons = [v.error for v in verdicts if not v.valid]
    mean = statistics.fmean(scores) if scores else None
    std = (statistics.stdev(scores) if len(scores) > 1 else 0.0) if scores else None
    return ScoreSummary(mean=mean, std=std, valid=len(scores), invalid=len(reasons),
                        scores=scores, invalid_reasons=reasons)


def top_critiques(verdicts: list[Verdict], limit: int = 10) -> list[dict[str, Any]]:
    """Critiques of the valid samples, most severe and most often raised first, deduplicated."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for v in verdicts:
        if not v.valid:
            continue
        for c in v.critiques:
            key = (c.file.strip().lower(), c.function.strip().lower(), " ".join(c.critique.lower().split()))
            if key in seen:
                seen[key]["samples"] += 1
            else:
                seen[key] = {**asdict(c), "samples": 1}
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    ordered = sorted(seen.values(), key=lambda c: (rank.get(c["severity"], 1), -c["samples"]))
    return ordered[:limit]


def _json_object(text: str) -> tuple[dict[str, Any], str]:
    try:
        data = extract_json(text or "")
    except ValueError:
        return {}, "no JSON object in the answer"
    if not isinstance(data, dict):
        return {}, "the answer is not a JSON object"
    return data, ""


def _pick(data: dict[str, Any], names: tuple[str, ...]) -> Any:
    lowered = {str(k).lower(): v for k, v in data.items()}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def _number(value: Any) -> tuple[float, str]:
    if value is None:
        return 0.0, "no score in the answer"
    if isinstance(value, bool):
        return 0.0, "score is not a number"
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return 0.0, "score is not a number"
    if not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
        return 0.0, "score is not a number"
    return (int(value) if float(value).is_integer() else float(value)), ""


def _critique(item: Any) -> Critique | None:
    if not isinstance(item, dict):
        return None
    text = _pick(item, _ALIASES["critique"])
    if not isinstance(text, str) or not text.strip():
        return None
    severity = str(_pick(item, _ALIASES["severity"]) or "").strip().lower()
    return Critique(
        file=str(_pick(item, _ALIASES["file"]) or ""),
        function=str(_pick(item, _ALIASES["function"]) or ""),
        severity=severity if severity in SEVERITIES else "medium",
        critique=text.strip(),
    )
