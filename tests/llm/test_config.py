"""The config file: layering, validation, price overrides, and no keys."""

import pytest

from papercoder.config import load_config
from papercoder.errors import ConfigError
from papercoder.llm import LLM, FakeReply, ScriptedProvider, Usage


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_project_file_overrides_user_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "home" / "papercoder" / "config.toml", 'model = "openai:gpt-4.1"\nconcurrency = 2\nmax_cost = 9\n')
    write(tmp_path / "papercoder.toml", 'model = "anthropic:claude-sonnet-4-6"\n[prices."my-model"]\ninput = 1\noutput = 2\n')
    config = load_config()
    assert (config.model, config.concurrency, config.max_cost) == ("anthropic:claude-sonnet-4-6", 2, 9)
    assert config.prices["my-model"].output == 2.0
    assert len(config.sources) == 2


def test_no_files_is_an_empty_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    monkeypatch.chdir(tmp_path)
    assert load_config().model is None


@pytest.mark.parametrize(
    "text, message",
    [
        ('api_key = "sk-123"\n', "never read from config files"),
        ('modle = "x"\n', "unknown setting 'modle'"),
        ("concurrency = 0\n", "at least 1"),
        ('concurrency = "four"\n', "must be a int"),
        ("model = \n", "not valid TOML"),
        ('[prices."m"]\ninput = 1\n', "needs input and output"),
    ],
)
def test_bad_config_files_say_what_to_fix(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path / "papercoder.toml", text))


def test_missing_explicit_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_price_override_is_used_for_cost(tmp_path):
    config = load_config(write(tmp_path / "p.toml", '[prices."fake:scripted"]\ninput = 10\noutput = 20\ncached_input = 1\n'))
    usage = Usage(input_tokens=1_000_000, cached_input_tokens=500_000, output_tokens=100_000)
    llm = LLM(ScriptedProvider([FakeReply("a", usage=usage)]), prices=config.prices)
    assert llm.complete([{"role": "user", "content": "x"}]).cost == pytest.approx(5.0 + 0.5 + 2.0)


import pytest as _pytest  # noqa: E402


@_pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
def test_a_budget_that_is_not_a_positive_number_is_refused(tmp_path, monkeypatch, value):
    from papercoder.config import load_config
    from papercoder.errors import ConfigError
    from papercoder.llm import LLM, ScriptedProvider

    (tmp_path / "papercoder.toml").write_text(f"max_cost = {value}\n")
    monkeypatch.chdir(tmp_path)
    with _pytest.raises(ConfigError, match="max_cost"):
        load_config()
    with _pytest.raises(ConfigError, match="budget"):
        LLM(ScriptedProvider([]), max_cost=float(value))


def test_a_config_file_that_is_not_utf8_is_one_clear_error(tmp_path, monkeypatch):
    from papercoder.config import load_config
    from papercoder.errors import ConfigError

    (tmp_path / "papercoder.toml").write_bytes('model = "caf\xe9"\n'.encode("latin-1"))
    monkeypatch.chdir(tmp_path)
    with _pytest.raises(ConfigError, match="UTF-8"):
        load_config()
