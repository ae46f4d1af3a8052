"""The context window comes from somewhere named: the server (vLLM, llama.cpp, Ollama), the flag,
the price list; a guess is announced and a paper shrunk under it degrades the run; a server that
cuts a prompt silently stops the call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline.run_answers import answer
from tests.pipeline.run_fixtures import EXAMPLE_PAPER

from papercoder.config import Config
from papercoder.errors import PapercoderError
from papercoder.llm import open_model
from papercoder.llm.errors import PromptCutError
from papercoder.llm.windows import from_llamacpp_props, from_models_list, from_ollama
from papercoder.run import run_paper
from papercoder.testing.fake_openai import FakeOpenAIServer

QWEN = "Qwen/Qwen2.5-72B-Instruct"


def test_each_servers_answer_is_read():
    assert from_models_list({"data": [{"id": "m", "max_model_len": 32768}]}, "m").tokens == 32768
    assert from_models_list({"data": [{"id": "other", "max_model_len": 32768}]}, "m") is None
    assert from_models_list({"data": "nonsense"}, "m") is None
    assert from_llamacpp_props({"default_generation_settings": {"n_ctx": 16384}}).tokens == 16384
    assert from_llamacpp_props({"n_ctx": "x"}) is None
    show = {"parameters": "num_ctx                        8192\nstop \"<|eot_id|>\"", "model_info": {"llama.context_length": 131072}}
    assert from_ollama(show, {"models": []}, "llama3.1").tokens == 8192  # what Ollama runs with, not the trained length
    assert from_ollama({"parameters": ""}, {}, "llama3.1").tokens == 4096  # Ollama's default
    running = {"models": [{"name": "llama3.1:latest", "context_length": 32768}]}
    assert from_ollama(show, running, "llama3.1").tokens == 32768


@pytest.mark.parametrize("acts_as, window, source", [
    ("vllm", 32768, "max_model_len"), ("llamacpp", 16384, "n_ctx"), ("ollama", 8192, "num_ctx"),
])
def test_the_window_is_asked_of_the_server_and_kept_in_the_run(tmp_path, acts_as, window, source):
    cache = tmp_path / "server-window.json"
    with FakeOpenAIServer(["hi"], models=(QWEN,), acts_as=acts_as, window=window) as server:
        llm = open_model(QWEN, base_url=server.base_url, config=Config(), quiet=True, window_cache=cache)
        asked = len(server.metadata_requests)
        again = open_model(QWEN, base_url=server.base_url, config=Config(), quiet=True, window_cache=cache)
        assert len(server.metadata_requests) == asked  # a resumed run asks nothing
    assert llm.context_window == again.context_window == window and source in llm.window_source
    assert not llm.window_assumed and json.loads(cache.read_text())


def test_the_flag_beats_the_server_and_a_silent_server_is_announced(tmp_path, capsys):
    with FakeOpenAIServer(["hi"], models=(QWEN,), acts_as="vllm", window=32768) as server:
        assert open_model(QWEN, base_url=server.base_url, config=Config(), context_window=65536, quiet=True).context_window == 65536
    with FakeOpenAIServer(["hi"], models=(QWEN,)) as server:
        llm = open_model(QWEN, base_url=server.base_url, config=Config())
    assert llm.window_assumed and llm.context_window == 8192
    err = capsys.readouterr().err
    assert "assuming 8,192 tokens" in err and "--context-window" in err


def _long_paper(tmp_path: Path) -> Path:
    """The example paper with a long appendix: about 9,000 tokens, as the ACE paper of issue 27."""
    text = Path(EXAMPLE_PAPER).read_text()
    filler = "The appendix states every setting of the experiments in detail for reproduction. " * 420
    path = tmp_path / "long-paper.md"
    path.write_text(text + "\n\n## Appendix A: Details\n\n" + filler + "\n")
    return path


def _run(tmp_path: Path, server: FakeOpenAIServer, **options):
    return run_paper(str(_long_paper(tmp_path)), out_dir=tmp_path / "run", model=QWEN, base_url=server.base_url,
                     stages=["plan"], show_progress=False, **options)


def test_the_qwen_case_on_vllm_keeps_the_paper_whole_and_ends_done(tmp_path):
    with FakeOpenAIServer(lambda body: answer(body["messages"]), models=(QWEN,), acts_as="vllm", window=32768) as server:
        result = _run(tmp_path, server)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert result.status == "done", result.fallbacks
    assert manifest["paper"]["tokens_fitted"] == manifest["paper"]["tokens_read"] > 8500  # not shrunk
    assert manifest["paper"]["context_window"] == 32768 and "max_model_len" in manifest["paper"]["context_window_source"]


def test_the_same_paper_under_a_guessed_window_is_shrunk_and_the_run_says_so(tmp_path):
    with FakeOpenAIServer(lambda body: answer(body["messages"]), models=(QWEN,)) as server:
        result = _run(tmp_path, server)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["paper"]["tokens_fitted"] < manifest["paper"]["tokens_read"]
    assert result.status == "degraded"
    assert any("that nothing stated" in message and "--context-window" in message for _, message in result.fallbacks)


def test_an_ollama_that_cuts_the_prompt_silently_stops_the_run_with_a_clear_error(tmp_path):
    # the user says 32k, but Ollama runs the model with its default 4,096 and keeps the end of longer prompts
    with FakeOpenAIServer(lambda body: answer(body["messages"]), models=(QWEN,), acts_as="ollama") as server:
        with pytest.raises(PapercoderError) as raised:
            _run(tmp_path, server, context_window=32768)
    message = str(raised.value)
    assert isinstance(raised.value, PromptCutError) and "processed only 4,096" in message and "num_ctx" in message
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "failed"


def test_ollama_gets_no_prompt_larger_than_the_context_it_runs_with(tmp_path):
    from papercoder.llm import ContextLengthError

    with FakeOpenAIServer(["never sent"], models=(QWEN,), acts_as="ollama", window=2048) as server:
        llm = open_model(QWEN, base_url=server.base_url, config=Config(), quiet=True)
        with pytest.raises(ContextLengthError, match="Ollama would cut it silently"):
            llm.complete([{"role": "user", "content": "x " * 6000}], max_tokens=100)
        assert server.requests == []


def test_doctor_says_whether_a_run_can_proceed_and_why_not(tmp_path):
    from typer.testing import CliRunner

    from papercoder.cli import app

    runner = CliRunner()
    with FakeOpenAIServer(["hi"], models=(QWEN,), acts_as="vllm", window=32768) as server:
        ok = runner.invoke(app, ["doctor", "-m", QWEN, "--base-url", server.base_url])
    assert ok.exit_code == 0, ok.output
    assert "32,768 tokens (the server's /v1/models (max_model_len))" in ok.output and "a run can proceed here" in ok.output
    down = runner.invoke(app, ["doctor", "-m", "vllm:" + QWEN, "--base-url", "http://127.0.0.1:9/v1"])
    assert down.exit_code == 1 and "a run cannot proceed here: server http://127.0.0.1:9/v1: does not answer" in down.output
    assert "sk-" not in ok.output + down.output


def test_models_shows_how_each_alias_resolves(tmp_path):
    from typer.testing import CliRunner

    from papercoder.cli import app

    config = tmp_path / "papercoder.toml"
    config.write_text('[aliases]\ncoder = "openai:gpt-4.1"\nlocal = "ollama:llama3.1"\nbroken = "nonsense-name"\n')
    result = CliRunner().invoke(app, ["models", "--offline", "--config", str(config)])
    assert "coder -> openai:gpt-4.1" in result.output
    assert "local -> ollama:llama3.1 at http://localhost:11434/v1" in result.output
    assert "broken -> error: the model string 'nonsense-name' names no provider" in result.output
