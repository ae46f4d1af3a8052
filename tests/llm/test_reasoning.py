"""Reasoning models: room for hidden tokens, cut answers asked again with more room, <think> removed."""

import pytest

from papercoder.config import Config
from papercoder.llm import LLM, CallLog, FakeReply, ScriptedProvider, TruncatedError, open_model
from papercoder.llm.reasoning import effort_for
from papercoder.llm.reasoning import is_reasoning_model, known_output_limit, strip_reasoning
from papercoder.llm.retry import RetryPolicy
from papercoder.testing.fake_openai import FakeOpenAIServer

FAST = RetryPolicy(attempts=2, base_delay=0.01)


def ask(text):
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("plain answer", "plain answer"),
        ("<think>hmm</think>\nthe answer", "the answer"),
        ("<THINK>a</THINK><think>b</think>x", "x"),
        ("<think>still thinking when the limit came", ""),  # cut while thinking: no answer at all
        ("reasoning the server left untagged</think>\n```python\nx = 1\n```", "```python\nx = 1\n```"),
        ("x < y and y > z", "x < y and y > z"),
    ],
)
def test_strip_reasoning(text, expected):
    assert strip_reasoning(text)[0] == expected


def test_model_families_and_limits():
    assert is_reasoning_model("openai:o3-mini") and is_reasoning_model("openai:deepseek-ai/DeepSeek-R1")
    assert not is_reasoning_model("openai:gpt-4.1") and not is_reasoning_model("local:smollm2")
    assert known_output_limit("openai:gpt-4.1-mini") == 32_768 and known_output_limit("openai:o3") == 100_000
    assert known_output_limit("openai:my-model") is None
    assert effort_for("o3-mini", None) == "high" and effort_for("gpt-4.1", None) is None
    assert effort_for("o3-mini", "none") is None and effort_for("o3-mini", "low") == "low"


def test_a_reasoning_model_gets_its_answer_plus_a_reserve_bounded_by_its_limits():
    provider = ScriptedProvider(["ok", "ok", "ok"], model="openai:o4-mini", context_window=200_000)
    llm = LLM(provider, reasoning_reserve=8000)
    llm.complete(ask("hi"), max_tokens=1000)
    assert provider.calls[-1]["request"].max_tokens == 9000
    small = LLM(ScriptedProvider(["ok"], model="openai:o4-mini", context_window=6000), reasoning_reserve=8000)
    small.complete(ask("hi"), max_tokens=1000)
    # the window bounds it: 6000 less the prompt and a margin, never less than the answer asked for
    assert 1000 <= small.provider.calls[-1]["request"].max_tokens < 6000
    plain = LLM(ScriptedProvider(["ok"], model="openai:gpt-4.1"))
    plain.complete(ask("hi"), max_tokens=1000)
    assert plain.provider.calls[-1]["request"].max_tokens == 1000


def test_a_model_that_reports_reasoning_tokens_gets_the_reserve_from_then_on():
    from papercoder.llm import Usage

    provider = ScriptedProvider([FakeReply("a", usage=Usage(1, 0, 5, 4)), "b"], model="openai:my-r1", context_window=100_000)
    llm = LLM(provider, reasoning_reserve=500)
    llm.complete(ask("one"), max_tokens=100)
    llm.complete(ask("two"), max_tokens=100)
    assert [c["request"].max_tokens for c in provider.calls] == [100, 600]


def test_a_cut_answer_is_asked_again_with_twice_the_room_then_reported(tmp_path):
    provider = ScriptedProvider([FakeReply("cut", "length")] * 3, grow_cut_answers=True)
    with CallLog(tmp_path / "calls.sqlite") as log:
        llm = LLM(provider, log=log)
        with pytest.raises(TruncatedError):
            llm.complete(ask("long"), max_tokens=1000)
        assert [c["request"].max_tokens for c in provider.calls] == [1000, 2000, 4000]
        # a resumed run asks the same sequence and the call log answers all of it
        again = LLM(ScriptedProvider([], grow_cut_answers=True), log=log)
        with pytest.raises(TruncatedError):
            again.complete(ask("long"), max_tokens=1000)
        assert again.total().cached_calls == 3


def test_against_the_reasoning_fake_a_default_answer_comes_back_whole():
    answer = "x" * 4000  # about 1,000 visible tokens
    with FakeOpenAIServer([answer], hidden_tokens=6000) as server:
        llm = open_model("openai:o3-mini", base_url=server.base_url, config=Config(), quiet=True, retry=FAST)
        completion = llm.complete(ask("write"), max_tokens=2000)
    body = server.requests[0].body
    assert body["max_completion_tokens"] > 6000 + 1000 and body["reasoning_effort"] == "high"
    assert completion.text == answer and completion.usage.reasoning_tokens == 6000


def test_the_reasoning_fake_cuts_to_nothing_and_the_retry_with_more_room_succeeds():
    answer = "y" * 2000
    with FakeOpenAIServer([answer, answer], hidden_tokens=6000) as server:
        llm = open_model("openai:o3-mini", base_url=server.base_url, config=Config(reasoning_reserve=0), quiet=True,
                         retry=FAST)
        completion = llm.complete(ask("write"), max_tokens=4000)
    limits = [r.body["max_completion_tokens"] for r in server.requests]
    assert limits == [4000, 8000] and completion.text == answer and completion.regrown
