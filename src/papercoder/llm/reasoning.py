"""What reasoning models need: room for hidden tokens, known output limits, answers without thoughts.

A reasoning model (OpenAI's o-series and gpt-5, DeepSeek-R1, QwQ, Qwen3 in thinking mode) spends
hidden tokens before it answers, and they count against the same output limit as the answer
(``max_completion_tokens``). A request sized for the answer alone comes back cut, often empty.
So the model layer asks for the visible answer plus a reserve for reasoning, bounded by what the
model can produce. Open models behind OpenAI-compatible servers often put their thoughts in the
answer itself, between ``<think>`` tags; those are removed before anything reads the answer.

The facts about model families live in the two tables below, not in conditions spread through
the code.
"""

from __future__ import annotations

import re

# Model name prefixes (after any "vendor/" part) of models that reason before they answer.
REASONING_FAMILIES = (
    "o1", "o3", "o4", "gpt-5", "deepseek-r1", "deepseek-reasoner", "qwq", "qwen3", "magistral", "phi-4-reasoning",
)
# Families whose servers take max_completion_tokens and a fixed temperature: OpenAI's own.
OPENAI_REASONING = ("o1", "o3", "o4", "gpt-5")

# The most output tokens one answer may have, by model name prefix (longest prefix wins). Hidden
# reasoning counts against it. From the providers' model pages; a model not listed is bounded only
# by its context window.
MAX_OUTPUT_TOKENS: dict[str, int] = {
    "gpt-4.1": 32_768,
    "gpt-4o": 16_384,
    "gpt-4-turbo": 4_096,
    "gpt-5": 128_000,
    "o1": 100_000,
    "o1-mini": 65_536,
    "o3": 100_000,
    "o4-mini": 100_000,
    "claude-opus-4-5": 64_000,
    "claude-opus-4-6": 64_000,
    "claude-opus-4": 32_000,
    "claude-sonnet-4": 64_000,
    "claude-haiku-4": 64_000,
    "claude-3-7-sonnet": 64_000,
    "claude-3-5": 8_192,
    "deepseek-reasoner": 64_000,
    "deepseek-chat": 8_192,
}

DEFAULT_RESERVE = 16_384  # hidden tokens reserved per call when nothing else is configured
REGROWTHS = 2  # how many times a cut answer is asked again with twice the room

_THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>\s*", re.DOTALL | re.IGNORECASE)
_OPEN_THINK = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)
_LONE_CLOSE = re.compile(r"^.*?</(think|thinking|reasoning)>\s*", re.DOTALL | re.IGNORECASE)


def base_name(model: str) -> str:
    """``openai:deepseek-ai/DeepSeek-R1`` -> ``deepseek-r1``: the name the tables are keyed by."""
    name = model.split(":", 1)[1] if ":" in model.split("/")[0] else model
    return name.rsplit("/", 1)[-1].lower()


def is_reasoning_model(model: str) -> bool:
    """True for the families known to spend hidden reasoning tokens."""
    return base_name(model).startswith(REASONING_FAMILIES)


def is_openai_reasoning(model: str) -> bool:
    """True for OpenAI's reasoning families (max_completion_tokens, fixed temperature, reasoning_effort)."""
    return base_name(model).startswith(OPENAI_REASONING)


def known_output_limit(model: str) -> int | None:
    """The model's maximum output tokens, when the table knows it."""
    name = base_name(model)
    matches = [prefix for prefix in MAX_OUTPUT_TOKENS if name.startswith(prefix)]
    return MAX_OUTPUT_TOKENS[max(matches, key=len)] if matches else None


def strip_reasoning(text: str) -> tuple[str, bool]:
    """The answer without ``<think>`` blocks, and whether there were any.

    A block that never closes (the answer was cut while thinking) leaves no answer at all; a
    closing tag with no opening one (servers that drop the opening tag) ends the thoughts.
    """
    if "<" not in text:
        return text, False
    stripped = _THINK.sub("", text)
    found = stripped != text
    opened = _OPEN_THINK.search(stripped)
    if opened and not stripped[: opened.start()].strip():
        return "", True
    if opened:  # thoughts after some answer: keep the answer before them
        return stripped[: opened.start()].rstrip() + "\n", True
    lone = _LONE_CLOSE.match(stripped)
    if lone and not found and _looks_like_leading_close(stripped):
        return stripped[lone.end() :], True
    return stripped, found


def _looks_like_leading_close(text: str) -> bool:
    """A ``</think>`` before any code fence or JSON: the server left out the opening tag."""
    close = re.search(r"</(think|thinking|reasoning)>", text, re.IGNORECASE)
    if close is None:
        return False
    before = text[: close.start()]
    return "```" not in before and "{" not in before[:1]


def effort_for(name: str, configured: str | None) -> str | None:
    """The ``reasoning_effort`` to send: as configured (``none`` sends nothing), else ``high`` for
    OpenAI's reasoning models, as the Paper2Code experiments ran o3-mini."""
    if configured is not None:
        return None if configured.strip().lower() in ("", "none", "off") else configured
    return "high" if is_openai_reasoning(name) else None
