"""From a model string to a ready :class:`~papercoder.llm.LLM`: :func:`open_model`.

Model strings name the provider: ``openai:MODEL``, ``anthropic:MODEL``, ``local:smollm2``,
``local:/path/model.gguf``; a bare name together with a base URL means an OpenAI-compatible
server (vLLM, Ollama, llama.cpp server, LM Studio, OpenRouter, ...). With no model string the
choice falls to the config file, then to the keys and base URL in the environment, then to the
embedded demonstration model.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from papercoder.config import Config, load_config, named_server
from papercoder.errors import ConfigError
from papercoder.llm.calllog import CallLog
from papercoder.llm import windows
from papercoder.llm.client import DEFAULT_CONTEXT_WINDOW, LLM
from papercoder.llm.windows import Window
from papercoder.llm.provider import Provider
from papercoder.llm.registry import BARE_NAMES, PRESET_PREFIXES, PROVIDERS
from papercoder.llm.retry import RetryPolicy
from papercoder.llm.types import ModelChoice
from papercoder.secrets import register

DEFAULT_OPENAI_MODEL = "openai:gpt-4.1"
DEFAULT_ANTHROPIC_MODEL = "anthropic:claude-sonnet-4-6"
EMBEDDED_MODEL = "local:smollm2"
# Calls in flight at once unless set: a run sends its analysis requests together, then all its
# code files, and a plan of eight files is common; API providers serve that many at once. An
# in-process model still answers one call at a time.
DEFAULT_CONCURRENCY = 8

_announced = False


def parse_model_spec(spec: str, *, base_url: str | None = None, aliases: Mapping[str, str] | None = None) -> ModelChoice:
    """What a model string names; ``ConfigError`` with the closest spellings when it names nothing.

    Accepted: ``PROVIDER:NAME`` (openai, anthropic, local), ``PRESET:NAME`` (ollama, vllm,
    lmstudio, llamacpp, sglang, openrouter, deepseek), litellm's ``provider/NAME``, a ``.gguf``
    path, a bare name on the server named by ``base_url``, a bare name whose family says its
    provider (``gpt-4.1``, ``o3-mini``, ``claude-sonnet-4-6``, ``deepseek-chat``), and the
    config file's aliases.
    """
    spec = _unalias(spec.strip(), aliases or {})
    prefix, sep, rest = spec.partition(":")
    if sep and (prefix in PROVIDERS or prefix in PRESET_PREFIXES):
        if not rest.strip():
            raise ConfigError(f"the model string {spec!r} names no model; write e.g. {prefix}:NAME")
        return _named(prefix, rest.strip(), base_url)
    if spec.endswith(".gguf"):
        return ModelChoice("local", spec)
    first, slash, rest = spec.partition("/")
    if slash and rest and (first in PROVIDERS and first != "local" or first in PRESET_PREFIXES):
        return _named(first, rest, base_url)
    if base_url:
        return ModelChoice("openai", spec, base_url=base_url, explicit_provider=False)
    for pattern, provider, _ in BARE_NAMES:
        if re.match(pattern, spec):
            return _named(provider, spec, None)
    raise ConfigError(_unknown_name(spec))


def _named(prefix: str, name: str, base_url: str | None) -> ModelChoice:
    """``prefix:name`` once the prefix is known to be a provider or a server preset."""
    if prefix in PROVIDERS:
        return ModelChoice(prefix, name, base_url=base_url)
    preset = PRESET_PREFIXES[prefix]
    return ModelChoice("openai", name, base_url=base_url or preset.base_url, api_key_env=preset.key_env,
                       explicit_provider=False, preset=preset.name)


def _unalias(spec: str, aliases: Mapping[str, str]) -> str:
    seen = [spec]
    while spec in aliases:
        spec = aliases[spec].strip()
        if spec in seen:
            raise ConfigError(f"the aliases in the config file loop ({' -> '.join(seen + [spec])}); make one of them a model string")
        seen.append(spec)
    return spec


def _unknown_name(spec: str) -> str:
    known = [name for _, _, names in BARE_NAMES for name in names]
    close = difflib.get_close_matches(spec, known, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return (
        f"the model string {spec!r} names no provider or server; {hint}write PROVIDER:NAME (openai:, anthropic:, "
        "local:PATH.gguf), a server preset (ollama:NAME, vllm:NAME, lmstudio:NAME, llamacpp:NAME, openrouter:NAME, "
        "deepseek:NAME), or give --base-url for an OpenAI-compatible server"
    )


def choose_model(
    spec: str | None = None,
    *,
    base_url: str | None = None,
    config: Config | None = None,
    env: Mapping[str, str] | None = None,
) -> ModelChoice:
    """Decide the model: flag, then config file, then keys and base URL in the environment, then embedded."""
    config = config or Config()
    env = os.environ if env is None else env
    openai_url = named_server(base_url, config, env)
    reason = "flag"
    if not spec and config.model:
        spec, reason = config.model, "config file"
    if spec:
        choice = parse_model_spec(spec, base_url=openai_url, aliases=config.aliases)
        if choice.preset:  # a preset's server, unless the flag moves it
            choice = _replace(choice, base_url=base_url or choice.base_url)
            return _replace(choice, reason=reason)
        if choice.provider == "openai":
            choice = _replace(choice, base_url=openai_url)
        elif choice.provider == "anthropic":
            choice = _replace(choice, base_url=base_url or env.get("ANTHROPIC_BASE_URL") or None)
        return _replace(choice, reason=reason, api_key_env=_key_env(choice.provider, config))
    if openai_url:
        name = _first_served_model(openai_url, env.get(config.api_key_env or "OPENAI_API_KEY"))
        return ModelChoice("openai", name, base_url=openai_url, explicit_provider=False, reason="base URL",
                           api_key_env=_key_env("openai", config))
    if env.get(config.api_key_env or "OPENAI_API_KEY"):
        return _replace(parse_model_spec(DEFAULT_OPENAI_MODEL), reason="OPENAI_API_KEY", api_key_env=_key_env("openai", config))
    if env.get("ANTHROPIC_API_KEY"):
        return _replace(parse_model_spec(DEFAULT_ANTHROPIC_MODEL), reason="ANTHROPIC_API_KEY", api_key_env="ANTHROPIC_API_KEY")
    return _replace(parse_model_spec(EMBEDDED_MODEL), reason="default")


def build_provider(choice: ModelChoice, config: Config | None = None, env: Mapping[str, str] | None = None,
                   *, timeout: float | None = None) -> Provider:
    """Create the provider for a choice; checks keys and files, contacts nothing."""
    config = config or Config()
    env = os.environ if env is None else env
    timeout = timeout or config.timeout or 600.0
    register(choice.api_key_env)  # its value is cut out of everything papercoder writes or sends
    kind = PROVIDERS.get(choice.provider)
    if kind is None:  # pragma: no cover - parse_model_spec only makes the table's names
        raise ConfigError(f"unknown provider {choice.provider!r}")
    return kind.build(choice, config, env, timeout)


def open_model(
    spec: str | None = None,
    *,
    base_url: str | None = None,
    log_path: Path | None = None,
    max_cost: float | None = None,
    concurrency: int | None = None,
    config: Config | None = None,
    quiet: bool = False,
    timeout: float | None = None,
    retry: RetryPolicy | None = None,
    context_window: int | None = None,
    window_cache: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> LLM:
    """An :class:`LLM` for a model string (or the configured default), with its call log.

    Flags (the arguments) override the config file. ``log_path`` is the run's ``calls.sqlite``.
    When nothing is configured, the embedded tiny model is used and announced once on stderr.
    The context window is ``context_window``, else the config file's, else what the server says
    (kept in ``window_cache`` for a resumed run), the price list or the model file; with none of
    these it is assumed, and that is said on stderr. ``env`` stands in for the environment when
    the provider is built (an estimate gives a placeholder key: it calls no model).
    """
    config = config if config is not None else load_config()
    if context_window is not None:
        if context_window < 1:
            raise ConfigError(f"--context-window must be a number of tokens of 1 or more, not {context_window}")
        config = _replace(config, context_window=context_window)
    choice = choose_model(spec, base_url=base_url, config=config)
    provider = build_provider(choice, config, env, timeout=timeout)
    if choice.reason == "default" and not quiet:
        announce_embedded_model()
    window = resolve_window(provider, choice, config, window_cache)
    provider.context_window = None if window.assumed else window.tokens
    if window.assumed and not quiet:
        print(f"papercoder: warning: nothing says the context window of {choice.spec}"
              f"{' at ' + choice.base_url if choice.base_url else ''}; assuming {window.tokens:,} tokens. Set it with "
              "--context-window N or context_window in papercoder.toml; a paper shrunk to fit this guess makes the run degraded.",
              file=sys.stderr)
    log = CallLog(log_path) if log_path is not None else None
    llm = LLM(
        provider,
        reasoning=config.reasoning,
        reasoning_reserve=config.reasoning_reserve,
        output_limit=config.max_output_tokens,
        vision=config.vision,
        concurrency=concurrency or config.concurrency or DEFAULT_CONCURRENCY,
        log=log,
        max_cost=max_cost if max_cost is not None else config.max_cost,
        prices=config.prices,
        retry=retry or RetryPolicy(attempts=config.retries or RetryPolicy.attempts),
    )
    llm.window_source, llm.window_server = window.source, window.server
    llm.server_vision = window.vision
    return llm


def resolve_window(provider: Provider, choice: ModelChoice, config: Config, cache: Path | None = None,
                   env: Mapping[str, str] | None = None) -> Window:
    """The model's context window and its source (see :mod:`papercoder.llm.windows`)."""
    env = os.environ if env is None else env
    if config.context_window:
        return Window(config.context_window, "--context-window or context_window in the config file")
    server = choice.base_url if choice.provider == "openai" and choice.base_url else ""
    if server:
        found = windows.cached(cache, server, choice.name)
        if found is None:
            key = env.get(choice.api_key_env) if choice.api_key_env else None
            found = windows.probe_server(server, choice.name, key)
            if found is not None:
                windows.remember(cache, server, choice.name, found)
        if found is not None:
            return found
    if getattr(provider, "context_window", None):
        return Window(provider.context_window, "the model file" if choice.provider == "local" else "the provider")
    known = _known_context_window(provider, config)
    if known:
        return Window(known, "the price list (genai-prices)")
    return Window(DEFAULT_CONTEXT_WINDOW, windows.ASSUMED)


