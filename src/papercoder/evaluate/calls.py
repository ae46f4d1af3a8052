"""Asking the judge many times at once, where a failed call is a data point, not a crash.

One bad sample (cut at the output limit, a server error after retries, the budget reached)
must not throw away the others; but when every call fails, the first failure is raised so
the user sees what to fix (a key, a model name, a server).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from papercoder.evaluate.verdicts import Verdict
from papercoder.llm import Completion, LLMError, TruncatedError


@dataclass
class CallOutcome:
    """The answer text of one call, or why there is none."""

    text: str = ""
    error: str = ""
    completion: Completion | None = None
    truncated: bool = False  # cut at the output limit: the text may still hold a whole answer


@dataclass
class UsageTally:
    """What the calls of one evaluation cost, counted from their completions."""

    calls: int = 0  # calls made to the model
    cached: int = 0  # answered from the call log, free
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    cost_unknown: bool = False  # some call had no known price

    def add(self, outcome: CallOutcome) -> None:
        c = outcome.completion
        if c is None:
            self.failed += 1
            return
        if c.cached:
            self.cached += 1
            return
        self.calls += 1
        self.input_tokens += c.usage.input_tokens
        self.output_tokens += c.usage.output_tokens
        if c.cost is None:
            self.cost_unknown = True
        else:
            self.cost += c.cost

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls, "cached": self.cached, "failed": self.failed,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "cost": round(self.cost, 6), "cost_unknown": self.cost_unknown,
        }

    def line(self) -> str:
        """One line for a terminal: calls, tokens and cost."""
        cost = f"${self.cost:.4f}" + (" (some prices unknown)" if self.cost_unknown else "")
        return (f"{self.calls} calls ({self.cached} from the call log, {self.failed} failed), "
                f"{self.input_tokens} tokens in, {self.output_tokens} out, cost {cost}")


def parse_outcome(outcome: CallOutcome, parse: Callable[[str], Verdict]) -> Verdict:
    """The verdict of one call; a cut answer counts when a whole verdict came before the cut."""
    if outcome.error:
        return Verdict(score=None, error=outcome.error, text=outcome.text)
    verdict = parse(outcome.text)
    if outcome.truncated and not verdict.valid:
        verdict.error = f"the answer was cut at the output limit ({verdict.error})"
    return verdict


async def ask_all(coros: Sequence[Awaitable[Completion]], tally: UsageTally, *, warm_first: bool = False) -> list[CallOutcome]:
    """Run the calls concurrently (the LLM's own limit applies), in order, and tally them.

    With ``warm_first`` the first call runs alone and the others after it: calls whose prompts
    start alike then read that start from the provider's prompt cache, which holds a prefix only
    once a request with it has been processed. Raises the first model-layer error when every
    call failed.
    """
    errors: list[LLMError] = []

    async def one(coro: Awaitable[Completion]) -> CallOutcome:
        try:
            completion = await coro
        except TruncatedError as exc:
            return CallOutcome(text=exc.completion.text, completion=exc.completion, truncated=True)
        except LLMError as exc:
            errors.append(exc)
            return CallOutcome(error=f"the call failed: {exc}")
        return CallOutcome(text=completion.text, completion=completion)

    coros = list(coros)
    if warm_first and len(coros) > 1:
        outcomes = [await one(coros[0]), *await asyncio.gather(*(one(c) for c in coros[1:]))]
    else:
        outcomes = list(await asyncio.gather(*(one(c) for c in coros)))
    for outcome in outcomes:
        tally.add(outcome)
    if outcomes and len(errors) == len(outcomes):
        raise errors[0]
    return list(outcomes)


def split_choices(outcome: CallOutcome, n: int) -> list[CallOutcome]:
    """The n answers of one request as n outcomes, each cut or whole on its own; answers the
    server did not send count as failed samples (never as a repeat of another)."""
    if outcome.error or outcome.completion is None:
        return [outcome] + [CallOutcome(error=outcome.error or "the call failed") for _ in range(n - 1)]
    first = outcome.completion
    outcomes = [CallOutcome(text=first.text, completion=first, truncated=first.finish_reason == "length")]
    for text, finish in first.others[: n - 1]:
        outcomes.append(CallOutcome(text=text, truncated=finish == "length"))
    while len(outcomes) < n:
        outcomes.append(CallOutcome(error=f"the server returned {len(first.others) + 1} of the {n} answers asked for"))
    return outcomes
