"""A fake Anthropic Messages API on 127.0.0.1, for the real ``anthropic`` SDK code path.

    with FakeAnthropicServer(["hello"]) as server:
        llm = open_model("anthropic:claude-sonnet-4-5", base_url=server.base_url)

With ``prefix_cache=PrefixCache()`` it caches as Anthropic does: only prefixes that end at a
``cache_control`` breakpoint, read once their prefill has finished, reported as
``cache_read_input_tokens`` (and the newly written part as ``cache_creation_input_tokens``).

Serves ``POST /v1/messages`` (not streaming) and ``GET /v1/models``. A request that forces a
tool (how structured output is asked for) is answered with a ``tool_use`` block whose input is
the reply text parsed as JSON; a reply that is not a JSON object comes back as plain text.
"""

from __future__ import annotations

import json
import time
from typing import Any

from papercoder.testing.fake_http import FakeServer, Reply, _Handler, count_tokens, image_text

__all__ = ["FakeAnthropicServer", "Reply"]

_STOP = {"stop": "end_turn", "length": "max_tokens"}


class FakeAnthropicServer(FakeServer):
    """Speaks the Anthropic Messages API; scripted with :class:`Reply` values or strings."""

    def __init__(self, *args: Any, models: tuple[str, ...] = ("claude-fake",), **kwargs: Any):
        super().__init__(*args, models=models, **kwargs)

    @property
    def base_url(self) -> str:
        return self.url  # the SDK adds /v1 itself

    def handle(self, handler: _Handler, method: str, path: str, body: Any) -> None:
        if method == "GET" and path == "/v1/models":
            data = [{"id": name, "type": "model", "display_name": name, "created_at": "2025-01-01T00:00:00Z"}
                    for name in self.models]
            handler.send_json(200, {"data": data, "has_more": False, "first_id": self.models[0], "last_id": self.models[-1]})
            return
        if method != "POST" or path != "/v1/messages":
            handler.send_json(404, _error("not_found_error", f"no route {method} {path}"))
            return
        if not isinstance(body, dict) or "messages" not in body or "max_tokens" not in body:
            handler.send_json(400, _error("invalid_request_error", "messages and max_tokens are required"))
            return
        reply = self.next_reply(body)
        if reply is None:
            handler.send_json(400, _error("invalid_request_error", "fake server: the script has no reply left"))
            return
        if reply.delay:
            time.sleep(reply.delay)
        if reply.fault:
            self._fault(handler, reply)
            return
        input_tokens = reply.input_tokens
        if input_tokens is None:
            input_tokens = count_tokens(_prompt(body)[0])
        output_tokens = reply.output_tokens if reply.output_tokens is not None else count_tokens(reply.text)
        prompt, points = _prompt(body)
        reply, first_token = self.prefill(reply, prompt, input_tokens, handler.arrived, points)
        written = 0
        if self.cache is not None and points:  # what the last breakpoint adds beyond the hit is written
            written = max(0, min(input_tokens, max(points) // 4) - reply.cached_input_tokens)
        time.sleep(first_token + self.generation_seconds(output_tokens))
        content, stop = _content(body, reply)
        handler.send_json(
            200,
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "claude-fake"),
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": input_tokens - reply.cached_input_tokens - written,
                    "output_tokens": output_tokens,
                    "cache_read_input_tokens": reply.cached_input_tokens,
                    "cache_creation_input_tokens": written,
                },
            },
            reply.headers,
        )

    def _fault(self, handler: _Handler, reply: Reply) -> None:
        if reply.fault == "rate_limit":
            headers = dict(reply.headers)
            if reply.retry_after is not None:
                headers["retry-after"] = str(reply.retry_after)
            handler.send_json(429, _error("rate_limit_error", "Number of requests has exceeded your rate limit"), headers)
        elif reply.fault == "overloaded":
            handler.send_json(529, _error("overloaded_error", "Overloaded"))
        elif reply.fault == "server":
            handler.send_json(reply.status or 500, _error("api_error", "Internal server error"))
        elif reply.fault == "context_length":
            message = f"prompt is too long: {reply.limit + 1000} tokens > {reply.limit} maximum"
            handler.send_json(400, _error("invalid_request_error", message))
        elif reply.fault == "malformed":
            handler.send_body(200, b'{"id": "msg_fake", "type": "message", "content": [', "application/json")
        elif reply.fault == "drop":
            handler.drop()
        elif reply.fault == "bad_request":
            handler.send_json(reply.status or 400, _error("invalid_request_error", reply.text or "bad request"))
        else:
            raise ValueError(f"unknown fault {reply.fault!r}")


def _prompt(body: dict) -> tuple[str, list[int]]:
    """The request as the cache sees it, and the offsets just after each ``cache_control`` block.

    Anthropic caches only at breakpoints: the prefix through a marked block (system blocks
    first, then the messages' blocks in order).
    """
    out: list[str] = []
    points: list[int] = []
    size = 0

    def add(text: str, marked: bool) -> None:
        nonlocal size
        out.append(text)
        size += len(text)
        if marked:
            points.append(size)

    system = body.get("system")
    for block in [{"type": "text", "text": system}] if isinstance(system, str) else system or []:
        add(f"<system>{block.get('text', '')}", bool(block.get("cache_control")))
    for message in body.get("messages", []):
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for block in blocks:
            if block.get("type") == "image":
                text = image_text(str((block.get("source") or {}).get("data", "")), "anthropic")
            else:
                text = block.get("text") if block.get("type") == "text" else json.dumps(block, sort_keys=True)
            add(f"<{message.get('role')}>{text}", bool(block.get("cache_control")))
    return "".join(out), points


def _content(body: dict, reply: Reply) -> tuple[list[dict], str]:
    stop = _STOP.get(reply.finish_reason, reply.finish_reason)
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        try:
            value = json.loads(reply.text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            block = {"type": "tool_use", "id": "toolu_fake", "name": choice.get("name", "answer"), "input": value}
            return [block], "tool_use" if stop == "end_turn" else stop
    return [{"type": "text", "text": reply.text}], stop


def _error(kind: str, message: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": message}}
