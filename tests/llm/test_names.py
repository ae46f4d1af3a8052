"""Model strings as people type them: provider prefixes, litellm's provider/model, bare names the
price list knows, server presets, aliases from the config; and a clear line for the rest."""

from __future__ import annotations

import pytest

from papercoder.config import Config
from papercoder.errors import ConfigError
from papercoder.llm.models import choose_model, parse_model_spec


@pytest.mark.parametrize("spec, provider, name, base_url, key_env", [
    ("openai:gpt-4.1", "openai", "gpt-4.1", None, "OPENAI_API_KEY"),
    ("gpt-4.1", "openai", "gpt-4.1", None, "OPENAI_API_KEY"),
    ("o3-mini", "openai", "o3-mini", None, "OPENAI_API_KEY"),
    ("gpt-5", "openai", "gpt-5", None, "OPENAI_API_KEY"),
    ("claude-sonnet-4-6", "anthropic", "claude-sonnet-4-6", None, "ANTHROPIC_API_KEY"),
    ("openai/gpt-4o", "openai", "gpt-4o", None, "OPENAI_API_KEY"),
    ("anthropic/claude-opus-4-1", "anthropic", "claude-opus-4-1", None, "ANTHROPIC_API_KEY"),
    ("ollama/llama3.1", "openai", "llama3.1", "http://localhost:11434/v1", None),
    ("ollama:qwen2.5:32b", "openai", "qwen2.5:32b", "http://localhost:11434/v1", None),
    ("vllm:Qwen/Qwen2.5-72B-Instruct", "openai", "Qwen/Qwen2.5-72B-Instruct", "http://localhost:8000/v1", None),
    ("lmstudio:qwen2.5-7b-instruct", "openai", "qwen2.5-7b-instruct", "http://localhost:1234/v1", None),
    ("openrouter/anthropic/claude-3.5-sonnet", "openai", "anthropic/claude-3.5-sonnet", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    ("deepseek-chat", "openai", "deepseek-chat", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    ("deepseek/deepseek-reasoner", "openai", "deepseek-reasoner", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
])
def test_the_names_people_type_resolve(spec, provider, name, base_url, key_env):
    choice = choose_model(spec, config=Config(), env={})
    assert (choice.provider, choice.name, choice.base_url, choice.api_key_env) == (provider, name, base_url, key_env)


def test_a_server_named_by_flag_takes_bare_and_hugging_face_names_as_they_are():
    choice = choose_model("Qwen/Qwen2.5-72B-Instruct", base_url="http://gpu:8000/v1", config=Config(), env={})
    assert (choice.provider, choice.name, choice.base_url) == ("openai", "Qwen/Qwen2.5-72B-Instruct", "http://gpu:8000/v1")
    # a preset's server can be moved with --base-url
    moved = choose_model("ollama:llama3.1", base_url="http://gpu:11434/v1", config=Config(), env={})
    assert moved.base_url == "http://gpu:11434/v1" and moved.spec == "ollama:llama3.1"


def test_aliases_from_the_config_file_resolve_to_what_they_name():
    config = Config(aliases={"coder": "openai:gpt-4.1", "local": "ollama:llama3.1"})
    assert choose_model("coder", config=config, env={}).spec == "openai:gpt-4.1"
    assert choose_model("local", config=config, env={}).base_url == "http://localhost:11434/v1"
    assert choose_model(config=Config(model="coder", aliases={"coder": "claude-sonnet-4-6"}), env={}).provider == "anthropic"


def test_a_name_that_resolves_to_nothing_gets_one_line_with_the_closest_spellings():
    with pytest.raises(ConfigError) as raised:
        parse_model_spec("gpt4.1")
    message = str(raised.value)
    assert "gpt-4.1" in message and "\n" not in message and "--base-url" in message
    with pytest.raises(ConfigError, match="ollama:NAME"):
        parse_model_spec("mystery-model-7b")
    with pytest.raises(ConfigError, match="names no model"):
        parse_model_spec("vllm:")


def test_an_alias_loop_is_an_error_not_a_hang():
    with pytest.raises(ConfigError, match="alias"):
        choose_model("a", config=Config(aliases={"a": "b", "b": "a"}), env={})
