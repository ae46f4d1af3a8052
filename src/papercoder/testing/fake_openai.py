"""A fake OpenAI-compatible server on 127.0.0.1, for the real client code path in tests.

    with FakeOpenAIServer(["hello", Reply.rate_limited(0.01), "again"]) as server:
        llm = open_model("openai:gpt-4.1", base_url=server.base_url)
        ...
        assert server.requests[0].body["model"] == "gpt-4.1"

With ``prefix_cache=PrefixCache()`` it caches prompts as OpenAI does (strictly: only prefixes
whose prefill had finished) and reports the hits as ``cached_tokens``; with
``prefill_tokens_per_second`` the uncached input delays the first token.

With ``hidden_tokens=N`` it acts as a reasoning model: N hidden tokens are spent before each
answer, against ``max_completion_tokens`` (or ``max_tokens``), so a small limit cuts the answer,
possibly to nothing, with finish reason "length" and the hidden tokens in usage.

Serves ``POST /v1/chat/completions`` (plain and streaming, usage in the final chunk when
``stream_options.include_usage`` is set) and ``GET /v1/models``. See :class:`Reply` for faults.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from papercoder.testing.fake_http import FakeServer, Reply, _Handler, count_tokens, image_text

__all__ = ["FakeOpenAIServer", "Reply"]


SERVERS = ("openai", "vllm", "llamacpp", "ollama")


class FakeOpenAIServer(FakeServer):
    """Speaks the OpenAI chat completions API; scripted with :class:`Reply` values or strings.

    ``acts_as`` makes it publish its context window ``window`` the way a self-hosted server does:
    ``"vllm"`` as ``max_model_len`` on ``/v1/models``, ``"llamacpp"`` as ``n_ctx`` on ``/props``,
    ``"ollama"`` as ``num_ctx`` on ``/api/show`` (``window=None``: the Modelfile sets none, so
    Ollama's default of 4,096 applies) and, like Ollama, it then keeps only the last ``window``
    tokens of a longer prompt and reports what it kept, without an error. ``vision`` (True or
    False) makes Ollama list "vision" among its model's capabilities, and llama.cpp its modalities.
    """

    def __init__(self, *args: Any, acts_as: str = "openai", window: int | None = None, vision: bool | None = None,
                 **kwargs: Any):
        if acts_as not in SERVERS:
            raise ValueError(f"acts_as must be one of {SERVERS}")
        super().__init__(*args, **kwargs)
        self.acts_as = acts_as
        self.window = window
        self.vision = vision

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def handle(self, handler: _Handler, method: str, path: str, body: Any) -> None:
        if method == "GET" and path == "/v1/models":
            data = [{"id": name, "object": "model", "created": 0, "owned_by": "fake"} for name in self.models]
            if self.acts_as == "vllm" and self.window:
                data = [{**entry, "max_model_len": self.window} for entry in data]
            handler.send_json(200, {"object": "list", "data": data})
            return
        if self.acts_as == "llamacpp" and method == "GET" and path == "/props" and self.window:
            props = {"default_generation_settings": {"n_ctx": self.window}, "total_slots": 1}
            if self.vision is not None:
                props["modalities"] = {"vision": self.vision, "audio": False}
            handler.send_json(200, props)
            return
        if self.acts_as == "ollama" and method == "POST" and path == "/api/show":
            parameters = f"num_ctx                        {self.window}" if self.window else "stop \"<|eot_id|>\""
            show = {"parameters": parameters, "model_info": {"llama.context_length": 131072}, "details": {"family": "llama"}}
            if self.vision is not None:
                show["capabilities"] = ["completion", "vision"] if self.vision else ["completion"]
            handler.send_json(200, show)
            return
        if self.acts_as == "ollama" and method == "GET" and path == "/api/ps":
            handler.send_json(200, {"models": []})
            return
        if method != "POST" or path != "/v1/chat/completions":
            handler.send_json(404, _error(f"no route {method} {path}", "invalid_request_error", None))
            return
        if not isinstance(body, dict) or "messages" not in body:
            handler.send_json(400, _error("the body must be a JSON object with messages", "invalid_request_error", None))
            return
        reply = self.next_reply(body)
        if reply is None:
            handler.send_json(400, _error("fake server: the script has no reply left", "invalid_request_error", None))
            return
        if reply.delay:
            time.sleep(reply.delay)
        if reply.fault:
            self._fault(handler, reply)
            return
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        limit = int(limit) if isinstance(limit, (int, float)) else None
        if self.acts_as == "ollama":  # a prompt over num_ctx loses its start, silently
            kept = self.window or 4096
            if _prompt_tokens(body, reply) > kept:
                reply = replace(reply, input_tokens=kept)
        scripted = reply
        reply = self.think(reply, limit)
        reply, first_token = self.prefill(reply, _prompt(body), _prompt_tokens(body, reply), handler.arrived)
        usage = _usage(body, reply)
        model = body.get("model", "fake-model")
        time.sleep(first_token)
        if body.get("stream"):
            self._stream(handler, body, reply, usage, model)
            return
        choices = [reply]
        for _ in range(max(1, int(body.get("n") or 1)) - 1):  # each further answer is the script's next reply
            more = self.think(self.next_reply(body) or scripted, limit)
            choices.append(more)
            extra = _usage(body, more)
            usage["completion_tokens"] += extra["completion_tokens"]
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            usage["completion_tokens_details"]["reasoning_tokens"] += extra["completion_tokens_details"]["reasoning_tokens"]
        time.sleep(self.generation_seconds(usage["completion_tokens"]))
        handler.send_json(
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": k,
                        "message": {"role": "assistant", "content": choice.text},
                        "finish_reason": choice.finish_reason,
                    }
                    for k, choice in enumerate(choices)
                ],
                "usage": usage,
            },
            reply.headers,
        )

    def _stream(self, handler: _Handler, body: dict, reply: Reply, usage: dict, model: str) -> None:
        handler.start_events(reply.headers)
        pieces = _split(reply.text, 8) or [""]
        pause = self.generation_seconds(usage["completion_tokens"]) / len(pieces)

        def chunk(delta: dict, finish: str | None) -> str:
            return json.dumps(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
            )

        handler.send_event(chunk({"role": "assistant", "content": ""}, None))
        for piece in pieces:
            if pause:
                time.sleep(pause)
            handler.send_event(chunk({"content": piece}, None))
        handler.send_event(chunk({}, reply.finish_reason))
        if (body.get("stream_options") or {}).get("include_usage"):
            final = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                     "choices": [], "usage": usage}
            handler.send_event(json.dumps(final))
        handler.send_event("[DONE]")
        handler.end_events()

    def _fault(self, handler: _Handler, reply: Reply) -> None:
        if reply.fault == "rate_limit":
            headers = dict(reply.headers)
            if reply.retry_after is not None:
                headers["retry-after"] = str(reply.retry_after)
            handler.send_json(429, _error("Rate limit reached; slow down", "rate_limit_exceeded", "rate_limit_exceeded"), headers)
        elif reply.fault in ("server", "overloaded"):
            status = reply.status or (529 if reply.fault == "overloaded" else 500)
            handler.send_json(status, _error("The server had an error processing your request", "server_error", None))
        elif reply.fault == "context_length":
            message = (
                f"This model's maximum context length is {reply.limit} tokens. However, your messages resulted "
                f"in {reply.limit + 1000} tokens. Please reduce the length of the messages."
            )
            handler.send_json(400, _error(message, "invalid_request_error", "context_length_exceeded"))
        elif reply.fault == "malformed":
            handler.send_body(200, b'{"id": "chatcmpl-fake", "choices": [ {"index": 0, "mess', "application/json")
        elif reply.fault == "drop":
            handler.drop()
        elif reply.fault == "cut_stream":  # a stream that stops mid-answer
            handler.start_events()
            handler.send_event(json.dumps({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                                           "model": "fake", "choices": [{"index": 0, "delta": {"content": reply.text},
                                                                         "finish_reason": None}]}))
            handler.drop()
        elif reply.fault == "bad_request":
            handler.send_json(reply.status or 400, _error(reply.text or "bad request", "invalid_request_error", None))
        else:
            raise ValueError(f"unknown fault {reply.fault!r}")


def _error(message: str, kind: str, code: str | None) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _usage(body: dict, reply: Reply) -> dict:
    prompt = _prompt_tokens(body, reply)
    completion = reply.output_tokens if reply.output_tokens is not None else count_tokens(reply.text)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": reply.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
    }


def _prompt_tokens(body: dict, reply: Reply) -> int:
    """The input tokens usage reports: the reply's override, else about four characters a token."""
    if reply.input_tokens is not None:
        return reply.input_tokens
    return sum(count_tokens(_content_text(m.get("content", ""))) for m in body.get("messages", []))


def _prompt(body: dict) -> str:
    """The request as the cache sees it: the messages' roles and contents in order."""
    return "".join(f"<{m.get('role')}>{_content_text(m.get('content', ''))}</{m.get('role')}>" for m in body.get("messages", []))


def _content_text(content: Any) -> str:
    """A message's content as text: a list of parts joined, each image as the tokens it costs."""
    if not isinstance(content, list):
        return str(content)
    pieces = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            pieces.append(image_text(url.split("base64,", 1)[-1], "openai"))
        elif isinstance(part, dict):
            pieces.append(str(part.get("text", "")))
    return "".join(pieces)


def _split(text: str, pieces: int) -> list[str]:
    if not text:
        return []
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]
