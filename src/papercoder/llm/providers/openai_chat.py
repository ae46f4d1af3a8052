"""``openai:MODEL`` and every OpenAI-compatible server, through the official ``openai`` SDK.

Servers differ in what they accept, so the provider adapts once and remembers: a server that
rejects ``max_tokens`` gets ``max_completion_tokens`` (reasoning models), one that rejects
``temperature`` gets none, and a server without JSON-schema output gets JSON mode with the
schema in the prompt, then the prompt alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from papercoder.config import Config, named_server
from papercoder.errors import ConfigError
from papercoder.llm.errors import ContextLengthError, LLMError
from papercoder.llm.providers.common import PerLoop, context_limit, context_message, looks_like_context_overflow
from papercoder.llm.retry import TransientError, parse_retry_after
from papercoder.llm.images import openai_message
from papercoder.llm.reasoning import is_openai_reasoning
from papercoder.llm.types import Check, Message, ModelChoice, RawResponse, Request, Usage

SCHEMA_MODES = ("json_schema", "json_object", "prompt")


class OpenAIProvider:
    """Chat completions on api.openai.com or any server that speaks the same API."""

    def __init__(
        self,
        name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 600.0,
        stream: bool = False,
        reasoning_effort: str | None = None,
        context_window: int | None = None,
        price_provider: str | None = "openai",
    ):
        self.name = name
        self.model = f"openai:{name}"
        self.base_url = base_url
        self.api_url = base_url  # for pricing: the server decides which price list applies
        self.price_provider = price_provider
        self.context_window = context_window
        self.supports_json_schema = True
        self.supports_n = True  # OpenAI's and vLLM's chat completions take n; a server that refuses it is adapted to
        self.stream = stream
        self.reasoning_effort = reasoning_effort
        self.options: dict[str, Any] = {"reasoning_effort": reasoning_effort} if reasoning_effort else {}
        reasoning = is_openai_reasoning(name)  # these take max_completion_tokens and a fixed temperature
        self._token_param = "max_completion_tokens" if reasoning else "max_tokens"
        self._send_temperature = not reasoning
        self._schema_mode = SCHEMA_MODES[0]
        self._clients = PerLoop(lambda: _make_client(api_key, base_url, timeout))

    async def generate(self, request: Request) -> RawResponse:
        import openai

        for _ in range(4):  # each adaptation to the server happens at most once
            params = self._params(request)
            try:
                if self.stream and request.n == 1:
                    return await self._streamed(params)
                return self._parse(await self._clients.get().chat.completions.create(**params))
            except openai.BadRequestError as exc:
                if not self._adapt(_message(exc), request):
                    raise self._final_error(exc) from None
            except openai.APIStatusError as exc:
                raise self._status_error(exc) from None
            except openai.APIConnectionError as exc:  # includes timeouts
                raise TransientError(f"{self.model}: {type(exc).__name__}: {exc}") from None
            except (ValueError, openai.APIResponseValidationError) as exc:  # a body that is not the API's JSON
                raise TransientError(f"{self.model}: the server sent an unreadable answer ({exc})") from None
        raise LLMError(f"{self.model} kept rejecting the request's parameters; check the server's documentation")

    async def list_models(self) -> list[str]:
        """The model names the server offers (``GET /models``)."""
        page = await self._clients.get().models.list()
        return [model.id for model in page.data]

    async def aclose(self) -> None:
        client = self._clients.take()
        if client is not None:
            await client.close()

    # -- building the request ---------------------------------------------------------------

    def _params(self, request: Request) -> dict[str, Any]:
        messages: list[Message] = list(request.messages)
        params: dict[str, Any] = {"model": self.name}
        if request.max_tokens:
            params[self._token_param] = request.max_tokens
        if request.temperature is not None and self._send_temperature:
            params["temperature"] = request.temperature
        if self.reasoning_effort:
            params["reasoning_effort"] = self.reasoning_effort
        if request.json_schema is not None:
            if self._schema_mode == "json_schema":
                params["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": _schema_name(request.schema_name), "schema": request.json_schema},
                }
            else:
                messages = _with_schema_instruction(messages, request.json_schema)
                if self._schema_mode == "json_object":
                    params["response_format"] = {"type": "json_object"}
        for name, value in request.extra.items():
            params.setdefault(name, value)
        if request.n > 1:
            params["n"] = request.n  # n answers arrive whole: such a request is not streamed
        elif self.stream:
            params["stream"] = True
            params["stream_options"] = {"include_usage": True}
        params["messages"] = [openai_message(m) for m in messages]  # figures become image_url parts
        return params

    def _adapt(self, message: str, request: Request) -> bool:
        """Change what we send after the server rejected a parameter; False when nothing helps."""
        lowered = message.lower()
        if looks_like_context_overflow(message):
            return False
        if "max_tokens" in lowered and "max_completion_tokens" in lowered and self._token_param == "max_tokens":
            self._token_param = "max_completion_tokens"
            return True
        if "reasoning_effort" in lowered and self.reasoning_effort:
            self.reasoning_effort = None  # not a reasoning model; options keep it for the cache key
            return True
        if "temperature" in lowered and self._send_temperature and request.temperature is not None:
            self._send_temperature = False
            return True
        if request.json_schema is not None and ("response_format" in lowered or "json" in lowered or "schema" in lowered):
            position = SCHEMA_MODES.index(self._schema_mode)
            if position + 1 < len(SCHEMA_MODES):
                self._schema_mode = SCHEMA_MODES[position + 1]
                return True
        if self.stream and "stream" in lowered:
            self.stream = False
            return True
        return False

    # -- reading the answer -----------------------------------------------------------------

    def _parse(self, response: Any) -> RawResponse:
        if isinstance(response, (str, bytes)) or not getattr(response, "choices", None):
            raise TransientError(f"{self.model}: the server's answer had no choices")
        choices = sorted(response.choices, key=lambda c: getattr(c, "index", 0) or 0)
        choice = choices[0]
        text = choice.message.content or ""
        return RawResponse(
            text=text,
            finish_reason=choice.finish_reason or "stop",
            usage=_usage(response.usage),
            model=getattr(response, "model", "") or "",
            others=[((c.message.content or "") if c.message else "", c.finish_reason or "stop") for c in choices[1:]],
        )

    async def _streamed(self, params: dict[str, Any]) -> RawResponse:
        stream = await self._clients.get().chat.completions.create(**params)
        parts: list[str] = []
        finish = None
        usage = Usage()
        model = ""
        async for chunk in stream:
            model = getattr(chunk, "model", "") or model
            if getattr(chunk, "usage", None):
                usage = _usage(chunk.usage)
            for choice in chunk.choices or []:
                if choice.delta is not None and choice.delta.content:
                    parts.append(choice.delta.content)
                if choice.finish_reason:
                    finish = choice.finish_reason
        if finish is None:
            raise TransientError(f"{self.model}: the stream ended before the answer was complete")
        return RawResponse(text="".join(parts), finish_reason=finish, usage=usage, model=model)

    # -- errors -----------------------------------------------------------------------------

    def _final_error(self, exc: Any) -> Exception:
        message = _message(exc)
        code = _code(exc)
        if looks_like_context_overflow(message, code):
            limit = context_limit(message)
            return ContextLengthError(context_message(self.model, limit), limit)
        return LLMError(f"{self.model} rejected the request: {_short(message)}")

    def _status_error(self, exc: Any) -> Exception:
        status = exc.status_code
        message = _message(exc)
        if status == 429 or status >= 500 or status in (408, 409):
            headers = exc.response.headers
            retry_after = parse_retry_after(headers.get("retry-after"))
            if retry_after is None and headers.get("retry-after-ms"):
                retry_after = (parse_retry_after(headers.get("retry-after-ms")) or 0) / 1000
            return TransientError(f"{self.model}: HTTP {status}: {_short(message)}", retry_after=retry_after, status=status)
        if status in (401, 403):
            where = self.base_url or "api.openai.com"
            return ConfigError(
                f"{where} refused the API key for {self.model} (HTTP {status}); set a valid key in OPENAI_API_KEY"
            )
        if status == 404:
            return ConfigError(
                f"the server does not know the model {self.name!r} (HTTP 404); `papercoder models` lists what it offers"
            )
        if looks_like_context_overflow(message, _code(exc)):
            return self._final_error(exc)
        return LLMError(f"{self.model} failed with HTTP {status}: {_short(message)}")


def _make_client(api_key: str | None, base_url: str | None, timeout: float) -> Any:
    import openai

    # Retries are ours (they honour retry-after and are counted); the SDK must not add its own.
    return openai.AsyncOpenAI(api_key=api_key or "not-needed", base_url=base_url, max_retries=0, timeout=timeout)


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    prompt_details = getattr(raw, "prompt_tokens_details", None)
    completion_details = getattr(raw, "completion_tokens_details", None)
    return Usage(
        input_tokens=getattr(raw, "prompt_tokens", 0) or 0,
        cached_input_tokens=getattr(prompt_details, "cached_tokens", 0) or 0,
        output_tokens=getattr(raw, "completion_tokens", 0) or 0,
        reasoning_tokens=getattr(completion_details, "reasoning_tokens", 0) or 0,
    )


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(exc, "message", "") or exc)


def _code(exc: Any) -> str | None:
    code = getattr(exc, "code", None)
    return str(code) if code else None


def _short(text: str) -> str:
    return " ".join(text.split())[:300]


def _schema_name(name: str | None) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in (name or "answer"))
    return cleaned[:64] or "answer"


def _with_schema_instruction(messages: list[Message], schema: dict[str, Any]) -> list[Message]:
    instruction = (
        "\n\nAnswer with one JSON object that follows this JSON schema, and nothing else:\n" + json.dumps(schema)
    )
    messages = [dict(m) for m in messages]
    for message in reversed(messages):
        if message.get("role") == "user":
            message["content"] = message.get("content", "") + instruction
            return messages
    return [*messages, {"role": "user", "content": instruction.strip()}]


PROBE_TIMEOUT = 3.0


def build(choice: ModelChoice, config: Config, env: Mapping[str, str], timeout: float) -> "OpenAIProvider":
    """The provider for ``openai:NAME`` or a named compatible server; checks the key, contacts nothing."""
    from papercoder.llm.reasoning import effort_for

    key = env.get(choice.api_key_env) if choice.api_key_env else None
    if not key and not choice.base_url:
        raise ConfigError(
            f"{choice.spec} needs an API key: set {choice.api_key_env or 'OPENAI_API_KEY'} in the environment, "
            "or give --base-url for an OpenAI-compatible server"
        )
    return OpenAIProvider(
        choice.name, base_url=choice.base_url, api_key=key, timeout=timeout, stream=bool(config.stream),
        reasoning_effort=effort_for(choice.name, config.reasoning_effort), context_window=config.context_window,
        price_provider="openai" if choice.explicit_provider else None,
    )


def checks(config: Config, base_url: str | None, env: Mapping[str, str], probe: bool) -> list[Check]:
    """The key, and the named server (or OpenAI's) answering with its model list."""
    key_name = config.api_key_env or "OPENAI_API_KEY"
    key = env.get(key_name)
    found = [Check(key_name, "set" if key else "not set", bool(key))]
    url = named_server(base_url, config, env)
    if url:
        found.append(_probe(f"server {url}", url, key) if probe else Check(f"server {url}", "not checked", True))
    elif key and probe:
        found.append(_probe("api.openai.com", "https://api.openai.com/v1", key))
    return found


def _probe(name: str, url: str, key: str | None) -> Check:
    import httpx

    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(url.rstrip("/") + "/models", headers=headers, timeout=PROBE_TIMEOUT)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return Check(name, f"does not answer ({type(exc).__name__})", False)
    if response.status_code in (401, 403):
        return Check(name, f"answers, but refuses the key (HTTP {response.status_code})", False)
    if response.status_code != 200:
        return Check(name, f"answers with HTTP {response.status_code}", False)
    try:
        names = [item["id"] for item in response.json()["data"]]
    except (ValueError, KeyError, TypeError):
        return Check(name, "answers, but not with a model list", False)
    shown = ", ".join(names[:8]) + (f" (+{len(names) - 8} more)" if len(names) > 8 else "")
    return Check(name, f"answers; models: {shown or 'none'}", True)
