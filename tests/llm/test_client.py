"""The LLM wrapper over a scripted provider: cache, accounting, budget, retries, limits."""

import asyncio
import time

import pytest
from pydantic import BaseModel

from papercoder.llm import (
    LLM,
    BudgetExceededError,
    CallLog,
    FakeReply,
    LLMError,
    Price,
    ScriptedProvider,
    StructuredOutputError,
    TruncatedError,
    Usage,
)
from papercoder.llm.retry import RetryPolicy, TransientError

FAST = RetryPolicy(attempts=3, base_delay=0.001)
PRICES = {"fake:scripted": Price(input=1.0, output=2.0)}  # USD per million tokens


def ask(text):
    return [{"role": "user", "content": text}]


class Answer(BaseModel):
    name: str
    size: int


def test_identical_request_is_served_from_the_log(tmp_path):
    provider = ScriptedProvider(["first answer"])
    with CallLog(tmp_path / "calls.sqlite") as log:
        llm = LLM(provider, log=log, prices=PRICES)
        first = llm.complete(ask("hello"), stage="plan")
        again = llm.complete(ask("hello"), stage="plan")
        assert (first.cached, again.cached) == (False, True)
        assert again.text == "first answer" and again.cost == 0.0 and again.call_id != first.call_id
        assert len(provider.calls) == 1
        totals = llm.totals()["plan"]
        assert (totals.calls, totals.cached_calls) == (2, 1)
        assert [c.cached for c in log.calls()] == [False, True]


def test_a_new_process_reads_the_same_log(tmp_path):
    with CallLog(tmp_path / "calls.sqlite") as log:
        LLM(ScriptedProvider(["kept"]), log=log).complete(ask("hello"))
    with CallLog(tmp_path / "calls.sqlite") as log:
        reply = LLM(ScriptedProvider([]), log=log).complete(ask("hello"))
    assert reply.cached and reply.text == "kept"


@pytest.mark.parametrize(
    "change",
    [
        {"max_tokens": 10},
        {"temperature": 0.5},
        {"sample": 1},
        {"schema": Answer},
    ],
)
def test_each_parameter_is_part_of_the_request_hash(tmp_path, change):
    provider = ScriptedProvider(['{"name": "a", "size": 1}', '{"name": "b", "size": 2}'])
    with CallLog(tmp_path / "calls.sqlite") as log:
        llm = LLM(provider, log=log)
        llm.complete(ask("same"))
        second = llm.complete(ask("same"), **change)
    assert not second.cached and len(provider.calls) == 2


def test_provider_options_are_hashed_but_keys_never_stored(tmp_path):
    provider = ScriptedProvider(["a", "b"])
    provider.options = {"reasoning_effort": "low", "api_key": "sk-very-secret"}
    with CallLog(tmp_path / "calls.sqlite") as log:
        llm = LLM(provider, log=log)
        llm.complete(ask("same"))
        provider.options = {"reasoning_effort": "high", "api_key": "sk-very-secret"}
        assert not llm.complete(ask("same")).cached
        stored = [c.request for c in log.calls()]
    assert stored[0]["options"] == {"reasoning_effort": "low"}
    assert b"sk-very-secret" not in (tmp_path / "calls.sqlite").read_bytes()


def test_truncated_answer_raises_is_logged_and_served_again_as_truncated(tmp_path):
    provider = ScriptedProvider([FakeReply("half a fi", finish_reason="length"), "whole file"])
    with CallLog(tmp_path / "calls.sqlite") as log:
        llm = LLM(provider, log=log)
        with pytest.raises(TruncatedError) as caught:
            llm.complete(ask("write it"), stage="code")
        assert caught.value.completion.text == "half a fi"
        # the same request is answered from the log, cut as before, and raises again: no new call
        with pytest.raises(TruncatedError) as again:
            llm.complete(ask("write it"), stage="code")
        assert again.value.completion.text == "half a fi" and again.value.completion.cached
        assert len(provider.calls) == 1
        partial = llm.complete(ask("write it"), stage="code", allow_truncated=True)
        assert partial.text == "half a fi" and partial.finish_reason == "length" and partial.cached
        assert [c.finish_reason for c in log.calls()] == ["length", "length", "length"]


def test_allow_truncated_returns_the_partial_answer():
    llm = LLM(ScriptedProvider([FakeReply("partial", finish_reason="length")]))
    completion = llm.complete(ask("x"), allow_truncated=True)
    assert completion.finish_reason == "length" and completion.text == "partial"


def test_repair_turn_is_logged_under_the_stage(tmp_path):
    provider = ScriptedProvider(["not json at all", '```json\n{"name": "x", "size": 3,}\n```'])
    with CallLog(tmp_path / "calls.sqlite") as log:
        llm = LLM(provider, log=log)
        completion = llm.complete(ask("give"), schema=Answer, stage="design")
        assert completion.parsed == Answer(name="x", size=3)
        calls = list(log.calls())
    assert [c.stage for c in calls] == ["design", "design"]
    repair_prompt = provider.calls[1]["request"].messages[-1]["content"]
    assert "no JSON object" in repair_prompt and '"size"' in repair_prompt


def test_structured_output_fails_with_a_typed_error_after_one_repair():
    llm = LLM(ScriptedProvider(['{"name": "x"}', '{"size": "big"}']))
    with pytest.raises(StructuredOutputError) as caught:
        llm.complete(ask("give"), schema=Answer, stage="design")
    assert "size" in str(caught.value) and caught.value.text == '{"size": "big"}'


