"""What every stage does around a model call: fit the window, size the answer, finish cut answers.

Every request must fit the model's context window with room for its answer, and be built only
from artifacts on disk so that a resumed run sends the same bytes (and the call log answers it).
So context is cut deterministically here: whole optional parts first, then parts reduced to a
shorter form, then text shortened in the middle, each step named so the stage can note it.
"""

from __future__ import annotations

import dataclasses

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from papercoder.errors import PapercoderError
from papercoder.llm import LLM, ContextLengthError, Message, TruncatedError
from papercoder.tokens import estimate_tokens
from papercoder.tokens import message_tokens as one_message_tokens
from papercoder.pipeline.codeblocks import join_continuation
from papercoder.prompts import render


class ContextBudgetError(PapercoderError):
    """A request cannot be made to fit the model's context window, even after cutting context."""


T = TypeVar("T")

# When the model rejects a request as too long (our estimate of tokens was too low), the request
# is rebuilt as if the window were this much smaller, deterministically, so a rerun repeats it.
WINDOW_RETRIES = (0.75, 0.5)


def smaller_window(window: int, attempt: int) -> int | None:
    """The window to assume after ``attempt`` rejections (1, 2, ...), or ``None`` to give up."""
    if attempt > len(WINDOW_RETRIES):
        return None
    return int(window * WINDOW_RETRIES[attempt - 1])


async def with_window_retries(
    llm: LLM,
    attempt: Callable[[int], Awaitable[T]],
    note: Callable[[str], None],
    what: str,
    *,
    start: int | None = None,
) -> T:
    """``await attempt(window)``; if the model says the request is too long, retry with less context."""
    first = window = start or llm.context_window
    tries = 0
    while True:
        try:
            return await attempt(window)
        except ContextLengthError as exc:
            tries += 1
            smaller = smaller_window(first, tries)
            if smaller is None:
                raise ContextLengthError(
                    f"{what}: {exc}, even with the context cut to half the window; "
                    "use a model with a larger context window",
                    exc.limit,
                ) from None
            note(f"{what}: the model rejected the request as too long; retrying with context cut to {smaller} tokens")
            window = smaller


