"""Small helpers the providers share."""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

_LIMIT_PATTERNS = (
    re.compile(r"maximum context length is (\d+)", re.I),
    re.compile(r">\s*(\d+)\s+maximum", re.I),  # Anthropic: "prompt is too long: 250000 tokens > 200000 maximum"
    re.compile(r"context (?:window|size|length)(?: of| is|:)?\s*(\d+)", re.I),
    re.compile(r"n_ctx\D{0,5}(\d+)", re.I),
)
_CONTEXT_WORDS = re.compile(
    r"context[_ ]length|maximum context|context window|context size|prompt is too long|too many tokens|"
    r"exceeds? the available context|n_ctx",
    re.I,
)


def looks_like_context_overflow(message: str, code: str | None = None) -> bool:
    """True when a server's error says the request did not fit the context window."""
    return code == "context_length_exceeded" or bool(_CONTEXT_WORDS.search(message))


def context_limit(message: str) -> int | None:
    """The context limit a server's error message states, when it states one."""
    for pattern in _LIMIT_PATTERNS:
        match = pattern.search(message)
        if match:
            return int(match.group(1))
    return None


def context_message(model: str, limit: int | None) -> str:
    """The one-line message of a context overflow, saying what to do."""
    window = f"its {limit}-token context window" if limit else "its context window"
    return f"the request is too long for {model} ({window}); shorten the input or use a model with a larger context"


class PerLoop(Generic[T]):
    """One SDK client per event loop: an async HTTP client must not outlive its loop."""

    def __init__(self, factory: Callable[[], T]):
        self._factory = factory
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._value: T | None = None

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        if self._value is None or self._loop is None or self._loop() is not loop:
            self._value = self._factory()
            self._loop = weakref.ref(loop)
        return self._value

    def take(self) -> T | None:
        """Forget the current client and return it (to be closed)."""
        value, self._value, self._loop = self._value, None, None
        return value
