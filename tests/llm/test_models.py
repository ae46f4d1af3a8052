"""Model strings, the choice of a default model, and the errors a user can fix."""

import pytest

from papercoder.config import Config
from papercoder.errors import ConfigError
from papercoder.llm import models
from papercoder.llm.models import build_provider, choose_model, open_model, parse_model_spec
from papercoder.testing.fake_openai import FakeOpenAIServer


@pytest.mark.parametrize(
    "spec, base_url, provider, name",
    [
        ("openai:gpt-4.1", None, "openai", "gpt-4.1"),
        ("anthropic:claude-sonnet-4-6", None, "anthropic", "claude-sonnet-4-6"),
        ("local:smollm2", None, "local", "smollm2"),
        ("local:/models/x.gguf", None, "local", "/models/x.gguf"),
        ("./x.gguf", None, "local", "./x.gguf"),
        ("llama3.1:8b", "http://localhost:11434/v1", "openai", "llama3.1:8b"),
        ("openai:llama3.1:8b", None, "openai", "llama3.1:8b"),
    ],
)
def test_parse_model_spec(spec, base_url, provider, name):
    choice = parse_model_spec(spec, base_url=base_url)
    assert (choice.provider, choice.name) == (provider, name)


@pytest.mark.parametrize("spec", ["gpt4.1", "openai:", "mystery:thing"])
def test_bad_model_strings_say_what_to_write(spec):
    with pytest.raises(ConfigError, match="openai:|names no model"):
        parse_model_spec(spec)


def test_default_order_flag_config_env_embedded():
    assert choose_model("openai:o3", config=Config(model="openai:gpt-4.1"), env={}).spec == "openai:o3"
    assert choose_model(config=Config(model="anthropic:x"), env={"OPENAI_API_KEY": "k"}).spec == "anthropic:x"
    assert choose_model(env={"OPENAI_API_KEY": "k"}).spec == models.DEFAULT_OPENAI_MODEL
    assert choose_model(env={"ANTHROPIC_API_KEY": "k"}).spec == models.DEFAULT_ANTHROPIC_MODEL
    embedded = choose_model(env={})
    assert (embedded.spec, embedded.reason) == ("local:smollm2", "default")


def test_base_url_alone_picks_the_servers_first_model():
    with FakeOpenAIServer([], models=("served-one", "served-two")) as server:
        choice = choose_model(env={"OPENAI_BASE_URL": server.base_url})
    assert (choice.provider, choice.name, choice.base_url) == ("openai", "served-one", server.base_url)


def test_unreachable_base_url_is_a_one_line_error():
    with pytest.raises(ConfigError, match="did not list its models"):
        choose_model(env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})


def test_missing_keys_name_the_variable():
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        build_provider(choose_model("openai:gpt-4.1", env={}), env={})
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        build_provider(choose_model("anthropic:claude-sonnet-4-6", env={}), env={})
    with pytest.raises(ConfigError, match="MY_ROUTER_KEY"):
        config = Config(api_key_env="MY_ROUTER_KEY")
        build_provider(choose_model("openai:gpt-4.1", config=config, env={}), config, env={})


def test_missing_gguf_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_provider(parse_model_spec(f"local:{tmp_path / 'absent.gguf'}"))
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="GGUF"):
        build_provider(parse_model_spec(f"local:{bad}"))


def test_embedded_default_is_announced_once(monkeypatch, capsys):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "PAPERCODER_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(models, "_announced", False)
    from papercoder.llm.providers.local_llama import llama_available

    if not llama_available():
        pytest.skip("the [local] extra is not installed")
    first = open_model(config=Config())
    open_model(config=Config())
    assert first.model == "local:smollm2"
    err = capsys.readouterr().err
    assert err.count("tiny") == 1 and "OPENAI_API_KEY" in err
    open_model(config=Config(), quiet=True)


def test_config_values_reach_the_llm(tmp_path):
    config = Config(concurrency=7, max_cost=3.0, retries=2, context_window=32768)
    with FakeOpenAIServer([]) as server:
        llm = open_model("served", base_url=server.base_url, config=config, log_path=tmp_path / "c.sqlite")
    assert (llm.concurrency, llm.max_cost, llm.retry.attempts, llm.context_window) == (7, 3.0, 2, 32768)
    assert llm.log is not None and llm.log.path == tmp_path / "c.sqlite"


def test_missing_anthropic_sdk_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "anthropic" else real(name, *a))
    with pytest.raises(ConfigError, match=r"papercoder\[anthropic\]"):
        build_provider(choose_model("anthropic:claude-sonnet-4-6", env={"ANTHROPIC_API_KEY": "k"}),
                       env={"ANTHROPIC_API_KEY": "k"})
