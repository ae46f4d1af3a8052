"""The real openai SDK path against a fake OpenAI-compatible server on 127.0.0.1."""

import time

import pytest
from pydantic import BaseModel

from papercoder.config import Config
from papercoder.errors import ConfigError
from papercoder.llm import CallLog, ContextLengthError, LLMError, TruncatedError, open_model
from papercoder.llm.retry import RetryPolicy
from papercoder.testing.fake_openai import FakeOpenAIServer, Reply

FAST = RetryPolicy(attempts=3, base_delay=0.01)


def ask(text):
    return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]


def model(server, spec="openai:gpt-4.1", **kwargs):
    kwargs.setdefault("retry", FAST)
    return open_model(spec, base_url=server.base_url, config=kwargs.pop("config", Config()), quiet=True, **kwargs)


class Plan(BaseModel):
    files: list[str]


def test_plain_answer_usage_and_cost():
    reply = Reply("hello there", input_tokens=1000, output_tokens=500, cached_input_tokens=200)
    with FakeOpenAIServer([reply]) as server:
        llm = model(server)
        completion = llm.complete(ask("hi"), max_tokens=50, temperature=0.2, stage="plan")
    assert completion.text == "hello there" and completion.finish_reason == "stop"
    assert (completion.usage.input_tokens, completion.usage.cached_input_tokens, completion.usage.output_tokens) == (1000, 200, 500)
    assert completion.cost is not None and completion.cost > 0  # gpt-4.1 is in genai-prices
    assert completion.latency > 0
    body = server.requests[0].body
    assert body["model"] == "gpt-4.1" and body["max_tokens"] == 50 and body["temperature"] == 0.2
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert llm.context_window > 100_000  # from the price list's model data


def test_streaming_collects_text_and_final_usage():
    with FakeOpenAIServer([Reply("a streamed answer, in pieces", output_tokens=7)]) as server:
        llm = model(server, config=Config(stream=True))
        completion = llm.complete(ask("hi"))
    assert completion.text == "a streamed answer, in pieces"
    assert completion.usage.output_tokens == 7
    assert server.requests[0].body["stream"] is True
    assert server.requests[0].body["stream_options"] == {"include_usage": True}


def test_rate_limit_honours_retry_after():
    with FakeOpenAIServer([Reply.rate_limited(retry_after=0.3), "after the wait"]) as server:
        llm = model(server)
        start = time.monotonic()
        assert llm.complete(ask("hi")).text == "after the wait"
    assert time.monotonic() - start >= 0.3
    assert len(server.requests) == 2


@pytest.mark.parametrize("fault", [Reply.server_error(500), Reply.server_error(503), Reply.malformed(), Reply.dropped()])
def test_server_faults_are_retried(fault):
    with FakeOpenAIServer([fault, "recovered"]) as server:
        assert model(server).complete(ask("hi")).text == "recovered"
    assert len(server.requests) == 2


def test_slow_reply_past_the_timeout_is_retried_then_reported(tmp_path):
    with FakeOpenAIServer([Reply.slow(2.0), Reply.slow(2.0)]) as server:
        llm = model(server, timeout=0.2, retry=RetryPolicy(attempts=2, base_delay=0.01), log_path=tmp_path / "c.sqlite")
        start = time.monotonic()
        with pytest.raises(LLMError, match="did not answer.*after 2 tries"):
            llm.complete(ask("hi"), stage="plan")
        assert time.monotonic() - start < 1.5
        (row,) = list(CallLog(tmp_path / "c.sqlite").calls())
    assert "Timeout" in row.error


def test_finish_reason_length_is_surfaced():
    with FakeOpenAIServer([Reply.truncated("def f(")]) as server:
        with pytest.raises(TruncatedError, match="cut at its output limit"):
            model(server).complete(ask("code"))  # no max_tokens: nothing to grow


def test_context_length_error_carries_the_limit():
    with FakeOpenAIServer([Reply.context_length(limit=16385)]) as server:
        with pytest.raises(ContextLengthError) as caught:
            model(server).complete(ask("a long paper"))
    assert caught.value.limit == 16385
    assert len(server.requests) == 1  # not retried


