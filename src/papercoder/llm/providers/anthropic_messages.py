"""``anthropic:MODEL`` through the official ``anthropic`` SDK (the ``[anthropic]`` extra).

Structured answers use a forced tool call whose input schema is the wanted JSON schema: the
Messages API's way of constraining output to a schema.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from typing import Any

from papercoder.config import Config
from papercoder.errors import ConfigError
from papercoder.llm.images import anthropic_blocks
from papercoder.llm.errors import ContextLengthError, LLMError
from papercoder.llm.providers.common import PerLoop, context_limit, context_message, looks_like_context_overflow
from papercoder.llm.retry import TransientError, parse_retry_after
from papercoder.llm.types import Check, ModelChoice, RawResponse, Request, Usage

DEFAULT_MAX_TOKENS = 8192  # the Messages API requires max_tokens; every current model accepts this
ANTHROPIC_EXTRA = "pip install 'papercoder[anthropic]'"
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "stop", "max_tokens": "length",
           "refusal": "content_filter", "model_context_window_exceeded": "length", "pause_turn": "stop"}


class AnthropicProvider:
    """Claude models through the Messages API."""

    supports_json_schema = True
    price_provider = "anthropic"

    def __init__(
        self,
        name: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 600.0,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        context_window: int | None = None,
    ):
        if importlib.util.find_spec("anthropic") is None:
            raise ConfigError(f"anthropic: models need the anthropic SDK; run: {ANTHROPIC_EXTRA}")
        self.name = name
        self.model = f"anthropic:{name}"
        self.base_url = base_url
        self.api_url = None  # priced by provider, wherever the endpoint is
        self.context_window = context_window
        self.default_max_tokens = max_tokens
        self.timeout = timeout
        self.options: dict[str, Any] = {}
        self._clients = PerLoop(lambda: _make_client(api_key, base_url, timeout))

    async def generate(self, request: Request) -> RawResponse:
        import anthropic

        params = self._params(request)
        try:
            message = await self._clients.get().messages.create(**params)
        except anthropic.APIStatusError as exc:
            raise self._status_error(exc) from None
        except anthropic.APIConnectionError as exc:  # includes timeouts
            raise TransientError(f"{self.model}: {type(exc).__name__}: {exc}") from None
        except (ValueError, anthropic.APIResponseValidationError) as exc:
            raise TransientError(f"{self.model}: the server sent an unreadable answer ({exc})") from None
        return self._parse(message)

    async def list_models(self) -> list[str]:
        page = await self._clients.get().models.list()
        return [model.id for model in page.data]

    async def aclose(self) -> None:
        client = self._clients.take()
        if client is not None:
            await client.close()

    def _params(self, request: Request) -> dict[str, Any]:
        system = "\n\n".join(m["content"] for m in request.messages if m.get("role") == "system")
        turns = _with_cache_breakpoints(
            [m for m in request.messages if m.get("role") in ("user", "assistant")]
        )
        params: dict[str, Any] = {
            "model": self.name,
            "messages": turns,
            "max_tokens": request.max_tokens or self.default_max_tokens,
            # An explicit timeout also stops the SDK refusing long non-streamed answers up front.
            "timeout": self.timeout,
        }
        if system:
            # the run's shared prefix (role, paper, addendum): a cache breakpoint after it
            params["system"] = [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
        if request.temperature is not None:
            # Sent as a body field: newer SDKs dropped the keyword, the API still takes it.
            params["extra_body"] = {"temperature": min(max(request.temperature, 0.0), 1.0)}
        if request.json_schema is not None:
            tool = _tool_name(request.schema_name)
            params["tools"] = [
                {"name": tool, "description": "Give the answer as this tool's input.", "input_schema": request.json_schema}
            ]
            params["tool_choice"] = {"type": "tool", "name": tool}
        params.update(request.extra)
        return params

    def _parse(self, message: Any) -> RawResponse:
        parts: list[str] = []
        for block in getattr(message, "content", None) or []:
            if block.type == "text":
                parts.append(block.text)
            elif block.type == "tool_use":
                parts.append(json.dumps(block.input))
        raw_usage = getattr(message, "usage", None)
        cache_read = getattr(raw_usage, "cache_read_input_tokens", 0) or 0
        cache_write = getattr(raw_usage, "cache_creation_input_tokens", 0) or 0
        usage = Usage(
            # Anthropic counts cache reads and writes apart from input_tokens; ours include them.
            input_tokens=(getattr(raw_usage, "input_tokens", 0) or 0) + cache_read + cache_write,
            cached_input_tokens=cache_read,
            output_tokens=getattr(raw_usage, "output_tokens", 0) or 0,
        )
        stop = getattr(message, "stop_reason", None) or "end_turn"
        return RawResponse(text="".join(parts), finish_reason=_FINISH.get(stop, stop), usage=usage,
                           model=getattr(message, "model", "") or "")

    def _status_error(self, exc: Any) -> Exception:
        status = exc.status_code
        message = _message(exc)
        if status == 429 or status >= 500 or status == 408:
            retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
            return TransientError(f"{self.model}: HTTP {status}: {message[:300]}", retry_after=retry_after, status=status)
        if status in (401, 403):
            return ConfigError(f"Anthropic refused the API key for {self.model} (HTTP {status}); set a valid ANTHROPIC_API_KEY")
        if status == 404:
            return ConfigError(f"Anthropic does not know the model {self.name!r} (HTTP 404); check the model name")
        if looks_like_context_overflow(message):
            limit = context_limit(message)
            return ContextLengthError(context_message(self.model, limit), limit)
        return LLMError(f"{self.model} rejected the request (HTTP {status}): {' '.join(message.split())[:300]}")


def _make_client(api_key: str | None, base_url: str | None, timeout: float) -> Any:
    import anthropic

    return anthropic.AsyncAnthropic(api_key=api_key or "not-needed", base_url=base_url, max_retries=0, timeout=timeout)


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(exc, "message", "") or exc)


def _tool_name(name: str | None) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in (name or "answer"))
    return cleaned[:64] or "answer"


MAX_BREAKPOINTS = 4  # Anthropic allows four cache_control blocks per request; the system takes one


def _with_cache_breakpoints(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turns as Anthropic wants them (consecutive messages of one role merged into one turn of
    blocks; a message's figures become image blocks after its text), with a cache breakpoint
    after every turn but the last and after every message of the last turn but its own part, at
    most three: the figures, the planning artifacts and the skeleton shared by every analysis and
    code call are read from the cache."""
    merged: list[dict[str, Any]] = []
    ends: list[list[int]] = []  # per turn: the index of each message's last block
    figures: dict[str, Any] | None = None  # the last block of the first message with images
    for message in messages:
        blocks = anthropic_blocks(message)
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1]["content"].extend(blocks)
        else:
            merged.append({"role": message["role"], "content": blocks})
            ends.append([])
        ends[-1].append(len(merged[-1]["content"]) - 1)
        if figures is None and message.get("images") and message is not messages[-1]:
            figures = blocks[-1]
    marks = 0
    if figures is not None:  # the planning conversation's figures: one breakpoint of their own, every turn
        figures["cache_control"] = {"type": "ephemeral"}
        marks += 1
    for turn in reversed(merged[:-1]):
        if marks >= MAX_BREAKPOINTS - 1:
            break
        if "cache_control" not in turn["content"][-1]:
            turn["content"][-1]["cache_control"] = {"type": "ephemeral"}
            marks += 1
    # the shared messages before the file's own part (figures, planning artifacts, skeleton), latest first
    for end in reversed(ends[-1][:-1] if merged else []):
        if marks >= MAX_BREAKPOINTS - 1:
            break
        if "cache_control" not in merged[-1]["content"][end]:
            merged[-1]["content"][end]["cache_control"] = {"type": "ephemeral"}
            marks += 1
    return merged


