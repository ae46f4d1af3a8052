"""The real anthropic SDK path against a fake Messages API on 127.0.0.1."""

import time

import pytest
from pydantic import BaseModel

from papercoder.config import Config
from papercoder.llm import ContextLengthError, TruncatedError, open_model
from papercoder.llm.retry import RetryPolicy
from papercoder.testing.fake_anthropic import FakeAnthropicServer, Reply

pytest.importorskip("anthropic")  # the [anthropic] extra; installed in CI by the dev extra


def model(server, **kwargs):
    return open_model("anthropic:claude-sonnet-4-6", base_url=server.base_url, config=Config(), quiet=True,
                      retry=RetryPolicy(attempts=3, base_delay=0.01), **kwargs)


def ask(text):
    return [{"role": "system", "content": "You write code."}, {"role": "user", "content": text}]


class Task(BaseModel):
    path: str
    depends_on: list[str]


def test_plain_answer_with_system_prompt_and_usage():
    with FakeAnthropicServer([Reply("hi", input_tokens=1000, cached_input_tokens=400, output_tokens=100)]) as server:
        completion = model(server).complete(ask("hello"), temperature=0.1)
    body = server.requests[0].body
    assert body["system"] == [{"type": "text", "text": "You write code.", "cache_control": {"type": "ephemeral"}}]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    assert body["max_tokens"] == 8192 and body["temperature"] == 0.1
    assert completion.text == "hi"
    assert (completion.usage.input_tokens, completion.usage.cached_input_tokens) == (1000, 400)
    assert completion.cost is not None and completion.cost > 0  # priced as Anthropic's model


def test_schema_uses_a_forced_tool():
    with FakeAnthropicServer(['{"path": "train.py", "depends_on": ["model.py"]}']) as server:
        completion = model(server).complete(ask("task"), schema=Task)
    assert completion.parsed == Task(path="train.py", depends_on=["model.py"])
    body = server.requests[0].body
    assert body["tool_choice"] == {"type": "tool", "name": "Task"}
    assert body["tools"][0]["input_schema"]["required"] == ["path", "depends_on"]


def test_rate_limit_and_overload_are_retried():
    with FakeAnthropicServer([Reply.rate_limited(0.2), Reply(fault="overloaded"), "ok"]) as server:
        start = time.monotonic()
        assert model(server).complete(ask("x")).text == "ok"
    assert time.monotonic() - start >= 0.2 and len(server.requests) == 3


def test_max_tokens_stop_is_truncation_after_asking_again_with_more_room():
    with FakeAnthropicServer([Reply.truncated("def f(")] * 3) as server:
        with pytest.raises(TruncatedError):
            model(server).complete(ask("x"), max_tokens=5)
    assert [r.body["max_tokens"] for r in server.requests] == [5, 10, 20]


def test_prompt_too_long_is_a_context_length_error():
    with FakeAnthropicServer([Reply.context_length(limit=200000)]) as server:
        with pytest.raises(ContextLengthError) as caught:
            model(server).complete(ask("x"))
    assert caught.value.limit == 200000


def test_long_answers_are_not_refused_by_the_sdk():
    with FakeAnthropicServer(["long"]) as server:
        assert model(server).complete(ask("x"), max_tokens=64000).text == "long"
    assert server.requests[0].body["max_tokens"] == 64000


def test_requests_carry_cache_breakpoints_after_the_paper_and_the_shared_artifacts():
    messages = [
        {"role": "system", "content": "role and paper"},
        {"role": "user", "content": "the planning artifacts"},
        {"role": "user", "content": "this file's own part"},
    ]
    with FakeAnthropicServer(["ok"]) as server:
        model(server).complete(messages, max_tokens=50)
    body = server.requests[0].body
    assert body["system"] == [{"type": "text", "text": "role and paper", "cache_control": {"type": "ephemeral"}}]
    (turn,) = body["messages"]
    assert [b["text"] for b in turn["content"]] == ["the planning artifacts", "this file's own part"]
    assert turn["content"][0]["cache_control"] == {"type": "ephemeral"} and "cache_control" not in turn["content"][1]
    marks = sum("cache_control" in b for m in body["messages"] for b in m["content"]) + 1
    assert marks <= 4
