"""The model interface every stage uses: :class:`LLM`.

It wraps one :class:`~papercoder.llm.provider.Provider` and adds what every call needs:
a concurrency limit, structured output with one repair turn, and surfacing truncation.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from pydantic import BaseModel, ValidationError

from papercoder.llm.errors import StructuredOutputError, TruncatedError
from papercoder.llm.provider import Provider
from papercoder.llm.structured import extract_json
from papercoder.llm.types import Completion, Message, Request

DEFAULT_CONTEXT_WINDOW = 8192


class LLM:
    """One model, used by all stages; safe to share between concurrent tasks."""

    def __init__(self, provider: Provider, *, concurrency: int = 4):
        self.provider = provider
        self.concurrency = concurrency
        self._semaphore: asyncio.Semaphore | None = None

    @property
    def model(self) -> str:
        return self.provider.model

    @property
    def context_window(self) -> int:
        """The model's context window in tokens, or a conservative default when unknown."""
        return self.provider.context_window or DEFAULT_CONTEXT_WINDOW

    async def acomplete(
        self,
        messages: list[Message],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stage: str = "",
        sample: int = 0,
        allow_truncated: bool = False,
    ) -> Completion:
        """Ask the model once.

        With ``schema``, the answer is parsed and validated into ``completion.parsed``; a
        malformed answer gets one repair turn quoting the error, then StructuredOutputError.
        A truncated answer (finish reason "length") raises TruncatedError unless
        ``allow_truncated``. ``sample`` tells apart repeated samples of one prompt.
        """
        request = Request(
            messages=list(messages),
            max_tokens=max_tokens,
            temperature=temperature,
            json_schema=schema.model_json_schema() if schema else None,
            schema_name=schema.__name__ if schema else None,
            sample=sample,
        )
        completion = await self._call(request, stage)
        if completion.finish_reason == "length" and not allow_truncated:
            raise TruncatedError(
                f"the answer of {self.model} was cut at its output limit (stage {stage or '?'}); "
                "raise max_tokens or use a model with a larger output limit",
                completion,
            )
        if schema is None:
            return completion
        try:
            completion.parsed = parse_into(schema, completion.text)
            return completion
        except ValueError as exc:
            problem = str(exc)
        repair = Request(
            messages=[
                *messages,
                {"role": "assistant", "content": completion.text},
                {"role": "user", "content": repair_message(problem, schema)},
            ],
            max_tokens=max_tokens,
            temperature=temperature,
            json_schema=request.json_schema,
            schema_name=request.schema_name,
            sample=sample,
        )
        fixed = await self._call(repair, stage)
        try:
            fixed.parsed = parse_into(schema, fixed.text)
        except ValueError as exc:
            raise StructuredOutputError(
                f"{self.model} did not return a valid {schema.__name__} (stage {stage or '?'}), "
                f"even after a repair turn: {_first_line(str(exc))}",
                fixed.text,
            ) from None
        return fixed

    def complete(self, messages: list[Message], **kwargs: Any) -> Completion:
        """Synchronous form of :meth:`acomplete` (for code not already in an event loop)."""
        return asyncio.run(self.acomplete(messages, **kwargs))

    async def _call(self, request: Request, stage: str) -> Completion:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        async with self._semaphore:
            start = time.monotonic()
            raw = await self.provider.generate(request)
            latency = time.monotonic() - start
        return Completion(
            text=raw.text,
            usage=raw.usage,
            finish_reason=raw.finish_reason,
            latency=latency,
            model=raw.model or self.model,
        )


def parse_into(schema: type[BaseModel], text: str) -> BaseModel:
    """Extract JSON from ``text`` and validate it; ``ValueError`` says what is wrong."""
    data = extract_json(text)
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        lines = [f"- {'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:10]]
        raise ValueError("the JSON does not match the schema:\n" + "\n".join(lines)) from None


def repair_message(problem: str, schema: type[BaseModel]) -> str:
    """The repair turn: what was wrong, and the schema to follow."""
    return (
        f"Your previous answer could not be used: {problem}\n\n"
        "Answer again with one JSON object that follows this JSON schema exactly, "
        "and nothing else:\n" + json.dumps(schema.model_json_schema())
    )


def _first_line(text: str) -> str:
    return " ".join(text.split())[:300]
