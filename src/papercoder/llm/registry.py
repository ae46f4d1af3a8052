"""The provider table: every backend papercoder can talk to, in one place.

Adding a provider: write its module in ``llm/providers/`` with a ``build`` (a choice, the config,
the environment, a timeout -> a :class:`~papercoder.llm.provider.Provider`, contacting nothing)
and a ``checks`` (what ``papercoder models`` reports), then add one :class:`ProviderKind` row
here. Model strings, key lookup, SDK preloading, the setup report, secret redaction and the Ray
driver all read this table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from papercoder.config import Config
from papercoder.llm.providers import anthropic_messages, local_llama, openai_chat
from papercoder.llm.types import Check, ModelChoice
from papercoder.secrets import register

if TYPE_CHECKING:
    from papercoder.llm.provider import Provider


@dataclass(frozen=True)
class ProviderKind:
    """One backend: how to build it, where its key is, what to import early, how to check it."""

    name: str  # the prefix of its model strings: "openai:gpt-4.1"
    build: Callable[[ModelChoice, Config, Mapping[str, str], float], "Provider"]
    checks: Callable[[Config, str | None, Mapping[str, str], bool], list[Check]]
    key_env: Callable[[Config], str | None] = lambda config: None  # the variable holding its key
    sdk_module: str | None = None  # imported in the background while the paper is read
    remote: bool = False  # reached over HTTP, so a base URL travels with its model string
    base_url_env: str | None = None  # the environment variable naming its server, if any


PROVIDERS: dict[str, ProviderKind] = {
    kind.name: kind
    for kind in (
        ProviderKind("openai", openai_chat.build, openai_chat.checks, key_env=lambda c: c.api_key_env or "OPENAI_API_KEY",
                     sdk_module="openai", remote=True, base_url_env="OPENAI_BASE_URL"),
        ProviderKind("anthropic", anthropic_messages.build, anthropic_messages.checks,
                     key_env=lambda c: "ANTHROPIC_API_KEY", sdk_module="anthropic", remote=True,
                     base_url_env="ANTHROPIC_BASE_URL"),
        ProviderKind("local", local_llama.build, local_llama.checks, sdk_module="llama_cpp"),
    )
}

@dataclass(frozen=True)
class Preset:
    """A common server, named as ``NAME:MODEL``: an OpenAI-compatible endpoint at a known address."""

    name: str
    base_url: str
    key_env: str | None = None  # the variable holding its key; None: it needs none
    litellm: tuple[str, ...] = ()  # other prefixes litellm users type for it ("ollama_chat/...")


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("ollama", "http://localhost:11434/v1", litellm=("ollama_chat",)),
        Preset("vllm", "http://localhost:8000/v1", litellm=("hosted_vllm",)),
        Preset("lmstudio", "http://localhost:1234/v1", litellm=("lm_studio",)),
        Preset("llamacpp", "http://localhost:8080/v1", litellm=("llama_cpp",)),
        Preset("sglang", "http://localhost:30000/v1"),
        Preset("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
        Preset("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    )
}
PRESET_PREFIXES: dict[str, Preset] = {prefix: p for p in PRESETS.values() for prefix in (p.name, *p.litellm)}

# Bare names whose provider the name itself says (the price list's families), and a few of each
# for suggestions; a bare name with a server named (--base-url) always goes to that server.
BARE_NAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (r"^(gpt-|chatgpt-|o[1-9](-|$))", "openai", ("gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-5", "o3", "o3-mini", "o4-mini")),
    (r"^claude-", "anthropic", ("claude-sonnet-4-6", "claude-opus-4-1", "claude-3-5-haiku-latest")),
    (r"^deepseek-(chat|reasoner|coder)", "deepseek", ("deepseek-chat", "deepseek-reasoner")),
)

for _kind in PROVIDERS.values():  # every provider's key is a secret, whatever its name
    register(_kind.key_env(Config()))
for _preset in PRESETS.values():
    register(_preset.key_env)
