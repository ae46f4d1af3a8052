"""A scripted in-process model for tests of everything above the model layer.

Replies come from a list (in order) or from a function of the messages, so concurrent callers
can be answered by what they ask rather than by arrival order. Every request is recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from papercoder.llm.types import Message, RawResponse, Request, Usage


@dataclass
class FakeReply:
    """One scripted answer: text, or an exception to raise, after an optional delay."""

    text: str = ""
    finish_reason: str = "stop"
    delay: float = 0.0
    error: BaseException | None = None
    usage: Usage | None = None


Script = Callable[[list[Message]], "str | FakeReply"]


@dataclass
class ScriptedProvider:
    """A :class:`~papercoder.llm.provider.Provider` answering from a script.

    ``replies`` is a list consumed in order, or a function ``messages -> str | FakeReply``.
    ``calls`` records every request with its start and end times (``time.monotonic``).
    """

    replies: list[str | FakeReply] | Script
    model: str = "fake:scripted"
    context_window: int | None = 128_000
    supports_json_schema: bool = False
    calls: list[dict] = field(default_factory=list)
    # Off by default, so a script's cut reply is followed by the reply the caller's own handling
    # asks for (a continuation, a repair); on, a cut reply is first asked again with more room.
    grow_cut_answers: bool = False

    async def generate(self, request: Request) -> RawResponse:
        start = time.monotonic()
        reply = self._next(request.messages)
        if isinstance(reply, str):
            reply = FakeReply(text=reply)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        self.calls.append({"request": request, "start": start, "end": time.monotonic()})
        if reply.error is not None:
            raise reply.error
        usage = reply.usage or Usage(
            input_tokens=sum(len(m["content"]) for m in request.messages) // 4,
            output_tokens=len(reply.text) // 4,
        )
        return RawResponse(text=reply.text, finish_reason=reply.finish_reason, usage=usage, model=self.model)

    def _next(self, messages: list[Message]) -> str | FakeReply:
        if callable(self.replies):
            return self.replies(messages)
        if not self.replies:
            raise AssertionError("ScriptedProvider ran out of replies; last prompt: " + messages[-1]["content"][:300])
        return self.replies.pop(0)