def announce_embedded_model() -> None:
    """Say once per process that the embedded model is a toy and how to configure a real one."""
    global _announced
    if _announced:
        return
    _announced = True
    print(
        "papercoder: no model configured, so using the embedded demonstration model local:smollm2 "
        "(SmolLM2-135M: tiny, expect poor results). For real work set OPENAI_API_KEY or ANTHROPIC_API_KEY, "
        "pass -m MODEL (and --base-url for an OpenAI-compatible server), or set model in papercoder.toml.",
        file=sys.stderr,
    )


def _known_context_window(provider: Provider, config: Config) -> int | None:
    from papercoder.llm.accounting import Pricer

    pricer = Pricer(provider.model, provider_id=getattr(provider, "price_provider", None),
                    api_url=getattr(provider, "api_url", None), overrides=config.prices)
    return pricer.context_window()


def _key_env(provider: str, config: Config) -> str | None:
    kind = PROVIDERS.get(provider)
    return kind.key_env(config) if kind is not None else None


def _first_served_model(base_url: str, key: str | None) -> str:
    """Ask an OpenAI-compatible server which models it serves; the first one is the default."""
    import httpx

    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(base_url.rstrip("/") + "/models", headers=headers, timeout=10)
        response.raise_for_status()
        names = [item["id"] for item in response.json().get("data", [])]
    except (httpx.HTTPError, httpx.InvalidURL, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"the server at {base_url} did not list its models ({type(exc).__name__}); check that it runs, "
            "or name the model with -m"
        ) from None
    if not names:
        raise ConfigError(f"the server at {base_url} lists no models; name one with -m")
    return names[0]


def _replace(choice: ModelChoice, **changes: object) -> ModelChoice:
    from dataclasses import replace

    return replace(choice, **changes)
