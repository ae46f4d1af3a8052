"""The fakes' prompt cache behaves as providers' do: a prefix hits only once an earlier request
with it has finished its prefill, in whole blocks, and for Anthropic only at breakpoints."""

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from papercoder.testing import PrefixCache
from papercoder.testing.fake_openai import FakeOpenAIServer

PAPER = "x" * 4 * 3000  # 3,000 tokens


def test_a_prefix_hits_only_after_the_earlier_prefill_finished():
    cache = PrefixCache()
    cache.store(PAPER + "question one", done=10.0)
    assert cache.lookup(PAPER + "question two", now=9.0) == 0  # sent together: a miss
    hit = cache.lookup(PAPER + "question two", now=10.0)
    assert hit == 3000 // 128 * 128  # whole blocks of the shared part only


def test_short_prefixes_are_never_cached():
    cache = PrefixCache()
    cache.store("y" * 4 * 1000 + "a", done=0.0)
    assert cache.lookup("y" * 4 * 1000 + "b", now=1.0) == 0  # under 1,024 tokens


def test_breakpoints_cache_only_the_marked_prefixes():
    cache = PrefixCache()
    prompt = PAPER + "plan" + "z" * 8000
    cache.store(prompt, done=0.0, points=[len(PAPER)])
    assert cache.lookup(PAPER + "other" * 2000, now=1.0, points=[len(PAPER)]) == 3000
    assert cache.lookup(PAPER + "other", now=1.0, points=[len(PAPER) + 5]) == 0  # no write ends there


def _post(server, tail: str) -> dict:
    """One chat request over plain HTTP (threads may send these at once)."""
    body = {"model": "gpt-4.1", "messages": [{"role": "system", "content": PAPER}, {"role": "user", "content": tail}]}
    request = urllib.request.Request(server.base_url + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["usage"]["prompt_tokens_details"]["cached_tokens"]


def _together(server, tails: list[str]) -> list[int]:
    with ThreadPoolExecutor(len(tails)) as pool:
        return list(pool.map(lambda tail: _post(server, tail), tails))


def test_openai_fake_hits_after_prefill_and_misses_when_sent_together():
    with FakeOpenAIServer(lambda body: "ok", prefix_cache=PrefixCache(), prefill_tokens_per_second=50_000,
                          ttft=0.1) as server:
        cold = _together(server, ["a", "b", "c"])  # nobody's prefill had finished: all miss
        warm = [_post(server, "d"), *_together(server, ["e", "f"])]
    assert cold == [0, 0, 0]
    assert warm == [3000 // 128 * 128] * 3


def test_anthropic_fake_reads_the_system_breakpoint_after_it_was_written():
    pytest.importorskip("anthropic")
    from papercoder.config import Config
    from papercoder.llm import open_model
    from papercoder.testing.fake_anthropic import FakeAnthropicServer

    ask = lambda tail: [{"role": "system", "content": PAPER}, {"role": "user", "content": tail}]
    with FakeAnthropicServer(lambda body: "ok", prefix_cache=PrefixCache(minimum=1024)) as server:
        llm = open_model("anthropic:claude-sonnet-4-6", base_url=server.base_url, config=Config(), quiet=True)
        first, second = llm.complete(ask("one")), llm.complete(ask("two"))
    assert first.usage.cached_input_tokens == 0
    assert second.usage.cached_input_tokens >= 3000  # the system block, marked by our provider
