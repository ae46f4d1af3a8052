"""The one method a backend must implement."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from papercoder.llm.types import RawResponse, Request


@runtime_checkable
class Provider(Protocol):
    """A backend: turns one :class:`Request` into one :class:`RawResponse`.

    Providers do no caching, logging, retrying or accounting: :class:`papercoder.llm.LLM` does.
    They raise :class:`papercoder.llm.errors.ContextLengthError` for a context overflow and
    :class:`papercoder.llm.retry.TransientError` for faults worth retrying (429, 5xx, timeouts).

    Optional attributes the model layer reads when present: ``options`` (a dict of settings that
    change answers, e.g. ``reasoning_effort``; part of the cache key, never a key),
    ``price_provider`` and ``api_url`` (which price list applies), ``aclose()`` (release
    connections) and ``list_models()``.
    """

    model: str  # the full model string, e.g. "openai:gpt-4.1", "local:smollm2"
    context_window: int | None  # tokens, when known
    supports_json_schema: bool  # can constrain output to a JSON schema

    async def generate(self, request: Request) -> RawResponse: ...