def test_json_schema_is_sent_and_the_answer_parsed():
    with FakeOpenAIServer(['{"files": ["main.py", "model.py"]}']) as server:
        completion = model(server).complete(ask("plan"), schema=Plan)
    assert completion.parsed == Plan(files=["main.py", "model.py"])
    response_format = server.requests[0].body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Plan"
    assert response_format["json_schema"]["schema"]["properties"]["files"]["type"] == "array"


def test_server_without_json_schema_gets_json_mode_then_prompt_only():
    rejections = [Reply(fault="bad_request", text="response_format json_schema is not supported")] * 2
    with FakeOpenAIServer([*rejections, '{"files": []}']) as server:
        completion = model(server, "local-llama", config=Config()).complete(ask("plan"), schema=Plan)
    assert completion.parsed == Plan(files=[])
    formats = [r.body.get("response_format", {}).get("type") for r in server.requests]
    assert formats == ["json_schema", "json_object", None]
    assert "JSON schema" in server.requests[2].body["messages"][-1]["content"]


def test_server_that_rejects_max_tokens_gets_max_completion_tokens():
    rejection = Reply(fault="bad_request", text="Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens' instead.")
    with FakeOpenAIServer([rejection, "ok"]) as server:
        assert model(server).complete(ask("hi"), max_tokens=99).text == "ok"
    assert server.requests[1].body["max_completion_tokens"] == 99 and "max_tokens" not in server.requests[1].body


def test_reasoning_models_get_max_completion_tokens_and_effort():
    with FakeOpenAIServer(["ok"]) as server:
        llm = model(server, "openai:o3-mini", config=Config(reasoning_effort="medium", reasoning_reserve=1000))
        llm.complete(ask("hi"), max_tokens=64, temperature=0.3)
    body = server.requests[0].body
    # the visible answer's 64 tokens plus the reserve for hidden reasoning
    assert body["max_completion_tokens"] == 1064 and body["reasoning_effort"] == "medium" and "temperature" not in body


def test_bare_model_name_with_base_url_is_a_compatible_server():
    with FakeOpenAIServer(["hi"], models=("qwen2.5:7b",)) as server:
        llm = model(server, "qwen2.5:7b")
        assert llm.model == "openai:qwen2.5:7b"
        assert llm.complete(ask("x")).cost is None  # a local server's price is unknown
    assert server.requests[0].body["model"] == "qwen2.5:7b"


def test_api_key_is_sent_but_never_logged(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-do-not-log")
    with FakeOpenAIServer(["hi"]) as server:
        model(server, log_path=tmp_path / "calls.sqlite").complete(ask("x"))
    assert server.requests[0].headers["authorization"] == "Bearer sk-test-do-not-log"
    for file in tmp_path.iterdir():
        assert b"sk-test-do-not-log" not in file.read_bytes()


def test_unknown_model_is_a_config_error():
    with FakeOpenAIServer([Reply(fault="bad_request", status=404, text="model not found")]) as server:
        with pytest.raises(ConfigError, match="does not know the model"):
            model(server).complete(ask("x"))


def test_stream_cut_mid_answer_is_retried():
    with FakeOpenAIServer([Reply(fault="cut_stream", text="def f("), "def f(): pass"]) as server:
        completion = model(server, config=Config(stream=True)).complete(ask("code"))
    assert completion.text == "def f(): pass" and len(server.requests) == 2


def test_reasoning_tokens_are_counted():
    with FakeOpenAIServer([Reply("42", output_tokens=300, reasoning_tokens=280)]) as server:
        usage = model(server, "openai:o3-mini").complete(ask("think")).usage
    assert (usage.output_tokens, usage.reasoning_tokens) == (300, 280)


def test_simulated_latency_is_time_to_first_token_plus_generation():
    with FakeOpenAIServer([Reply("x", output_tokens=100)], ttft=0.1, tokens_per_second=500) as server:
        completion = model(server).complete(ask("x"))
    assert 0.3 <= completion.latency < 1.5  # 0.1 s + 100 tokens at 500/s


def test_server_that_rejects_reasoning_effort_gets_none():
    rejection = Reply(fault="bad_request", text="Unrecognized request argument supplied: reasoning_effort")
    with FakeOpenAIServer([rejection, "ok"]) as server:
        llm = model(server, "openai:gpt-4.1", config=Config(reasoning_effort="low"))
        assert llm.complete(ask("hi")).text == "ok"
    assert server.requests[0].body["reasoning_effort"] == "low" and "reasoning_effort" not in server.requests[1].body
