"""Which judge grades and evaluates when no -m is given: PaperBench's and the paper's (o3-mini,
high effort) wherever an OpenAI key allows it, else the run's model with a warning that the
scores are not comparable with published ones."""

from papercoder.config import Config
from papercoder.evaluate.inputs import PAPERBENCH_JUDGE, default_judge


def test_a_flag_wins_then_the_config_file():
    assert default_judge("anthropic:claude-x", config=Config(judge_model="openai:gpt-4.1"), env={}) == ("anthropic:claude-x", "")
    assert default_judge(None, config=Config(judge_model="openai:gpt-4.1"), env={"OPENAI_API_KEY": "k"}) == ("openai:gpt-4.1", "")


def test_an_openai_key_means_o3_mini():
    assert PAPERBENCH_JUDGE == "openai:o3-mini"
    assert default_judge(None, config=Config(), env={"OPENAI_API_KEY": "k"}) == (PAPERBENCH_JUDGE, "")
    assert default_judge(None, config=Config(api_key_env="MY_KEY"), env={"MY_KEY": "k"}) == (PAPERBENCH_JUDGE, "")


def test_otherwise_the_run_model_with_a_warning():
    for config, env in ((Config(), {}), (Config(), {"ANTHROPIC_API_KEY": "k"}),
                        (Config(base_url="http://localhost:8000/v1"), {"OPENAI_API_KEY": "k"}),
                        (Config(), {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://vllm/v1"})):
        model, note = default_judge(None, config=config, env=env)
        assert model is None and "not comparable" in note and "o3-mini" in note
    model, note = default_judge(None, base_url="http://vllm/v1", config=Config(), env={"OPENAI_API_KEY": "k"})
    assert model is None and note


def test_the_verdict_parser_is_paperbenchs_beside_an_openai_judge_on_openai():
    from papercoder.evaluate.inputs import PAPERBENCH_PARSER, default_parser

    assert default_parser("openai:o3-mini", config=Config(), env={}) == PAPERBENCH_PARSER == "openai:gpt-4o-2024-08-06"
    assert default_parser("openai:o3-mini", base_url="http://vllm/v1", config=Config(), env={}) is None
    assert default_parser("anthropic:claude-x", config=Config(), env={}) is None
    assert default_parser(None, config=Config(), env={}) is None


def test_opening_the_default_judge_with_an_openai_key_opens_o3_mini_at_high_effort(tmp_path, monkeypatch, capsys):
    from papercoder.evaluate import inputs

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    llm = inputs.open_judge(None)
    assert llm.model == "openai:o3-mini" and llm.provider.reasoning_effort == "high"
    assert "not comparable" not in capsys.readouterr().err