PROBE_TIMEOUT = 3.0


def build(choice: ModelChoice, config: Config, env: Mapping[str, str], timeout: float) -> "AnthropicProvider":
    """The provider for ``anthropic:NAME``; checks the key, contacts nothing."""
    key = env.get(choice.api_key_env) if choice.api_key_env else None
    if not key and not choice.base_url:
        raise ConfigError(f"{choice.spec} needs an API key: set ANTHROPIC_API_KEY in the environment")
    return AnthropicProvider(
        choice.name, api_key=key, base_url=choice.base_url, timeout=timeout,
        max_tokens=config.max_output_tokens or DEFAULT_MAX_TOKENS, context_window=config.context_window,
    )


def checks(config: Config, base_url: str | None, env: Mapping[str, str], probe: bool) -> list[Check]:
    """The key, the SDK, and Anthropic's API answering."""
    key = env.get("ANTHROPIC_API_KEY")
    found = [Check("ANTHROPIC_API_KEY", "set" if key else "not set", bool(key))]
    if importlib.util.find_spec("anthropic") is None:
        found.append(Check("anthropic SDK", "not installed: pip install 'papercoder[anthropic]'", False))
    if key and probe:
        import httpx

        url = (env.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com").rstrip("/") + "/v1/models"
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        try:
            status = httpx.get(url, headers=headers, timeout=PROBE_TIMEOUT).status_code
            found.append(Check("api.anthropic.com", "answers" if status == 200 else f"answers with HTTP {status}",
                               status == 200))
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            found.append(Check("api.anthropic.com", f"does not answer ({type(exc).__name__})", False))
    return found
