"""Usage and cost: what calls cost, summed per stage and per run.

Prices come from ``genai-prices`` (its data ships in the wheel, so this works offline), unless
the config file overrides them. A model nobody knows the price of costs "unknown" (None),
never a crash; local models cost nothing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from papercoder.config import Price
from papercoder.llm.types import Usage


@dataclass
class StageTotals:
    """Calls, tokens, money and time of one stage (or of a whole run)."""

    calls: int = 0  # every call, answered by the model or from the log
    cached_calls: int = 0  # of which answered from the call log
    usage: Usage = field(default_factory=Usage)  # tokens the model really processed (not cache hits)
    cost: float = 0.0  # USD of the calls whose price is known
    cost_unknown: bool = False  # True when at least one call's price is unknown
    seconds: float = 0.0  # sum of call latencies
    errors: int = 0  # calls that ended in an error

    def add(self, *, usage: Usage, cost: float | None, seconds: float, cached: bool, error: bool) -> None:
        """Count one call."""
        self.calls += 1
        if error:
            self.errors += 1
        if cached:
            self.cached_calls += 1
            return
        self.usage = self.usage + usage
        self.seconds += seconds
        if cost is None:
            self.cost_unknown = True
        else:
            self.cost += cost

    def __add__(self, other: "StageTotals") -> "StageTotals":
        return StageTotals(
            calls=self.calls + other.calls,
            cached_calls=self.cached_calls + other.cached_calls,
            usage=self.usage + other.usage,
            cost=self.cost + other.cost,
            cost_unknown=self.cost_unknown or other.cost_unknown,
            seconds=self.seconds + other.seconds,
            errors=self.errors + other.errors,
        )

    def describe_cost(self) -> str:
        """The cost for people: "$0.0123", "$0.0123 + unknown", or "unknown"."""
        if self.cost_unknown and self.cost == 0:
            return "unknown"
        text = f"${self.cost:.4f}"
        return text + " + unknown" if self.cost_unknown else text


def price_cost(price: Price, usage: Usage) -> float:
    """USD for ``usage`` at ``price`` (cached input at its own price, else the input price)."""
    cached = min(usage.cached_input_tokens, usage.input_tokens)
    cached_price = price.input if price.cached_input is None else price.cached_input
    fresh = usage.input_tokens - cached
    return (fresh * price.input + cached * cached_price + usage.output_tokens * price.output) / 1e6


def sum_totals(per_stage: dict[str, StageTotals]) -> StageTotals:
    """The run's totals from the per-stage ones."""
    total = StageTotals()
    for stage_totals in per_stage.values():
        total = total + stage_totals
    return total


FREE = Price(input=0.0, output=0.0)


class Pricer:
    """Finds the price of calls to one model: override, else genai-prices, else unknown.

    ``model`` is the full model string (``openai:gpt-4.1``); ``provider_id`` and ``api_url``
    help genai-prices pick the right price list (an OpenRouter URL, a custom server).
    """

    def __init__(
        self,
        model: str,
        *,
        provider_id: str | None = None,
        api_url: str | None = None,
        overrides: dict[str, Price] | None = None,
    ):
        self.model = model
        self.provider_id = provider_id
        self.api_url = api_url
        self.bare_name = model.split(":", 1)[1] if ":" in model else model
        self.override = _find_override(model, self.bare_name, overrides or {})
        self._known: bool | None = None

    def cost(self, usage: Usage) -> float | None:
        """USD for one call's usage, or None when the price is unknown."""
        if self.override is not None:
            return price_cost(self.override, usage)
        if self.provider_id == "local":
            return 0.0
        if self._known is False or (self.provider_id is None and self.api_url is None):
            return None
        calculation = self._lookup(usage)
        self._known = calculation is not None
        if calculation is None:
            return None
        return float(calculation.total_price)

    def is_known(self) -> bool:
        """True when calls to this model can be priced (cached after the first look)."""
        if self._known is None:
            self._known = self.cost(Usage(input_tokens=1000, output_tokens=1000)) is not None
        return self._known

    def context_window(self) -> int | None:
        """The model's context window according to genai-prices, when it knows."""
        calculation = self._lookup(Usage(input_tokens=1, output_tokens=1))
        window = getattr(getattr(calculation, "model", None), "context_window", None)
        return int(window) if isinstance(window, int) and window > 0 else None

    def _lookup(self, usage: Usage) -> Any:
        try:
            import genai_prices
        except ImportError:  # pragma: no cover - a declared dependency
            return None
        priced_usage = genai_prices.Usage(
            input_tokens=usage.input_tokens,
            cache_read_tokens=min(usage.cached_input_tokens, usage.input_tokens),
            output_tokens=usage.output_tokens,
        )
        # The server's URL names the price list best (OpenRouter, DeepSeek, ...); else the provider.
        places: list[dict[str, str]] = []
        if self.api_url:
            places.append({"provider_api_url": self.api_url})
        if self.provider_id:
            places.append({"provider_id": self.provider_id})
        for where in places:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return genai_prices.calc_price(priced_usage, self.bare_name, **where)
            except Exception:  # genai-prices raises LookupError and friends for unknown models
                continue
        return None


def _find_override(model: str, bare_name: str, overrides: dict[str, Price]) -> Price | None:
    for key in (model, bare_name):
        if key in overrides:
            return overrides[key]
    return None