def margin(window: int) -> int:
    """Tokens kept free: our estimate (characters / 4) is rough, code tokenises worse."""
    return max(128, window // 16)


def message_tokens(messages: list[Message]) -> int:
    """Estimated input tokens of a request (content plus a little per-message overhead)."""
    return sum(one_message_tokens(m) for m in messages)


def answer_room(window: int, messages: list[Message], default: int) -> int:
    """``max_tokens`` for a request: the stage default, or what the window leaves, if less."""
    return min(default, window - message_tokens(messages) - margin(window))


def stage_default(window: int, default: int, *, prose: bool = False) -> int:
    """A stage's answer limit: its default, capped to a share of a small window.

    A small local model rambles until its limit, which costs minutes on a CPU: prose (a plan, an
    analysis) gets at most an eighth of the window, structured answers a quarter.
    """
    share = window // 8 if prose else window // 4
    return min(default, max(512, share))


def min_answer(window: int, default: int) -> int:
    """The least answer room a request is built to leave: a quarter of the window at most."""
    return max(64, min(default, window // 4))


def shorten(text: str, max_chars: int) -> str:
    """``text`` cut to about ``max_chars`` in the middle, keeping its start and its end."""
    if len(text) <= max_chars:
        return text
    marker = "\n\n[... shortened to fit the context window ...]\n\n"
    keep = max(0, max_chars - len(marker))
    tail = keep // 4
    head = keep - tail
    return text[:head].rstrip() + marker + (text[len(text) - tail :].lstrip() if tail else "")


# --- fitting a single prompt built from parts --------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One piece of context in a prompt: a stable key, a heading, its text, and a shorter form."""

    key: str  # e.g. "paper", "dependency:model.py", "interface:utils.py"
    title: str
    text: str
    reduced: str | None = None  # e.g. the interface of a dependency's code


Step = Callable[[list[Part], int], "list[Part] | None"]


def drop(prefix: str) -> Step:
    """A step that drops parts whose key starts with ``prefix``, last first, until enough is freed."""

    def step(parts: list[Part], over: int) -> list[Part] | None:
        kept = list(parts)
        freed = 0
        for part in reversed(parts):
            if freed >= over:
                break
            if part.key.startswith(prefix):
                kept.remove(part)
                freed += estimate_tokens(part.text)
        return kept if len(kept) < len(parts) else None

    return step


def reduce(prefix: str) -> Step:
    """A step that swaps parts for their reduced form, last first, until enough is freed."""

    def step(parts: list[Part], over: int) -> list[Part] | None:
        result = list(parts)
        freed = 0
        changed = False
        for i in range(len(parts) - 1, -1, -1):
            part = parts[i]
            if freed >= over:
                break
            if part.key.startswith(prefix) and part.reduced is not None and part.reduced != part.text:
                result[i] = replace(part, text=part.reduced, reduced=None)
                freed += estimate_tokens(part.text) - estimate_tokens(part.reduced)
                changed = True
        return result if changed else None

    return step


def cut(key: str, keep_chars: int = 400) -> Step:
    """A step that shortens the part ``key`` by what is over, keeping at least ``keep_chars``."""

    def step(parts: list[Part], over: int) -> list[Part] | None:
        for i, part in enumerate(parts):
            if part.key == key and len(part.text) > keep_chars:
                target = max(keep_chars, len(part.text) - over * 4 - 200)
                result = list(parts)
                result[i] = replace(part, text=shorten(part.text, target))
                return result
        return None

    return step


def fit_parts(
    parts: list[Part],
    build: Callable[[list[Part]], list[Message]],
    *,
    window: int,
    min_output: int,
    steps: list[tuple[str, Step]],
    what: str,
) -> tuple[list[Message], list[str]]:
    """Messages from ``parts``, cut step by step until ``min_output`` tokens of answer fit.

    Returns the messages and the descriptions of the steps taken (for ``ctx.note``).
    """
    budget = window - margin(window) - min_output
    messages = build(parts)
    taken: list[str] = []
    for description, step in steps:
        over = message_tokens(messages) - budget
        if over <= 0:
            break
        while over > 0:
            changed = step(parts, over)
            if changed is None:
                break
            parts = changed
            messages = build(parts)
            if description not in taken:
                taken.append(description)
            over = message_tokens(messages) - budget
    if message_tokens(messages) > budget:
        raise ContextBudgetError(
            f"the prompt for {what} needs about {message_tokens(messages)} tokens and does not fit the model's "
            f"context window of {window} tokens even after cutting context; use a model with a larger window"
        )
    return messages, taken


def fit_conversation(
    messages: list[Message],
    *,
    window: int,
    min_output: int,
    shrinkable: list[tuple[int, str, str]],
) -> tuple[list[Message], list[str]]:
    """Shorten pieces of earlier turns until ``min_output`` tokens of answer fit the window.

    ``shrinkable`` lists ``(message index, piece of its content, description)`` in the order
    to cut them; a piece is shortened in place in the middle, so the text around it survives.
    """
    budget = window - margin(window) - min_output
    result = [dict(m) for m in messages]
    taken: list[str] = []
    for index, piece, description in shrinkable:
        over = message_tokens(result) - budget
        if over <= 0:
            break
        if not piece or piece not in result[index]["content"]:
            continue
        target = max(400, len(piece) - over * 4 - 200)
        if target >= len(piece):
            continue
        result[index]["content"] = result[index]["content"].replace(piece, shorten(piece, target), 1)
        taken.append(description)
    if message_tokens(result) > budget:
        raise ContextBudgetError(
            f"the planning conversation needs about {message_tokens(result)} tokens and does not fit the model's "
            f"context window of {window} tokens; use a model with a larger window"
        )
    return result, taken


# --- answers cut at the output limit ---------------------------------------------------------


async def complete_text(
    llm: LLM, messages: list[Message], *, max_tokens: int, stage: str, what: str, window: int | None = None
) -> tuple[str, bool]:
    """The model's answer to ``messages``; an answer cut at its output limit is continued once.

    Returns the text and whether a continuation was needed. A second cut raises
    :class:`~papercoder.llm.TruncatedError` with a message saying what to do; its completion
    holds everything the model wrote (both pieces joined), so a caller may keep it.
    """
    try:
        completion = await llm.acomplete(messages, max_tokens=max_tokens, stage=stage)
        return completion.text, False
    except TruncatedError as exc:
        cut_off = exc.completion
    partial = cut_off.text
    follow_up = [
        *messages,
        {"role": "assistant", "content": partial},
        {"role": "user", "content": render("coding/continue")},
    ]
    room = answer_room(window or llm.context_window, follow_up, max_tokens)
    if room < 64:
        raise TruncatedError(
            f"the answer for {what} was cut at the output limit and the context window has no room to continue it; "
            "use a model with a larger context window or output limit",
            cut_off,
        )
    try:
        rest = await llm.acomplete(follow_up, max_tokens=room, stage=stage)
    except TruncatedError as again:
        joined = dataclasses.replace(again.completion, text=join_continuation(partial, again.completion.text))
        raise TruncatedError(
            f"the answer for {what} was cut at the model's output limit twice (after one continuation); "
            "use a model with a larger output limit, or plan smaller files",
            joined,
        ) from None
    return join_continuation(partial, rest.text), True
