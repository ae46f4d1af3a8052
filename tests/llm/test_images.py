"""Images in messages: which models read them, their token cost, each provider's format, the call log."""

from __future__ import annotations

import json
import re

import pytest

from papercoder.llm import LLM, ScriptedProvider
from papercoder.llm.calllog import CallLog
from papercoder.llm.images import anthropic_blocks, is_vision_model, openai_message, without_image_data
from papercoder.llm.providers.anthropic_messages import _with_cache_breakpoints
from papercoder.llm.windows import cached, from_llamacpp_props, from_ollama, remember
from papercoder.tokens import image_tokens, message_tokens

IMAGE = {"label": "Figure 1: A net.", "media_type": "image/png", "data": "aGVsbG8=", "width": 1024, "height": 1024}


@pytest.mark.parametrize(
    "model, vision",
    [
        ("openai:gpt-4.1", True), ("gpt-4o-mini", True), ("openai:gpt-5", True), ("o3", True), ("openai:o4-mini", True),
        ("o1", True), ("anthropic:claude-sonnet-4-5", True), ("claude-3-5-sonnet-latest", True),
        ("claude-opus-4-1", True), ("gemini-2.5-pro", True), ("vllm:Qwen/Qwen2.5-VL-7B-Instruct", True),
        ("ollama:llava:13b", True), ("ollama:gemma3:12b", True), ("mistralai/Pixtral-12B-2409", True),
        ("meta-llama/Llama-4-Scout-17B-16E-Instruct", True),
        ("openai:o3-mini", False), ("o1-mini", False), ("gpt-3.5-turbo", False), ("gpt-4", False),
        ("deepseek-reasoner", False), ("vllm:deepseek-ai/DeepSeek-R1", False), ("ollama:qwen2.5-coder:32b", False),
        ("Qwen/QwQ-32B", False), ("local:smollm2", False), ("ollama:llama3.1", False), ("ollama:gemma3:1b", False),
    ],
)
def test_vision_by_family(model, vision):
    assert is_vision_model(model) is vision


def test_image_tokens_follow_each_providers_rule():
    assert image_tokens(1024, 1024, "openai") == 85 + 170 * 4  # 768 x 768: four 512-pixel tiles
    assert image_tokens(2048, 4096, "openai") == 85 + 170 * 6  # fitted to 1024 x 2048, then 768 x 1536: 2 x 3 tiles
    assert image_tokens(1000, 750, "anthropic") == 1001
    assert image_tokens(3136, 1568, "anthropic") == int(1568 * 784 / 750) + 1  # scaled to 1568 on the long side
    assert image_tokens(1024, 1024) == max(image_tokens(1024, 1024, "openai"), image_tokens(1024, 1024, "anthropic"))
    assert image_tokens(0, 10) == 0
    message = {"role": "user", "content": "abcd" * 10, "images": [IMAGE, IMAGE]}
    assert message_tokens(message, "openai") == 10 + 4 + 2 * 765


def test_openai_parts_carry_a_data_url_after_each_label():
    converted = openai_message({"role": "user", "content": "Look.", "images": [IMAGE]})
    assert converted == {"role": "user", "content": [
        {"type": "text", "text": "Look."},
        {"type": "text", "text": "Figure 1: A net."},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8=", "detail": "high"}},
    ]}
    plain = {"role": "user", "content": "text"}
    assert openai_message(plain) is plain


def test_anthropic_blocks_and_a_breakpoint_after_the_figures_every_turn():
    assert anthropic_blocks({"role": "user", "content": "Look.", "images": [IMAGE]})[2] == {
        "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGVsbG8="}}
    messages = [{"role": "user", "content": "figures", "images": [IMAGE, IMAGE]}, {"role": "user", "content": "plan?"},
                {"role": "assistant", "content": "plan"}, {"role": "user", "content": "design?"},
                {"role": "assistant", "content": "design"}, {"role": "user", "content": "logic?"}]
    turns = _with_cache_breakpoints(messages)
    marked = [(t, k) for t, turn in enumerate(turns) for k, block in enumerate(turn["content"]) if "cache_control" in block]
    assert (0, 4) in marked  # the last image of the figures message
    assert marked == [(0, 4), (2, 0), (3, 0)]  # then the latest turns; with the system prompt's, four in all


def test_call_log_keys_by_bytes_and_stores_digests(tmp_path):
    provider = ScriptedProvider(["one", "two"])
    with CallLog(tmp_path / "calls.sqlite") as log:
        llm = LLM(provider, log=log)
        first = llm.complete([{"role": "user", "content": "Describe.", "images": [IMAGE]}])
        again = llm.complete([{"role": "user", "content": "Describe.", "images": [IMAGE]}])
        other = llm.complete([{"role": "user", "content": "Describe.", "images": [IMAGE | {"data": "d29ybGQ="}]}])
        stored = [record.request for record in log.calls()]
    assert (first.text, again.cached, other.text) == ("one", True, "two")  # one byte changed: a new call
    assert len(provider.calls) == 2
    text = json.dumps(stored)
    assert "aGVsbG8=" not in text and "sha256" in text
    assert without_image_data({"messages": [{"role": "user", "content": "x"}]}) == {"messages": [{"role": "user", "content": "x"}]}


def test_servers_say_whether_their_model_reads_images(tmp_path):
    show = {"parameters": "num_ctx 8192", "capabilities": ["completion", "vision"]}
    assert from_ollama(show, {}, "gemma3").vision is True
    assert from_ollama({"parameters": "", "capabilities": ["completion"]}, {}, "llama3.1").vision is False
    assert from_ollama({"parameters": ""}, {}, "old").vision is None  # an Ollama before capabilities: the family decides
    props = {"default_generation_settings": {"n_ctx": 4096}, "modalities": {"vision": True}}
    assert from_llamacpp_props(props).vision is True
    assert from_llamacpp_props({"n_ctx": 4096}).vision is None
    path = tmp_path / "server-window.json"
    remember(path, "http://x/v1", "gemma3", from_ollama(show, {}, "gemma3"))
    assert cached(path, "http://x/v1", "gemma3").vision is True


def test_configured_vision_wins_and_the_embedded_model_never_reads_images():
    assert LLM(ScriptedProvider([], model="openai:o3-mini"), vision=True).accepts_images
    assert not LLM(ScriptedProvider([], model="openai:gpt-4.1"), vision=False).accepts_images
    llm = LLM(ScriptedProvider([], model="vllm:my-model"))
    assert not llm.accepts_images
    llm.server_vision = True
    assert llm.accepts_images
    text_only = ScriptedProvider([], model="openai:gpt-4.1")
    text_only.text_only = True
    assert not LLM(text_only, vision=True).accepts_images


@pytest.mark.parametrize("server", ["ollama", "llamacpp"])
def test_doctor_reports_what_a_self_hosted_server_says_of_images(server):
    from typer.testing import CliRunner

    from papercoder.cli import app
    from papercoder.testing.fake_openai import FakeOpenAIServer

    with FakeOpenAIServer(["hi"], models=("mymodel",), acts_as=server, window=32768, vision=True) as fake:
        seen = CliRunner().invoke(app, ["doctor", "-m", "mymodel", "--base-url", fake.base_url])
    with FakeOpenAIServer(["hi"], models=("gemma3",), acts_as=server, window=32768, vision=False) as fake:
        blind = CliRunner().invoke(app, ["doctor", "-m", "gemma3", "--base-url", fake.base_url])
    assert re.search(r"ok  figures +sent as images \(its server says so\)", seen.output), seen.output
    assert re.search(r"ok  figures +captions only \(its server says so\)", blind.output), blind.output
