"""Which SDK a run preloads, decided without contacting anything."""

from __future__ import annotations

import sys

import pytest

from papercoder.llm.preload import preload_sdk, provider_of


@pytest.mark.parametrize(
    "spec, env, expected",
    [
        ("openai:gpt-4.1", {}, "openai"),
        ("anthropic:claude-sonnet-4-6", {}, "anthropic"),
        ("local:smollm2", {}, "local"),
        (None, {"OPENAI_API_KEY": "sk-x"}, "openai"),
        (None, {"ANTHROPIC_API_KEY": "k"}, "anthropic"),
        (None, {}, "local"),
        ("nonsense:::", {}, None),
    ],
)
def test_provider_of(monkeypatch, spec, env, expected):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert provider_of(spec) == expected


def test_preload_imports_in_the_background_once():
    sys.modules.pop("json.tool", None)
    from papercoder.llm import preload

    preload.SDK_MODULES["test"] = "json.tool"
    try:
        thread = preload_sdk("test")
        assert thread is not None
        thread.join(10)
        assert "json.tool" in sys.modules
        assert preload_sdk("test") is None  # already imported: nothing to do
        assert preload_sdk(None) is None and preload_sdk("unknown") is None
    finally:
        del preload.SDK_MODULES["test"]