def test_cost_and_totals_per_stage():
    usage = Usage(input_tokens=1_000_000, output_tokens=500_000)
    llm = LLM(ScriptedProvider([FakeReply("a", usage=usage), FakeReply("b", usage=usage)]), prices=PRICES)
    assert llm.complete(ask("1"), stage="plan").cost == pytest.approx(2.0)
    llm.complete(ask("2"), stage="code")
    assert set(llm.totals()) == {"plan", "code"}
    total = llm.total()
    assert total.calls == 2 and total.cost == pytest.approx(4.0) and not total.cost_unknown
    assert total.usage.input_tokens == 2_000_000


def test_unknown_price_is_unknown_not_a_crash():
    llm = LLM(ScriptedProvider(["a"]))
    completion = llm.complete(ask("1"), stage="plan")
    assert completion.cost is None
    assert llm.total().cost_unknown and llm.total().describe_cost() == "unknown"


def test_budget_stops_before_a_call_would_exceed_it():
    usage = Usage(input_tokens=400_000, output_tokens=100_000)  # $0.60 a call at PRICES
    provider = ScriptedProvider([FakeReply("a", usage=usage), FakeReply("b", usage=usage)])
    llm = LLM(provider, max_cost=1.0, prices=PRICES)
    llm.complete(ask("first"), max_tokens=100_000)
    with pytest.raises(BudgetExceededError, match=r"budget of \$1\.00"):
        llm.complete(ask("second"), max_tokens=300_000)  # estimate: $0.60 spent + $0.60 > $1.00
    assert len(provider.calls) == 1


def test_a_call_held_back_only_by_calls_in_flight_waits_for_them():
    # each call may cost $0.40 at full length but costs $0.05: with $1.00, three cannot all be
    # committed at once, yet all three fit once the first answers come back
    usage = Usage(input_tokens=10_000, output_tokens=20_000)
    provider = ScriptedProvider(lambda messages: FakeReply("ok", usage=usage, delay=0.1))
    llm = LLM(provider, max_cost=1.0, prices=PRICES, concurrency=8)

    async def three():
        return await asyncio.gather(*(llm.acomplete(ask(str(k)), max_tokens=195_000) for k in range(3)))

    answers = asyncio.run(three())
    assert [a.text for a in answers] == ["ok"] * 3 and len(provider.calls) == 3
    starts = sorted(c["start"] for c in provider.calls)
    assert starts[2] - starts[0] >= 0.09  # the third waited for an answer instead of failing
    assert llm.total().cost == pytest.approx(0.15)


def test_a_call_that_would_pass_the_budget_on_what_is_spent_still_stops():
    usage = Usage(input_tokens=10_000, output_tokens=400_000)  # $0.81 a call
    provider = ScriptedProvider(lambda messages: FakeReply("ok", usage=usage, delay=0.05))
    llm = LLM(provider, max_cost=1.0, prices=PRICES, concurrency=8)

    async def two():
        return await asyncio.gather(*(llm.acomplete(ask(str(k)), max_tokens=400_000) for k in range(2)),
                                    return_exceptions=True)

    results = asyncio.run(two())
    assert sum(isinstance(r, BudgetExceededError) for r in results) == 1 and len(provider.calls) == 1


def test_budget_counts_what_the_log_already_spent(tmp_path):
    usage = Usage(input_tokens=400_000, output_tokens=200_000)
    with CallLog(tmp_path / "calls.sqlite") as log:
        LLM(ScriptedProvider([FakeReply("a", usage=usage)]), log=log, prices=PRICES).complete(ask("x"))
        resumed = LLM(ScriptedProvider(["b"]), log=log, prices=PRICES, max_cost=0.85)
        with pytest.raises(BudgetExceededError):
            resumed.complete(ask("y"), max_tokens=30_000)  # $0.80 spent + about $0.06
        assert resumed.complete(ask("x")).cached  # answers from the log cost nothing


def test_budget_with_an_unknown_price_says_how_to_fix_it():
    llm = LLM(ScriptedProvider(["a"]), max_cost=1.0)
    with pytest.raises(BudgetExceededError, match=r"\[prices"):
        llm.complete(ask("x"))


def test_transient_faults_are_retried_then_succeed(tmp_path):
    provider = ScriptedProvider([FakeReply(error=TransientError("429", retry_after=0.05)), "fine"])
    with CallLog(tmp_path / "calls.sqlite") as log:
        llm = LLM(provider, log=log, retry=FAST)
        start = time.monotonic()
        assert llm.complete(ask("x"), stage="plan").text == "fine"
        assert time.monotonic() - start >= 0.05  # retry-after was honoured
        assert [c.error for c in log.calls()] == [None]


def test_retries_give_up_with_a_clear_error(tmp_path):
    provider = ScriptedProvider([FakeReply(error=TransientError("HTTP 500: oops"))] * 3)
    with CallLog(tmp_path / "calls.sqlite") as log:
        llm = LLM(provider, log=log, retry=FAST)
        with pytest.raises(LLMError, match="after 3 tries"):
            llm.complete(ask("x"), stage="plan")
        (failed,) = list(log.calls())
        assert "HTTP 500" in failed.error and log.lookup(failed.request_hash) is None
    assert llm.totals()["plan"].errors == 1


def test_concurrency_limit_is_respected():
    provider = ScriptedProvider(lambda messages: FakeReply("ok", delay=0.05))
    llm = LLM(provider, concurrency=3)

    async def many():
        await asyncio.gather(*(llm.acomplete(ask(str(i))) for i in range(9)))

    asyncio.run(many())
    events = sorted([(c["start"], 1) for c in provider.calls] + [(c["end"], -1) for c in provider.calls])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak == 3


def test_sync_complete_works_repeatedly():
    llm = LLM(ScriptedProvider(["a", "b", "c"]), concurrency=1)
    assert [llm.complete(ask(str(i))).text for i in range(3)] == ["a", "b", "c"]
